import Glibc
import MitogenCore
import MitogenSys
import Synchronization

/// Reads ssh_config(5) files for one host, as ssh does: options apply
/// until the next `Host`/`Match` line, a `Host` line's patterns (`*`, `?`,
/// `!` negation) are matched against the host as given, `Include` reads
/// other files (globs; relative to `~/.ssh` for the user's file, to
/// `/etc/ssh` for the system's) where it stands, and every option is handed
/// to ``SSHConfigSettings`` (first value wins).
///
/// `Match` blocks are out of scope: their options are skipped and a warning
/// says so. A file that does not exist adds nothing (ssh's behaviour for
/// the default files); a named `-F` file that does not exist is an error,
/// as it is for ssh.
struct SSHConfigReader {
    /// The host as given (an alias or a name), before `HostName`.
    let host: String
    /// The master user's home, for `~` in `Include`.
    let home: String
    var settings: SSHConfigSettings

    /// The `Match` lines already warned about.
    private static let warned = Mutex<Set<String>>([])
    /// ssh's include depth limit.
    private static let maxDepth = 16
    /// A config file larger than this is refused (a config is a few KiB).
    private static let maxBytes = 4 * 1024 * 1024

    /// Reads `path`; `userFile` picks `Include`'s base directory.
    mutating func read(_ path: String, userFile: Bool, required: Bool = false) throws(StreamError) {
        try read(path, userFile: userFile, required: required, depth: 0, neverMatch: false)
    }

    private mutating func read(_ path: String, userFile: Bool, required: Bool, depth: Int, neverMatch: Bool) throws(StreamError) {
        guard depth <= Self.maxDepth else { throw StreamError("ssh_config: Include nested too deeply at \(path)") }
        let bytes: [UInt8]
        do {
            bytes = try readWholeFile(path)
        } catch {
            if required || error.errno != ENOENT { throw StreamError("ssh_config: cannot read \(path): \(error)") }
            return
        }
        guard bytes.count <= Self.maxBytes else { throw StreamError("ssh_config: \(path) is larger than 4 MiB") }
        var active = true
        for (index, raw) in bytes.split(separator: 0x0a, omittingEmptySubsequences: false).enumerated() {
            let origin = "\(path) line \(index + 1)"
            guard let (keyword, args) = try Self.split(String(decoding: raw, as: UTF8.self), origin: origin) else { continue }
            switch keyword.lowercased() {
            case "host":
                active = !neverMatch && SSHPattern.matchHostLine(host, args) == .matched
            case "match":
                active = false
                // Once per line and process: a fan-out reads the file once per host.
                if Self.warned.withLock({ $0.insert(origin).inserted }) {
                    logWarning("ssh transport=libssh2: \(origin): Match blocks are not supported; their options are skipped")
                }
            case "include":
                for pattern in args {
                    for file in expandInclude(pattern, userFile: userFile) {
                        try read(file, userFile: userFile, required: false, depth: depth + 1, neverMatch: neverMatch || !active)
                    }
                }
            default:
                if active { try settings.apply(key: keyword, args: args, origin: origin) }
            }
        }
    }

    /// `Include`'s files: `~` expanded, relative paths under `~/.ssh` or
    /// `/etc/ssh`, globs expanded and sorted (glob(3) sorts).
    private func expandInclude(_ pattern: String, userFile: Bool) -> [String] {
        var path = pattern
        if path == "~" || path.hasPrefix("~/") {
            path = home + path.dropFirst()
        } else if !path.hasPrefix("/") {
            path = (userFile ? home + "/.ssh/" : "/etc/ssh/") + path
        }
        var found = glob_t()
        defer { globfree(&found) }
        guard glob(path, 0, nil, &found) == 0 else { return [] }
        return (0..<Int(found.gl_pathc)).compactMap { found.gl_pathv[$0].map { String(cString: $0) } }
    }

    /// A line's keyword and arguments, nil for a blank or comment line.
    /// `Keyword value`, `Keyword=value` and `Keyword = value` all work;
    /// arguments may be "double" or 'single' quoted; an unquoted `#` starting
    /// a word ends the line.
    static func split(_ line: String, origin: String) throws(StreamError) -> (String, [String])? {
        var words: [String] = []
        var current = ""
        var inWord = false
        var quote: Character?
        var sawEquals = false
        for c in line {
            if let q = quote {
                if c == q { quote = nil } else { current.append(c) }
                continue
            }
            // One `=` may end the keyword or stand between it and the value.
            let separatingEquals = c == "=" && !sawEquals && (words.isEmpty || (words.count == 1 && !inWord))
            if c == " " || c == "\t" || c == "\r" || separatingEquals {
                if inWord {
                    words.append(current)
                    current = ""
                    inWord = false
                }
                if c == "=" { sawEquals = true }
                continue
            }
            if c == "#", !inWord { break }
            if c == "\"" || c == "'" {
                quote = c
                inWord = true
                continue
            }
            current.append(c)
            inWord = true
        }
        guard quote == nil else { throw StreamError("\(origin): unterminated quote") }
        if inWord { words.append(current) }
        guard let keyword = words.first else { return nil }
        return (keyword, Array(words.dropFirst()))
    }
}
