import MitogenLib

/// A plain inventory: one chain a line (host patterns allowed), under
/// optional `[group]` headers; `#` starts a comment line. Lines before any
/// header are ungrouped.
///
/// ```
/// [web]
/// ssh:deploy@web[01-20].example.com -> sudo:root
/// [db]
/// ssh:bastion -> ssh:db[1-3]
/// ```
enum ChainList {
    /// True when the first line that is not blank, a comment or a header
    /// starts with a connection method (`ssh:`, `local`, ...): Ansible host
    /// names cannot.
    static func looksLikeChains(_ text: String) -> Bool {
        for raw in text.split(separator: "\n") {
            let line = AnsibleINI.stripComment(raw)
            if line.isEmpty || line.hasPrefix("[") { continue }
            let head = line.prefix { $0 != ":" && $0 != "?" && !$0.isWhitespace && $0 != "-" }
            return ChainSpec.knownMethods.contains(String(head))
                && (head.count == line.count || [":", "?", " ", "\t", "-"].contains(line[head.endIndex]))
        }
        return false
    }

    static func parse(_ text: String, path: String) throws(InventoryError) -> MitogenInventory {
        var inventory = MitogenInventory(path: path)
        var group = "ungrouped"
        for (index, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            var line = raw
            while line.first?.isWhitespace == true { line = line.dropFirst() }
            while line.last?.isWhitespace == true { line = line.dropLast() }
            if line.isEmpty || line.hasPrefix("#") { continue }
            if line.hasPrefix("[") {
                let name = String(line.dropFirst().dropLast())
                guard line.hasSuffix("]"), AnsibleINI.isGroupName(name) else {
                    throw InventoryError(file: path, line: index + 1, message: "a group header is [NAME] (letters, digits, _ and -)")
                }
                group = name
                inventory.declare(group)
                continue
            }
            do {
                for target in try FleetSpec.expand([String(line)]) { inventory.add(target, to: group) }
            } catch {
                throw InventoryError(file: path, line: index + 1, message: error.message)
            }
        }
        return inventory
    }
}
