/// Text attributes a theme can ask for.
package struct TextAttributes: OptionSet, Hashable, Sendable {
    package let rawValue: UInt8
    package init(rawValue: UInt8) { self.rawValue = rawValue }

    package static let bold = TextAttributes(rawValue: 1)
    package static let dim = TextAttributes(rawValue: 2)
    package static let reverse = TextAttributes(rawValue: 4)
    package static let underline = TextAttributes(rawValue: 8)
    package static let italic = TextAttributes(rawValue: 16)

    static let names: [(String, TextAttributes)] = [
        ("bold", .bold), ("dim", .dim), ("reverse", .reverse), ("underline", .underline), ("italic", .italic),
    ]
}

/// One role's look as written: `FG [on BG] [attributes]`. A nil colour means
/// "not said here": it comes from the fallback role.
struct StyleSpec: Equatable, Sendable {
    var fg: ThemeColor?
    var bg: ThemeColor?
    var attributes: TextAttributes = []
}

/// A role's look at one colour depth, ready for the terminal.
package struct ResolvedStyle: Hashable, Sendable {
    /// nil: no colour (monochrome).
    package var fg: ThemeColor?
    package var bg: ThemeColor?
    package var attributes: TextAttributes
}

/// A colour theme: styles for every `Role`, per colour depth.
///
/// Built from `themes/<name>.theme` files by `ThemeParser`; `inherits`
/// chains are flattened when loading, so a `Theme` is self-contained. A role
/// that is not set falls back to `Role.fallback` and finally to `base`.
package struct Theme: Sendable {
    package var name: String
    /// Role lines without a depth suffix.
    var styles: [Role: StyleSpec] = [:]
    /// `role@DEPTH` lines: replace the plain line at exactly that depth.
    var depthStyles: [ColorDepth: [Role: StyleSpec]] = [:]

    /// A theme that sets no role yet: everything looks like the terminal's default.
    package init(name: String) { self.name = name }

    /// The style of `role` at `depth`.
    ///
    /// Looks for `role@depth`, then `role`, then the fallback roles, filling
    /// missing colours from `base`; then steps colours down to `depth`
    /// (`ThemeColor.reduced`), turning a bright colour on 8 colours into bold.
    /// At `.mono` there are no colours, only attributes.
    package func style(_ role: Role, at depth: ColorDepth) -> ResolvedStyle {
        var spec = spec(for: role, at: depth)
        var cursor = role.fallback
        while spec.fg == nil || spec.bg == nil, let r = cursor {
            let parent = self.spec(for: r, at: depth)
            spec.fg = spec.fg ?? parent.fg
            spec.bg = spec.bg ?? parent.bg
            cursor = r.fallback
        }
        let fg = (spec.fg ?? .terminalDefault).reduced(to: depth)
        let bg = (spec.bg ?? .terminalDefault).reduced(to: depth)
        var attributes = spec.attributes
        if fg.bold { attributes.insert(.bold) }
        var fgColor = fg.color
        if let f = fgColor, f != .terminalDefault, f == bg.color {
            // Two colours that differ in the file can meet after stepping
            // down (dark greys become black): keep the text readable.
            fgColor = f.isDark ? .ansi(7) : .ansi(0)
        }
        return ResolvedStyle(fg: fgColor, bg: bg.color, attributes: attributes)
    }

    private func spec(for role: Role, at depth: ColorDepth) -> StyleSpec {
        if let s = depthStyles[depth]?[role] { return s }
        if depth == .mono, depthStyles[depth]?[role] == nil, let s = styles[role] {
            return StyleSpec(fg: nil, bg: nil, attributes: s.attributes)
        }
        if let s = styles[role] { return s }
        if let f = role.fallback { return StyleSpec(fg: nil, bg: nil, attributes: spec(for: f, at: depth).attributes) }
        return StyleSpec()
    }

    /// This theme laid over `parent`: lines here win, the rest come from there.
    func inheriting(from parent: Theme) -> Theme {
        var merged = parent
        merged.name = name
        merged.styles.merge(styles) { _, mine in mine }
        for (depth, roles) in depthStyles { merged.depthStyles[depth, default: [:]].merge(roles) { _, mine in mine } }
        return merged
    }
}
