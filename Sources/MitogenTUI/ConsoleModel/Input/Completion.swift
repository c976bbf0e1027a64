import MitogenLib

/// Tab completion for the `:` command line: command names, connection
/// methods and their parameter names (`ChainSpec.knownMethods`,
/// `knownParameters`), theme names and function names.
package struct Completion: Sendable {
    package var themes: [String] = []
    package var functions: [String] = []

    package init(themes: [String] = [], functions: [String] = []) {
        self.themes = themes
        self.functions = functions
    }

    /// The word being typed: the text after the last space, `?`, `&`, `>` or `(`.
    static func currentWord(_ before: String) -> String {
        String(before.reversed().prefix { !" ?&>(".contains($0) }.reversed())
    }

    /// Candidates for the word at the end of `before`, sorted.
    package func candidates(_ before: String) -> [String] {
        let word = Self.currentWord(before)
        guard let space = before.firstIndex(of: " ") else {
            return ConsoleCommandName.allCases.map(\.rawValue).filter { $0.hasPrefix(word) }
        }
        let command = String(before[..<space])
        let args = String(before[before.index(after: space)...])
        switch ConsoleCommandName(rawValue: command) {
        case .open: return chainCandidates(args, word: word)
        case .theme: return themes.filter { $0.hasPrefix(word) }
        case .call:
            guard !args.contains("(") else { return [] }
            return functions.filter { $0.hasPrefix(word) }
        case .shutdown: return ["subtree"].filter { $0.hasPrefix(word) }
        default: return []
        }
    }

    /// Methods at the start of a hop, parameter names (with `=`) after `?` or `&`.
    private func chainCandidates(_ chain: String, word: String) -> [String] {
        let hop = chain.components(separatedBy: "->").last?.trimmingSpaces ?? ""
        if let q = hop.firstIndex(of: "?") {
            let head = hop[..<q]
            let method = String(head.prefix { $0 != ":" })
            let afterQ = hop[hop.index(after: q)...]
            let current = afterQ.split(separator: "&", omittingEmptySubsequences: false).last ?? ""
            guard !current.contains("=") else { return [] }
            return (ChainSpec.knownParameters[method] ?? []).filter { $0.hasPrefix(word) }.map { $0 + "=" }
        }
        guard !hop.contains(":") else { return [] }
        return ChainSpec.knownMethods.filter { $0.hasPrefix(word) }
    }
}

extension String {
    /// Splits on every occurrence of `separator` (a small stand-in for
    /// Foundation's, which this binary does not link).
    func components(separatedBy separator: String) -> [String] {
        var parts: [String] = []
        var rest = Substring(self)
        while let range = rest.firstRange(of: separator) {
            parts.append(String(rest[..<range.lowerBound]))
            rest = rest[range.upperBound...]
        }
        parts.append(String(rest))
        return parts
    }
}
