import Testing

import MitogenLib
@testable import MitogenSys
@testable import MitogenWire
@testable import MitogenCore
@testable import MitogenCalls
@testable import MitogenMaster
@testable import MitogenChild

@Suite struct ChainSpecTests {
    func parseError(_ text: String) -> ChainSpecError? {
        do {
            _ = try ChainSpec.parse(text)
            return nil
        } catch {
            return error
        }
    }

    @Test func designExamples() throws {
        #expect(try ChainSpec.parse("local").hops == [Hop(method: "local")])

        let chain = try ChainSpec.parse(
            "ssh:deploy@web1:2222?identity_file=~/.ssh/k&check_host_keys=accept -> sudo:root"
        )
        #expect(chain.hops.count == 2)
        let ssh = chain.hops[0]
        #expect(ssh.method == "ssh")
        #expect(ssh.target == "deploy@web1:2222")
        #expect(ssh.user == "deploy")
        #expect(ssh.host == "web1")
        #expect(ssh.port == 2222)
        #expect(
            ssh.options == [
                HopOption(key: "identity_file", value: "~/.ssh/k"), HopOption(key: "check_host_keys", value: "accept"),
            ]
        )
        #expect(chain.hops[1] == Hop(method: "sudo", target: "root"))
        #expect(chain.hops[1].user == "root")

        let su = try ChainSpec.parse("su:app -> sudo:root?password=env:SUDO_PW")
        #expect(su.hops[0].user == "app")
        #expect(su.hops[0].password == nil)
        #expect(su.hops[1].password == .environment("SUDO_PW"))
        #expect(try ChainSpec.parse("doas:x?password=ask").hops[0].password == .ask)
    }

    @Test func targetsAndHelpers() throws {
        let hops = try ChainSpec.parse(
            "ssh:web1->ssh:[::1]:2200?username=bob -> ssh:fe80::1 ->docker:db-> kubectl:pod1?container=app"
                + " -> setns?container=c1&kind=docker -> docker?image=debian:12 -> fork"
        ).hops
        #expect(hops.map(\.method) == ["ssh", "ssh", "ssh", "docker", "kubectl", "setns", "docker", "fork"])
        #expect(hops[0].user == nil && hops[0].host == "web1" && hops[0].port == nil)
        #expect(hops[1].user == "bob" && hops[1].host == "::1" && hops[1].port == 2200)
        #expect(hops[2].host == "fe80::1" && hops[2].port == nil)
        #expect(hops[3].container == "db" && hops[3].host == nil)
        #expect(hops[4].container == "pod1" && hops[4].option("container") == "app")
        #expect(hops[5].container == "c1" && hops[5].target == nil)
        #expect(hops[6].option("image") == "debian:12")
        #expect(try ChainSpec.parse("ssh:h?port=2022").hops[0].port == 2022)
    }

    @Test func percentDecodingAndCanonicalRoundTrip() throws {
        let chain = try ChainSpec.parse("ssh:h?ssh_args=-o%20A%3Db%26c -> sudo:root?sudo_args=-H&password=env:PW")
        #expect(chain.hops[0].option("ssh_args") == "-o A=b&c")
        #expect(chain.description == "ssh:h?ssh_args=-o%20A%3Db%26c -> sudo:root?sudo_args=-H&password=env:PW")
        let texts = [
            "local", "fork -> local", "ssh:u@h:22 -> su:app?password=ask", "docker:c?python_path=/usr/bin/python3",
            "ssh:h?ssh_args=a%3Eb%25c%3F",
        ]
        for text in texts {
            let parsed = try ChainSpec.parse(text)
            #expect(parsed.description == text)
            #expect(try ChainSpec.parse(parsed.description) == parsed)
        }
        // Values with special characters survive a print-parse cycle.
        let odd = ChainSpec(hops: [Hop(method: "ssh", target: "h", options: [HopOption(key: "ssh_args", value: "-> ?&=% é\t")])])
        #expect(try ChainSpec.parse(odd.description) == odd)
        #expect(try ChainSpec.parse("  local  ->sudo  ").description == "local -> sudo")
    }

    @Test func errors() {
        let cases: [(String, Int?, String)] = [
            ("", nil, "the chain is empty; write at least one hop such as local"),
            ("local -> -> sudo", 2, "hop 2 is empty: two '->' with nothing between them, or one at an end"),
            ("sudo:root ->", 2, "hop 2 is empty: two '->' with nothing between them, or one at an end"),
            ("local -> telnet:h", 2, "hop 2 (telnet:h): unknown method \"telnet\"; known methods: local, fork, ssh, sudo, su, doas, docker, podman, buildah, kubectl, lxc, lxd, incus, jail, setns"),
            ("ssh:h?colour=red", 1, "hop 1 (ssh:h): unknown parameter \"colour\" for ssh; it accepts: username, ssh_path, ssh_args, port, check_host_keys, password, identity_file, identities_only, compression, ssh_debug_level, keepalive, transport, name, remote_name, connect_timeout, debug, profiling, unidirectional, python_path"),
            ("local -> sudo:root?port=1", 2, "hop 2 (sudo:root): unknown parameter \"port\" for sudo; it accepts: username, sudo_path, password, preserve_env, set_home, sudo_args, login, selinux_type, selinux_role, name, remote_name, connect_timeout, debug, profiling, unidirectional, python_path"),
            ("sudo:root?debug=1&debug=2", 1, "hop 1 (sudo:root): parameter \"debug\" is given twice"),
            ("sudo:root?debug", 1, "hop 1 (sudo:root): option \"debug\" needs a value: write key=value"),
            ("sudo:root?", 1, "hop 1 (sudo:root): an option is empty: nothing between '?' or '&' and the next '&' or the end"),
            ("sudo:", 1, "hop 1 (sudo:): nothing after ':'; write sudo:TARGET or leave out the ':'"),
            ("sudo:r%zz", 1, "hop 1 (sudo:r%zz): bad percent escape in the target"),
            ("local:x", 1, "hop 1 (local:x): local takes no target, but \"x\" was given"),
            ("ssh", 1, "hop 1 (ssh): ssh needs a host: ssh:[user@]host[:port]"),
            ("ssh:h:99999", 1, "hop 1 (ssh:h:99999): \"h:99999\" is not [user@]host[:port] (port 1-65535, IPv6 addresses in brackets)"),
            ("ssh:@h", 1, "hop 1 (ssh:@h): \"@h\" is not [user@]host[:port] (port 1-65535, IPv6 addresses in brackets)"),
            ("ssh:h:22?port=23", 1, "hop 1 (ssh:h:22): the port is given twice: :port and port="),
            ("ssh:h?port=http", 1, "hop 1 (ssh:h): port=http is not a port number 1-65535"),
            ("ssh:h?check_host_keys=maybe", 1, "hop 1 (ssh:h): check_host_keys= must be accept, enforce or ignore, not \"maybe\""),
            ("ssh:h?transport=putty", 1, "hop 1 (ssh:h): transport= must be openssh or libssh2, not \"putty\""),
            ("ssh:u@h?username=v", 1, "hop 1 (ssh:u@h): the user is given twice: user@ and username="),
            ("docker", 1, "hop 1 (docker): docker needs a container: docker:CONTAINER"),
            ("kubectl", 1, "hop 1 (kubectl): kubectl needs a pod: kubectl:POD"),
            ("lxc:a?container=b", 1, "hop 1 (lxc:a): the container is given twice: target and container="),
        ]
        for (text, hop, message) in cases {
            #expect(parseError(text) == ChainSpecError(hop: hop, message: message), "\(text)")
        }
    }

    @Test func literalPasswordsAreRefusedWithoutEcho() throws {
        for bad in ["hunter2", "env:", "env:1X", "env:A-B", "Ask"] {
            let error = try #require(parseError("ssh:h -> sudo:root?password=\(bad)"))
            #expect(error.hop == 2)
            #expect(error.message.hasPrefix("hop 2 (sudo:root): password= must be env:NAME"))
            #expect(!error.message.contains("hunter2"))
        }
    }

    @Test func knownParametersCoverEveryMethod() {
        #expect(Set(ChainSpec.knownParameters.keys) == Set(ChainSpec.knownMethods))
        for (method, keys) in ChainSpec.knownParameters {
            #expect(Set(keys).count == keys.count, "\(method) lists a key twice")
            #expect(keys.contains("python_path"))
        }
        #expect(ChainSpec.knownParameters["setns"]?.contains("machinectl_path") == true)
    }
}
