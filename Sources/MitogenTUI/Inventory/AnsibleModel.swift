import MitogenLib

/// What the INI and YAML readers collect before hosts become chains:
/// groups with their variables, hosts and children, and each host's own
/// variables and line. `resolve` applies Ansible's precedence (all, then
/// groups from shallow to deep, then the host) and maps the variables to hops.
struct AnsibleModel {
    struct Group {
        var hosts: [String] = []
        var children: [String] = []
        var vars: [String: String] = [:]
    }
    struct Host {
        var vars: [String: String] = [:]
        var line: Int?
    }

    let path: String
    var groupOrder: [String] = ["all"]
    var groups: [String: Group] = ["all": Group()]
    var hostOrder: [String] = []
    var hosts: [String: Host] = [:]

    init(path: String) { self.path = path }

    mutating func declare(_ group: String) {
        if groups[group] == nil {
            groups[group] = Group()
            groupOrder.append(group)
        }
    }

    /// Adds the hosts a name stands for (Ansible ranges `web[01:20]`
    /// expanded) to `group`, with their own variables.
    mutating func addHosts(_ pattern: String, vars: [String: String], group: String, line: Int?) throws(InventoryError) {
        declare(group)
        for name in try Self.expandRanges(pattern, path: path, line: line) {
            if hosts[name] == nil {
                hosts[name] = Host(line: line)
                hostOrder.append(name)
            }
            hosts[name]?.vars.merge(vars) { $1 }
            if groups[group]?.hosts.contains(name) != true { groups[group]?.hosts.append(name) }
        }
    }

    mutating func addChild(_ child: String, to group: String) {
        declare(group)
        declare(child)
        if groups[group]?.children.contains(child) != true { groups[group]?.children.append(child) }
    }

    /// Ansible's `[01:20]` (and `[1:9]`) ranges, as host patterns.
    static func expandRanges(_ name: String, path: String, line: Int?) throws(InventoryError) -> [String] {
        guard name.contains("[") else { return [name] }
        var pattern = ""
        var inBracket = false
        for c in name {
            switch c {
            case "[": inBracket = true
            case "]": inBracket = false
            case ":" where inBracket:
                pattern.append("-")
                continue
            default: break
            }
            pattern.append(c)
        }
        do {
            return try HostPattern.expand(pattern)
        } catch {
            throw InventoryError(file: path, line: line, message: "host \"\(name)\": \(error)")
        }
    }

    /// The inventory: every host's chain from its merged variables.
    func resolve() throws(InventoryError) -> MitogenInventory {
        var inventory = MitogenInventory(path: path)
        // Depth of each group below `all`, for the order its variables apply.
        var depth: [String: Int] = ["all": 0]
        var parents: [String: [String]] = [:]
        for name in groupOrder { for child in groups[name]?.children ?? [] { parents[child, default: []].append(name) } }
        func depthOf(_ name: String, _ seen: Set<String>) throws(InventoryError) -> Int {
            if let d = depth[name] { return d }
            guard !seen.contains(name) else {
                throw InventoryError(file: path, line: nil, message: "group \"\(name)\" is its own descendant")
            }
            var d = 1
            for parent in parents[name] ?? [] { d = max(d, try depthOf(parent, seen.union([name])) + 1) }
            depth[name] = d
            return d
        }
        for name in groupOrder { _ = try depthOf(name, []) }
        var memberOf: [String: [String]] = [:]
        for name in groupOrder { for host in groups[name]?.hosts ?? [] { memberOf[host, default: []].append(name) } }

        for name in groupOrder where name != "all" {
            inventory.declare(name)
            for child in groups[name]?.children ?? [] { inventory.addChild(child, to: name) }
        }
        for name in hostOrder {
            guard let host = hosts[name] else { continue }
            var vars = groups["all"]?.vars ?? [:]
            // The host's groups and their ancestors, shallow to deep: a child group's variables win.
            var lineage = Set<String>()
            var stack = memberOf[name] ?? []
            while let group = stack.popLast() {
                if lineage.insert(group).inserted { stack += parents[group] ?? [] }
            }
            let own = lineage.sorted { (depth[$0] ?? 0, $0) < (depth[$1] ?? 0, $1) }
            for group in own { vars.merge(groups[group]?.vars ?? [:]) { $1 } }
            vars.merge(host.vars) { $1 }
            let chain = try InventoryVariables.chain(host: name, vars: vars, path: path, line: host.line)
            let target = FleetTarget(label: name, chain: chain)
            let groupsOfHost = (memberOf[name] ?? []).filter { $0 != "all" }
            for group in groupsOfHost { inventory.add(target, to: group) }
            if groupsOfHost.isEmpty { inventory.add(target, to: "ungrouped") }
        }
        return inventory
    }
}

/// Ansible's connection variables, as the hops of a chain.
enum InventoryVariables {
    /// `ssh:[user@]host[:port]?identity_file=...` (or `local`), then a become
    /// hop when `ansible_become` is true; `mitogen_via` (a chain) goes first.
    static func chain(host: String, vars: [String: String], path: String, line: Int?) throws(InventoryError) -> ChainSpec {
        func fail(_ message: String) -> InventoryError {
            InventoryError(file: path, line: line, message: "host \"\(host)\": \(message)")
        }
        var hops: [Hop] = []
        if let via = vars["mitogen_via"] {
            do {
                hops = try ChainSpec.parse(via).hops
            } catch {
                throw fail("mitogen_via: \(error)")
            }
        }
        let connection = vars["ansible_connection"] ?? "ssh"
        switch connection {
        case "local":
            hops.append(Hop(method: "local"))
        case "ssh", "smart", "paramiko", "mitogen_ssh":
            var address = vars["ansible_host"] ?? vars["ansible_ssh_host"] ?? host
            if address.contains(":") { address = "[\(address)]" }
            var target = address
            if let user = vars["ansible_user"] ?? vars["ansible_ssh_user"] { target = user + "@" + target }
            if let port = vars["ansible_port"] ?? vars["ansible_ssh_port"] {
                guard let n = Int(port), (1...65535).contains(n) else { throw fail("ansible_port=\(port) is not a port number 1-65535") }
                target += ":\(n)"
            }
            var options: [HopOption] = []
            if let key = vars["ansible_ssh_private_key_file"] ?? vars["ansible_private_key_file"] {
                options.append(HopOption(key: "identity_file", value: key))
            }
            if let checking = vars["ansible_host_key_checking"] ?? vars["ansible_ssh_host_key_checking"] {
                guard let on = flag(checking) else { throw fail("ansible_host_key_checking=\(checking) is not a boolean") }
                options.append(HopOption(key: "check_host_keys", value: on ? "enforce" : "ignore"))
            }
            let args = [vars["ansible_ssh_common_args"], vars["ansible_ssh_extra_args"]].compactMap { $0 }
            if !args.isEmpty { options.append(HopOption(key: "ssh_args", value: args.joined(separator: " "))) }
            hops.append(Hop(method: "ssh", target: target, options: options))
        default:
            throw fail("ansible_connection=\(connection) is not supported (ssh or local)")
        }
        if let become = vars["ansible_become"] ?? vars["become"] {
            guard let on = flag(become) else { throw fail("ansible_become=\(become) is not a boolean") }
            if on {
                let method = vars["ansible_become_method"] ?? "sudo"
                guard ["sudo", "su", "doas"].contains(method) else {
                    throw fail("ansible_become_method=\(method) is not supported (sudo, su or doas)")
                }
                hops.append(Hop(method: method, target: vars["ansible_become_user"] ?? "root"))
            }
        }
        // Round-trip through the parser: it validates what the variables made.
        do {
            return try ChainSpec.parse(ChainSpec(hops: hops).description)
        } catch {
            throw fail(error.message)
        }
    }

    /// Ansible's booleans.
    static func flag(_ text: String) -> Bool? {
        switch text.lowercased() {
        case "1", "true", "yes", "on", "y", "t": true
        case "0", "false", "no", "off", "n", "f": false
        default: nil
        }
    }
}
