import Testing

@testable import MitogenMaster

@Suite struct FleetSpecTests {
    private func texts(_ targets: [FleetTarget]) -> [String] { targets.map { "\($0.label)=\($0.chain)" } }

    @Test func patternsInAnyHopExpandToTheirProduct() throws {
        let targets = try FleetSpec.expand(["ssh:deploy@web[01-02].example.com:2222?check_host_keys=ignore -> sudo:{root,app}"])
        // Both hops held a pattern, so both name the target.
        let chains = [
            "ssh:deploy@web01.example.com:2222?check_host_keys=ignore -> sudo:root",
            "ssh:deploy@web01.example.com:2222?check_host_keys=ignore -> sudo:app",
            "ssh:deploy@web02.example.com:2222?check_host_keys=ignore -> sudo:root",
            "ssh:deploy@web02.example.com:2222?check_host_keys=ignore -> sudo:app",
        ]
        let labels = ["web01.example.com -> root", "web01.example.com -> app", "web02.example.com -> root", "web02.example.com -> app"]
        #expect(texts(targets) == zip(labels, chains).map { "\($0)=\($1)" })
        let hosts = try FleetSpec.expand(["ssh:deploy@web[01-02].example.com:2222 -> sudo:root"])
        #expect(hosts.map(\.label) == ["web01.example.com", "web02.example.com"])
        let db = try FleetSpec.expand(["ssh:bastion -> ssh:db[1-3]", "local"])
        #expect(texts(db) == ["db1=ssh:bastion -> ssh:db1", "db2=ssh:bastion -> ssh:db2", "db3=ssh:bastion -> ssh:db3", "local=local"])
        // Without a pattern, the last ssh hop's host names the target.
        let plain = try FleetSpec.expand(["ssh:bastion -> ssh:u@db9:2222 -> sudo:root", "ssh:web[1-2] -> sudo:root", "docker:box"])
        #expect(plain.map(\.label) == ["db9", "web1", "web2", "docker:box"])
        // Options are never expanded; percent escapes stay literal.
        let literal = try FleetSpec.expand(["ssh:h%5B1-2%5D?ssh_args=-o%20X=[1-2]"])
        #expect(literal.count == 1 && literal[0].chain.hops[0].target == "h[1-2]")
    }

    @Test func groupsExpandWhereAChainIsAccepted() throws {
        let web = [FleetTarget(label: "w1", chain: try ChainSpec.parse("ssh:10.0.0.1")),
                   FleetTarget(label: "w2", chain: try ChainSpec.parse("ssh:10.0.0.2"))]
        let groups: (String) -> [FleetTarget]? = { $0 == "web" ? web : $0 == "none" ? [] : nil }
        #expect(texts(try FleetSpec.expand(["@web"], groups: groups)) == ["w1=ssh:10.0.0.1", "w2=ssh:10.0.0.2"])
        #expect(texts(try FleetSpec.expand(["@web -> sudo:root"], groups: groups))
            == ["w1=ssh:10.0.0.1 -> sudo:root", "w2=ssh:10.0.0.2 -> sudo:root"])
        // The same label twice: both fall back to their chains.
        #expect(texts(try FleetSpec.expand(["@web -> sudo:root", "@web"], groups: groups)).first
            == "ssh:10.0.0.1 -> sudo:root=ssh:10.0.0.1 -> sudo:root")
        #expect(throws: FleetSpecError(text: "@nope", message: "no group named \"nope\"")) {
            try FleetSpec.expand(["@nope"], groups: groups)
        }
        #expect(throws: FleetSpecError(text: "@none", message: "group \"none\" has no hosts")) {
            try FleetSpec.expand(["@none"], groups: groups)
        }
    }

    @Test func errorsNameTheHopAndColumn() {
        #expect(throws: FleetSpecError(text: "ssh:a -> ssh:db[1-", hop: 2, message: "hop 2 (ssh:db[1-): column 6: the range starting at 1 has no end")) {
            try FleetSpec.expand(["ssh:a -> ssh:db[1-"])
        }
        #expect(throws: FleetSpecError(text: "ssh:a -> bogus:x[1-2]", hop: 2, message: "hop 2 (bogus:x1): unknown method \"bogus\"; known methods: local, fork, ssh, sudo, su, doas, docker, podman, buildah, kubectl, lxc, lxd, incus, jail, setns")) {
            try FleetSpec.expand(["ssh:a -> bogus:x[1-2]"])
        }
        #expect(throws: FleetSpecError(text: "ssh:n[1-100] -> sudo:u[1-100]", message: "the chain expands to more than 5000 targets")) {
            try FleetSpec.expand(["ssh:n[1-100] -> sudo:u[1-100]"], limit: 5000)
        }
    }

    @Test func treeSharesPrefixes() throws {
        let targets = try FleetSpec.expand(["ssh:bastion -> ssh:db[1-3]", "ssh:bastion", "ssh:bastion -> ssh:db2 -> sudo:root", "local"])
        let tree = FleetTree(targets: targets)
        #expect(tree.nodes.map(\.hop.description) == ["ssh:bastion", "ssh:db1", "ssh:db2", "ssh:db3", "sudo:root", "local"])
        #expect(tree.roots == [0, 5])
        #expect(tree.nodes[0].children == [1, 2, 3])
        #expect(tree.nodes[0].targets == [3])
        #expect(tree.nodes[2].children == [4])
        #expect(tree.nodes[4].depth == 2)
        #expect(tree.endNode == [1, 2, 3, 0, 4, 5])
        #expect(tree.targets(under: 0) == [0, 1, 2, 3, 4])
    }
}
