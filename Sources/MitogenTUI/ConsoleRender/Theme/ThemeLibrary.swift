import Glibc
import MitogenSys

/// Finds and loads themes by name, following `inherits` chains.
///
/// Searches, in order: `$MITOGEN_TUI_THEMES`, `themes/` next to the source
/// tree of the running binary (`<exe>/../../../themes` for a `.build/debug`
/// build), `<exe>/../share/mitogen-tui/themes`, and `./themes`. The
/// `default` theme is compiled in too (`BuiltinTheme.text`, kept equal to
/// `themes/default.theme` by a test), so start-up never fails on a theme.
package struct ThemeLibrary: Sendable {
    var directories: [String]

    /// The standard search path for the running executable.
    package static func standard() -> ThemeLibrary {
        var dirs: [String] = []
        if let env = environmentValue("MITOGEN_TUI_THEMES") { dirs.append(env) }
        if let exe = executableDirectory() {
            dirs.append(exe + "/../../themes")
            dirs.append(exe + "/../../../themes")
            dirs.append(exe + "/../share/mitogen-tui/themes")
        }
        dirs.append("themes")
        return ThemeLibrary(directories: dirs)
    }

    /// Names of the themes found on the search path (plus `default`), sorted.
    package func names() -> [String] {
        var found: Set<String> = ["default"]
        for dir in directories {
            guard let d = opendir(dir) else { continue }
            defer { closedir(d) }
            while let entry = readdir(d) {
                let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                    String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
                }
                if name.hasSuffix(".theme") { found.insert(String(name.dropLast(6))) }
            }
        }
        return found.sorted()
    }

    /// Loads theme `name` with everything it inherits.
    /// - Returns: the theme and the problems found (bad lines are skipped).
    /// - Throws: `ThemeError` if `name` (or a theme it inherits) does not
    ///   exist, or the chain of `inherits` loops.
    package func load(_ name: String) throws(ThemeError) -> (Theme, [ThemeError]) {
        var chain: [ThemeFile] = []
        var errors: [ThemeError] = []
        var seen: Set<String> = []
        var next: String? = name
        while let current = next {
            guard seen.insert(current).inserted else {
                throw ThemeError(file: current + ".theme", line: 0, message: "inherits loops back to '\(current)'")
            }
            let (file, problems) = try loadFile(current)
            chain.append(file)
            errors += problems
            next = file.inherits
            if next == nil && current != "default" { next = "default" }
        }
        var theme = chain.removeLast().theme
        for file in chain.reversed() { theme = file.theme.inheriting(from: theme) }
        return (theme, errors)
    }

    private func loadFile(_ name: String) throws(ThemeError) -> (ThemeFile, [ThemeError]) {
        guard !name.contains("/") else {
            throw ThemeError(file: name, line: 0, message: "a theme name cannot contain '/'")
        }
        for dir in directories {
            let path = dir + "/" + name + ".theme"
            if let text = readTextFile(path) {
                return ThemeParser.parse(text, file: path, defaultName: name)
            }
        }
        if name == "default" { return ThemeParser.parse(BuiltinTheme.text, file: "(built-in default)", defaultName: name) }
        throw ThemeError(
            file: name + ".theme", line: 0,
            message: "no such theme; looked in \(directories.joined(separator: ", ")) (themes: \(names().joined(separator: ", ")))")
    }
}

/// The directory of the running executable, from /proc/self/exe.
func executableDirectory() -> String? {
    guard let path = ownExecutablePath(), let slash = path.lastIndex(of: "/") else { return nil }
    return String(path[..<slash])
}

/// The whole file as UTF-8 text, or nil if it cannot be opened or read.
func readTextFile(_ path: String) -> String? {
    (try? readWholeFile(path)).map { String(decoding: $0, as: UTF8.self) }
}
