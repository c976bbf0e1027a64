import Yams

/// Ansible's YAML inventory: top-level groups (usually `all`), each a
/// mapping with `hosts` (name -> variables or null), `vars` and `children`
/// (name -> group). Scalars are read as text (`22`, `true`, `"a b"`).
enum AnsibleYAML {
    /// The most nodes visited, so aliases that multiply cannot make work without end.
    static let maximumNodes = 500_000

    static func parse(_ text: String, path: String) throws(InventoryError) -> MitogenInventory {
        let root: Node?
        do {
            root = try Yams.compose(yaml: text)
        } catch let error as YamlError {
            throw InventoryError(file: path, line: line(of: error), message: message(of: error))
        } catch {
            throw InventoryError(file: path, line: nil, message: "\(error)")
        }
        var reader = Reader(model: AnsibleModel(path: path))
        guard let root else { return try reader.model.resolve() }
        guard let top = root.mapping else { throw reader.fail(root, "the top level must map group names to groups, e.g. all:") }
        for (key, value) in top {
            let name = try reader.name(key, "group")
            try reader.group(name, value)
        }
        return try reader.model.resolve()
    }

    private struct Reader {
        var model: AnsibleModel
        var visited = 0

        func fail(_ node: Node, _ message: String) -> InventoryError {
            InventoryError(file: model.path, line: node.mark?.line, message: message)
        }

        mutating func count(_ node: Node) throws(InventoryError) {
            visited += 1
            guard visited <= AnsibleYAML.maximumNodes else { throw fail(node, "more than \(AnsibleYAML.maximumNodes) nodes") }
        }

        func name(_ node: Node, _ what: String) throws(InventoryError) -> String {
            guard let text = node.scalar?.string, !text.isEmpty else { throw fail(node, "a \(what) name must be text") }
            return text
        }

        mutating func group(_ name: String, _ node: Node) throws(InventoryError) {
            try count(node)
            guard AnsibleINI.isGroupName(name) else { throw fail(node, "\"\(name)\" is not a group name (letters, digits, _ and -)") }
            model.declare(name)
            if isNull(node) { return }
            guard let mapping = node.mapping else { throw fail(node, "group \"\(name)\" must be a mapping of hosts, vars and children") }
            for (key, value) in mapping {
                try count(value)
                switch key.scalar?.string {
                case "hosts":
                    guard !isNull(value) else { continue }
                    guard let hosts = value.mapping else { throw fail(value, "\(name).hosts must map host names to variables") }
                    for (hostKey, hostValue) in hosts {
                        let host = try self.name(hostKey, "host")
                        let vars = try variables(hostValue, "host \"\(host)\"")
                        try model.addHosts(host, vars: vars, group: name, line: hostKey.mark?.line)
                    }
                case "vars":
                    let vars = try variables(value, "\(name).vars")
                    model.groups[name]?.vars.merge(vars) { $1 }
                case "children":
                    guard !isNull(value) else { continue }
                    guard let children = value.mapping else { throw fail(value, "\(name).children must map group names to groups") }
                    for (childKey, childValue) in children {
                        let child = try self.name(childKey, "group")
                        model.addChild(child, to: name)
                        try group(child, childValue)
                    }
                default:
                    throw fail(key, "unknown key \"\(key.scalar?.string ?? "?")\" in group \"\(name)\"; use hosts, vars or children")
                }
            }
        }

        mutating func variables(_ node: Node, _ owner: String) throws(InventoryError) -> [String: String] {
            guard !isNull(node) else { return [:] }
            guard let mapping = node.mapping else { throw fail(node, "the variables of \(owner) must be a mapping") }
            var vars: [String: String] = [:]
            for (key, value) in mapping {
                try count(value)
                guard let k = key.scalar?.string, let v = value.scalar?.string else {
                    throw fail(value, "variable \(key.scalar?.string ?? "?") of \(owner) must be a plain value")
                }
                vars[k] = v
            }
            return vars
        }

        /// A null scalar (`~`, `null` or nothing), as YAML 1.1 reads it plain.
        func isNull(_ node: Node) -> Bool {
            guard let scalar = node.scalar, scalar.style == .plain || scalar.string.isEmpty else { return false }
            return ["", "~", "null", "Null", "NULL"].contains(scalar.string)
        }
    }

    private static func line(of error: YamlError) -> Int? {
        switch error {
        case .scanner(_, _, let mark, _), .parser(_, _, let mark, _), .composer(_, _, let mark, _): mark.line
        case .duplicatedKeysInMapping(_, let context): context.mark.line
        default: nil
        }
    }

    private static func message(of error: YamlError) -> String {
        switch error {
        case .scanner(let context, let problem, _, _), .parser(let context, let problem, _, _),
            .composer(let context, let problem, _, _):
            "YAML: " + problem + (context.map { " (\($0.text))" } ?? "")
        case .duplicatedKeysInMapping(let duplicates, _): "YAML: duplicate keys \(duplicates.joined(separator: ", "))"
        default: "YAML: \(error)"
        }
    }
}
