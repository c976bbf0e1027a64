/// Ansible's INI inventory: `[group]` sections of `name key=value ...`
/// lines, `[group:vars]` of `key=value`, `[group:children]` of group names;
/// hosts before any section are ungrouped. `#` and `;` start comments.
enum AnsibleINI {
    private enum Section {
        case hosts(String)
        case vars(String)
        case children(String)
    }

    static func parse(_ text: String, path: String) throws(InventoryError) -> MitogenInventory {
        var model = AnsibleModel(path: path)
        var section = Section.hosts("ungrouped")
        for (index, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = index + 1
            func fail(_ message: String) -> InventoryError { InventoryError(file: path, line: line, message: message) }
            let content = stripComment(raw)
            guard !content.isEmpty else { continue }
            if content.hasPrefix("[") {
                guard content.hasSuffix("]") else { throw fail("a section header must end with ']'") }
                let header = content.dropFirst().dropLast()
                let parts = header.split(separator: ":", omittingEmptySubsequences: false)
                let name = String(parts[0])
                guard isGroupName(name) else { throw fail("\"\(name)\" is not a group name (letters, digits, _ and -)") }
                switch parts.count == 2 ? String(parts[1]) : parts.count == 1 ? nil : "?" {
                case nil: section = .hosts(name)
                case "vars": section = .vars(name)
                case "children": section = .children(name)
                case let other?: throw fail("unknown section kind \"\(other)\"; use [\(name)], [\(name):vars] or [\(name):children]")
                }
                model.declare(name)
                continue
            }
            let words: [String]
            do {
                words = try splitWords(content)
            } catch {
                throw fail(error.message)
            }
            switch section {
            case .hosts(let group):
                var vars: [String: String] = [:]
                for word in words.dropFirst() {
                    guard let eq = word.firstIndex(of: "="), eq != word.startIndex else {
                        throw fail("\"\(word)\" is not key=value")
                    }
                    vars[String(word[..<eq])] = String(word[word.index(after: eq)...])
                }
                var name = words[0]
                // `host:2222` is Ansible's port shorthand.
                if let colon = name.lastIndex(of: ":"), name.filter({ $0 == ":" }).count == 1,
                    let port = Int(name[name.index(after: colon)...])
                {
                    vars["ansible_port"] = vars["ansible_port"] ?? String(port)
                    name = String(name[..<colon])
                }
                try model.addHosts(name, vars: vars, group: group, line: line)
            case .vars(let group):
                guard words.count == 1, let eq = words[0].firstIndex(of: "="), eq != words[0].startIndex else {
                    throw fail("a [\(group):vars] line must be key=value")
                }
                model.groups[group]?.vars[String(words[0][..<eq])] = String(words[0][words[0].index(after: eq)...])
            case .children(let group):
                guard words.count == 1, isGroupName(words[0]) else {
                    throw fail("a [\(group):children] line must be one group name")
                }
                model.addChild(words[0], to: group)
            }
        }
        return try model.resolve()
    }

    static func isGroupName(_ name: String) -> Bool {
        !name.isEmpty && name.unicodeScalars.allSatisfy { $0 == "_" || $0 == "-" || $0.properties.isAlphabetic || ("0"..."9").contains($0) }
    }

    /// The line without a comment (`#`/`;` at its start, ` #` inside) and
    /// surrounding blanks.
    static func stripComment(_ raw: Substring) -> Substring {
        var s = raw
        while s.first?.isWhitespace == true { s = s.dropFirst() }
        if s.hasPrefix("#") || s.hasPrefix(";") { return "" }
        var quote: Character?
        var previous: Character = " "
        for i in s.indices {
            let c = s[i]
            if let q = quote {
                if c == q { quote = nil }
            } else if c == "'" || c == "\"" {
                quote = c
            } else if c == "#", previous.isWhitespace {
                s = s[..<i]
                break
            }
            previous = c
        }
        while s.last?.isWhitespace == true { s = s.dropLast() }
        return s
    }

    struct WordError: Error { var message: String }

    /// Blank-separated words; quotes group and are removed (`key="a b"`).
    static func splitWords(_ text: Substring) throws(WordError) -> [String] {
        var words: [String] = []
        var current = ""
        var inWord = false
        var quote: Character?
        for c in text {
            if let q = quote {
                if c == q { quote = nil } else { current.append(c) }
            } else if c == "'" || c == "\"" {
                quote = c
                inWord = true
            } else if c.isWhitespace {
                if inWord { words.append(current) }
                current = ""
                inWord = false
            } else {
                current.append(c)
                inWord = true
            }
        }
        if quote != nil { throw WordError(message: "a quote is never closed") }
        if inWord { words.append(current) }
        return words
    }
}
