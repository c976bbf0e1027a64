/// OpenSSH's host patterns (ssh_config(5) "PATTERNS", OpenSSH's match.c):
/// `*` matches any run of characters, `?` exactly one, everything else
/// itself; no classes, no escapes.
enum SSHPattern {
    /// Whether all of `text` matches `pattern` (byte-wise, case-sensitive).
    static func matches(_ text: some StringProtocol, _ pattern: some StringProtocol) -> Bool {
        let s = Array(text.utf8)
        let p = Array(pattern.utf8)
        var i = 0
        var j = 0
        // The last `*` seen and where in `s` it began matching: on a
        // mismatch it takes one more character and the rest is retried.
        var star: Int?
        var resume = 0
        while i < s.count {
            if j < p.count, p[j] == UInt8(ascii: "*") {
                star = j
                resume = i
                j += 1
            } else if j < p.count, p[j] == UInt8(ascii: "?") || p[j] == s[i] {
                i += 1
                j += 1
            } else if let star {
                j = star + 1
                resume += 1
                i = resume
            } else {
                return false
            }
        }
        while j < p.count, p[j] == UInt8(ascii: "*") { j += 1 }
        return j == p.count
    }

    /// The outcome of a pattern list against a name.
    enum ListMatch: Equatable {
        /// No entry matched.
        case none
        /// A positive entry matched and no negated one did.
        case matched
        /// A `!` entry matched: the list refuses the name whatever else matches.
        case negated
    }

    /// A known_hosts host field: comma-separated patterns, each may start
    /// with `!`, compared case-insensitively (OpenSSH's `match_hostname`).
    static func matchHostList(_ name: String, _ list: some StringProtocol) -> ListMatch {
        let host = name.lowercased()
        var result = ListMatch.none
        for entry in list.split(separator: ",", omittingEmptySubsequences: false) {
            let negated = entry.first == "!"
            let pattern = (negated ? entry.dropFirst() : entry[...]).lowercased()
            guard matches(host, pattern) else { continue }
            if negated { return .negated }
            result = .matched
        }
        return result
    }

    /// A `Host` line's words (ssh_config): each a pattern, `!` negates,
    /// compared case-sensitively with the host as given, as ssh does.
    static func matchHostLine(_ host: String, _ words: [String]) -> ListMatch {
        var result = ListMatch.none
        for word in words {
            let negated = word.hasPrefix("!")
            guard matches(host, negated ? word.dropFirst() : word[...]) else { continue }
            if negated { return .negated }
            result = .matched
        }
        return result
    }
}
