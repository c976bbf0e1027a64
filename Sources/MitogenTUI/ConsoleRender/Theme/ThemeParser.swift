import ConsoleModel

/// A problem in a theme file, naming the file and line.
package struct ThemeError: Error, Equatable, Sendable, CustomStringConvertible {
    package var file: String
    package var line: Int
    package var message: String
    package var description: String { line > 0 ? "\(file):\(line): \(message)" : "\(file): \(message)" }
}

/// What a theme file says before inheritance is applied.
struct ThemeFile: Sendable {
    var theme: Theme
    /// The `inherits = NAME` header, if any.
    var inherits: String?
}

/// Parses the `themes/<name>.theme` format (notes/tui-anchors.md §2):
///
/// ```
/// # comment (a `#` at the start of a line, or followed by a space)
/// name = default
/// inherits = default
/// state.failed = bright-red bold
/// selection = black on cyan
/// selection@mono = reverse
/// ```
///
/// A role line is `role[@DEPTH] = FG [on BG] [bold|dim|reverse|underline|italic]...`
/// where DEPTH is `truecolor`, `256`, `16`, `8` or `mono`, and a colour is
/// `default`, an ANSI name, `bright-NAME`, `colorN` or `#rrggbb`. `FG` may be
/// left out (`on blue bold`); a line of attributes only keeps the colours of
/// the fallback role.
enum ThemeParser {
    /// Parses `text`. Bad lines are skipped and reported; the rest is used.
    /// - Parameter file: the name to put in errors.
    /// - Returns: the file's theme and every problem found, by line.
    static func parse(_ text: String, file: String, defaultName: String) -> (ThemeFile, [ThemeError]) {
        var theme = Theme(name: defaultName)
        var inherits: String?
        var errors: [ThemeError] = []
        for (index, rawLine) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let lineNumber = index + 1
            let trimmed = stripComment(rawLine).trimmingSpaces
            if trimmed.isEmpty { continue }
            guard let eq = trimmed.firstIndex(of: "=") else {
                errors.append(ThemeError(file: file, line: lineNumber, message: "expected 'role = style', got '\(trimmed)'"))
                continue
            }
            let key = trimmed[..<eq].trimmingSpaces
            let value = trimmed[trimmed.index(after: eq)...].trimmingSpaces
            switch key {
            case "name": theme.name = value
            case "inherits": inherits = value
            default:
                do {
                    let (role, depth) = try parseKey(key)
                    let spec = try parseStyle(value)
                    if let depth { theme.depthStyles[depth, default: [:]][role] = spec } else { theme.styles[role] = spec }
                } catch let message as ThemeLineError {
                    errors.append(ThemeError(file: file, line: lineNumber, message: message.text))
                } catch {
                    errors.append(ThemeError(file: file, line: lineNumber, message: "\(error)"))
                }
            }
        }
        return (ThemeFile(theme: theme, inherits: inherits), errors)
    }

    private struct ThemeLineError: Error { var text: String }

    /// The line without its comment: a `#` that starts the line or is
    /// followed by a space or the end of the line. `#rrggbb` is a colour.
    static func stripComment(_ line: Substring) -> Substring {
        var index = line.startIndex
        var onlySpaceBefore = true
        while index < line.endIndex {
            let c = line[index]
            if c == "#" {
                let next = line.index(after: index)
                if onlySpaceBefore || next == line.endIndex || line[next] == " " || line[next] == "\t" {
                    return line[..<index]
                }
            }
            if c != " " && c != "\t" { onlySpaceBefore = false }
            index = line.index(after: index)
        }
        return line
    }

    private static func parseKey(_ key: String) throws -> (Role, ColorDepth?) {
        let parts = key.split(separator: "@", maxSplits: 1).map(String.init)
        guard let role = Role(rawValue: parts[0]) else {
            throw ThemeLineError(text: "unknown role '\(parts[0])' (known: \(Role.allCases.map(\.rawValue).joined(separator: ", ")))")
        }
        guard parts.count == 2 else { return (role, nil) }
        guard let depth = ColorDepth.allCases.first(where: { $0.description == parts[1] }) else {
            throw ThemeLineError(text: "unknown colour depth '@\(parts[1])' (use @truecolor, @256, @16, @8 or @mono)")
        }
        return (role, depth)
    }

    private static func parseStyle(_ value: String) throws -> StyleSpec {
        var spec = StyleSpec()
        var words = value.split(separator: " ").map { String($0).lowercased() }[...]
        if let first = words.first, TextAttributes.names.first(where: { $0.0 == first }) == nil, first != "on" {
            guard let color = ThemeColor.parse(first) else { throw ThemeLineError(text: "unknown colour '\(first)'") }
            spec.fg = color
            words = words.dropFirst()
        }
        if words.first == "on" {
            words = words.dropFirst()
            guard let token = words.first else { throw ThemeLineError(text: "'on' must be followed by a colour") }
            guard let color = ThemeColor.parse(token) else { throw ThemeLineError(text: "unknown colour '\(token)'") }
            spec.bg = color
            words = words.dropFirst()
        }
        for word in words {
            guard let attr = TextAttributes.names.first(where: { $0.0 == word })?.1 else {
                throw ThemeLineError(text: "unknown attribute '\(word)' (use bold, dim, reverse, underline, italic)")
            }
            spec.attributes.insert(attr)
        }
        return spec
    }
}
