import Testing

import Inventory
import MitogenLib

@Suite struct InventoryTests {
    func chains(_ inventory: MitogenInventory, _ group: String) -> [String] {
        (inventory.targets(group: group) ?? []).map { "\($0.label)=\($0.chain)" }
    }

    @Test func ansibleINIGroupsChildrenAndVariables() throws {
        let ini = """
            # comment
            lone ansible_host=10.0.0.9
            [web]
            web[01:03] ansible_user=deploy
            web09:2222 ansible_ssh_private_key_file=/k/id
            [web:vars]
            ansible_port=22
            ansible_host_key_checking=false
            [db]
            db1 ansible_host=fe80::1 ansible_become=yes ansible_become_user=postgres
            db2 ansible_connection=local ansible_become=true ansible_become_method=doas  # trailing comment
            [prod:children]
            web
            db
            [prod:vars]
            ansible_user=ops
            ansible_port=2200
            """
        let inventory = try MitogenInventory.parse(ini, path: "hosts.ini")
        #expect(inventory.groupNames == ["all", "ungrouped", "web", "db", "prod"])
        #expect(chains(inventory, "web") == [
            "web01=ssh:deploy@web01:22?check_host_keys=ignore", "web02=ssh:deploy@web02:22?check_host_keys=ignore",
            "web03=ssh:deploy@web03:22?check_host_keys=ignore",
            // The host's own port beats its group's; the deeper group's user beats prod's.
            "web09=ssh:ops@web09:2222?identity_file=/k/id&check_host_keys=ignore",
        ])
        #expect(chains(inventory, "db") == ["db1=ssh:ops@[fe80::1]:2200 -> sudo:postgres", "db2=local -> doas:root"])
        #expect(chains(inventory, "prod").count == 6)
        #expect(chains(inventory, "ungrouped") == ["lone=ssh:10.0.0.9"])
        #expect(chains(inventory, "all").count == 7)
        #expect(inventory.targets(group: "nope") == nil)
    }

    @Test func ansibleYAMLGroupsChildrenAndVariables() throws {
        let yaml = """
            all:
              vars:
                ansible_user: ops
              hosts:
                lone:
                  ansible_host: 10.0.0.9
              children:
                web:
                  hosts:
                    web[1:2]:
                  vars:
                    ansible_port: 2222
                db:
                  hosts:
                    db1: {ansible_become: true, ansible_become_user: "postgres"}
                  children:
                    replica:
                      hosts:
                        db9: ~
            """
        let inventory = try MitogenInventory.parse(yaml, path: "hosts.yml")
        #expect(chains(inventory, "web") == ["web1=ssh:ops@web1:2222", "web2=ssh:ops@web2:2222"])
        #expect(chains(inventory, "db") == ["db1=ssh:ops@db1 -> sudo:postgres", "db9=ssh:ops@db9"])
        #expect(chains(inventory, "all").map { $0.prefix(4) } == ["lone", "web1", "web2", "db1=", "db9="])
    }

    @Test func chainListsWithGroups() throws {
        let text = """
            local
            [db]
            ssh:bastion -> ssh:db[1-2]?check_host_keys=accept
            """
        let inventory = try MitogenInventory.parse(text, path: "chains")
        #expect(chains(inventory, "db") == ["db1=ssh:bastion -> ssh:db1?check_host_keys=accept", "db2=ssh:bastion -> ssh:db2?check_host_keys=accept"])
        #expect(chains(inventory, "ungrouped") == ["local=local"])
    }

    @Test func malformedInventoriesNameFileLineAndProblem() {
        func error(_ text: String, _ path: String) -> String {
            do {
                _ = try MitogenInventory.parse(text, path: path)
                return "no error"
            } catch { return error.description }
        }
        #expect(error("[web\nh1", "i.ini") == "i.ini:1: a section header must end with ']'")
        #expect(error("[web]\nh1 port", "i.ini") == "i.ini:2: \"port\" is not key=value")
        #expect(error("[web:stuff]", "i.ini") == "i.ini:1: unknown section kind \"stuff\"; use [web], [web:vars] or [web:children]")
        #expect(error("[web]\n\nh[1:", "i.ini") == "i.ini:3: host \"h[1:\": column 5: the range starting at 1 has no end")
        #expect(error("[web]\nh1 ansible_port=99999", "i.ini") == "i.ini:2: host \"h1\": ansible_port=99999 is not a port number 1-65535")
        #expect(error("[web]\nh1 a=\"x", "i.ini") == "i.ini:2: a quote is never closed")
        #expect(error("all:\n  hosts:\n    h1:\n  bogus: 1\n", "i.yml") == "i.yml:4: unknown key \"bogus\" in group \"all\"; use hosts, vars or children")
        #expect(error("all:\n  hosts: [a, b]\n", "i.yml") == "i.yml:2: all.hosts must map host names to variables")
        #expect(error("all:\n  hosts:\n    h1: {a: [1]}\n", "i.yml") == "i.yml:3: variable a of host \"h1\" must be a plain value")
        #expect(error("all:\n  hosts:\n  - x\n   y: : :\n", "i.yml").hasPrefix("i.yml:"))
        #expect(error("ssh:a\n[db]\nssh:b[2-1]", "c") == "c:3: hop 1 (ssh:b[2-1]): column 3: the range 2-1 runs backwards")
        #expect(error("local\n[d b]", "c") == "c:2: a group header is [NAME] (letters, digits, _ and -)")
    }
}
