import MitogenLib
import ConsoleModel

/// A run of text with one role.
package struct Span: Equatable, Sendable {
    package var text: String
    package var role: Role
    init(_ text: String, _ role: Role = .base) {
        self.text = text
        self.role = role
    }
}

/// One screen row: spans laid left to right, exactly `width` columns once
/// `fitted(to:)` has run. Renderers build these; `Terminal` draws them.
package struct Line: Equatable, Sendable {
    package var spans: [Span] = []

    init(_ spans: [Span] = []) { self.spans = spans }
    init(_ text: String, _ role: Role = .base) { spans = [Span(text, role)] }

    /// The plain text, for tests and the benchmark.
    var text: String { spans.map(\.text).joined() }

    mutating func append(_ text: String, _ role: Role = .base) { spans.append(Span(text, role)) }

    /// The line cut or padded with spaces (in `padRole`, or the last span's
    /// role) to exactly `width` columns. A wide character that would straddle
    /// the edge is replaced by a space.
    func fitted(to width: Int, padRole: Role? = nil) -> Line {
        var out = Line()
        var used = 0
        for span in spans where used < width {
            let (cut, w) = TextWidth.prefix(span.text, columns: width - used)
            if !cut.isEmpty { out.spans.append(Span(cut, span.role)) }
            used += w
        }
        if used < width {
            out.spans.append(Span(String(repeating: " ", count: width - used), padRole ?? spans.last?.role ?? .base))
        }
        return out
    }

    /// All spans re-tagged with `role` (for a selected row).
    func recoloured(_ role: Role) -> Line { Line(spans.map { Span($0.text, role) }) }
}
