import Testing

import MitogenCore
import MitogenWire
@testable import MitogenMaster

private func opts(_ pairs: KeyValuePairs<String, String>) -> [HopOption] {
    pairs.map { HopOption(key: $0.key, value: $0.value) }
}

@Suite struct HopParsingTests {
    @Test func sshFromHop() throws {
        let ssh = try SSHMethod(
            hop: "deploy@web1:2222",
            options: opts([
                "identity_file": "~/.ssh/k", "check_host_keys": "accept", "ssh_args": "-o 'ProxyJump j' -A",
                "compression": "off", "identities_only": "FALSE", "ssh_debug_level": "2", "keepalive": "no",
                "keepalive_count": "5", "keepalive_interval": "7", "ssh_path": "/opt/ssh", "name": "ignored",
                "connect_timeout": "5", "password": "env:PW",
            ]),
            password: Secret("pw"))
        #expect(
            ssh
                == SSHMethod(
                    hostname: "web1", username: "deploy", sshPath: "/opt/ssh", sshArgs: ["-o", "ProxyJump j", "-A"],
                    port: 2222, checkHostKeys: .accept, password: Secret("pw"), identityFile: "~/.ssh/k",
                    identitiesOnly: false, compression: false, sshDebugLevel: 2, keepaliveEnabled: false,
                    keepaliveCount: 5, keepaliveInterval: 7))
        #expect(try SSHMethod(hop: "[::1]:22", options: []).hostname == "::1")
        #expect(try SSHMethod(hop: "h", options: opts(["username": "u", "port": "2200"])).port == 2200)
        #expect(try SSHMethod(hop: "h", options: opts(["keepalive_enabled": "false"])).keepaliveEnabled == false)
    }

    @Test(arguments: [
        (nil, [HopOption](), "ssh: needs a host: ssh:[user@]host[:port]"),
        ("a b", [], "ssh: \"a b\" is not [user@]host[:port] (port 1-65535, IPv6 addresses in brackets)"),
        ("u@h", [HopOption(key: "username", value: "v")], "ssh: the user is given twice: user@ and username="),
        ("h:22", [HopOption(key: "port", value: "23")], "ssh: the port is given twice: :port and port="),
        ("h", [HopOption(key: "port", value: "abc")], "ssh: port=abc is not a whole number"),
        ("h", [HopOption(key: "port", value: "70000")], "ssh: port=70000 is out of range 0-65535"),
        ("h", [HopOption(key: "compression", value: "maybe")], "ssh: compression=maybe is not a boolean (use true or false)"),
        ("h", [HopOption(key: "check_host_keys", value: "bogus")], "check_host_keys= must be set to accept, enforce or ignore"),
        ("h", [HopOption(key: "ssh_args", value: "-o 'x")], "ssh: ssh_args= is not a list of shell words: No closing quotation"),
        ("h", [HopOption(key: "ssh_debug_level", value: "-1")], "ssh: ssh_debug_level=-1 is out of range 0-2147483647"),
        ("h", [HopOption(key: "compression", value: "1"), HopOption(key: "compression", value: "0")],
            "ssh: parameter \"compression\" is given twice"),
        ("h", [HopOption(key: "keepalive", value: "1"), HopOption(key: "keepalive_enabled", value: "0")],
            "ssh: keepalive= and keepalive_enabled= are the same parameter; give one"),
    ] as [(String?, [HopOption], String)])
    func sshErrors(_ target: String?, _ options: [HopOption], _ message: String) {
        #expect(throws: StreamError(message)) { try SSHMethod(hop: target, options: options) }
    }

    @Test func unknownParameterNamesTheAcceptedOnes() {
        #expect(
            throws: StreamError(
                "lxc: unknown parameter \"image\"; it accepts: container, lxc_attach_path")
        ) { try LXCMethod(hop: "c", options: opts(["image": "x"])) }
        // `password` is known only to the methods that type one.
        #expect(throws: StreamError.self) { try DockerMethod(hop: "c", options: opts(["password": "ask"])) }
        #expect(throws: StreamError.self) { try SpawnedMethods.method(named: "nope", target: nil, options: []) }
    }

    @Test func sudoFromHop() throws {
        let sudo = try SudoMethod(
            hop: nil, options: opts(["username": "app", "sudo_args": "-H -E --role=r", "selinux_type": "t"]),
            password: Secret("pw"))
        #expect(
            sudo
                == (try SudoMethod(
                    username: "app", password: Secret("pw"), preserveEnv: true, setHome: true, selinuxRole: "r",
                    selinuxType: "t")))
        #expect(throws: StreamError("sudo: no such option: -s")) { try SudoMethod(hop: "root", options: opts(["sudo_args": "-s"])) }
        #expect(throws: StreamError("sudo: the user is given twice: as the target and as username=")) {
            try SudoMethod(hop: "root", options: opts(["username": "x"]))
        }
        // Explicit parameters beat sudo_args, as in Mitogen.
        #expect(try SudoMethod(hop: nil, options: opts(["sudo_args": "-E", "preserve_env": "false"])).preserveEnv == false)
        #expect(try SudoMethod(hop: nil, options: [], password: Secret("")).password == nil)
    }

    @Test func containerHops() throws {
        #expect(try DockerMethod(hop: nil, options: opts(["image": "alpine"])) == DockerMethod(image: "alpine"))
        #expect(throws: StreamError("docker: one of container= or image= must be given")) { try DockerMethod(hop: nil, options: []) }
        #expect(throws: StreamError("docker: the container is given twice: as the target and as container=")) {
            try DockerMethod(hop: "a", options: opts(["container": "b"]))
        }
        #expect(try KubectlMethod(hop: nil, options: opts(["pod": "p", "kubectl_args": "--context 'my ctx'"])).kubectlArgs == ["--context", "my ctx"])
        #expect(throws: StreamError("kubectl: needs a pod: kubectl:POD")) { try KubectlMethod(hop: nil, options: []) }
        #expect(throws: StreamError("setns: needs kind= (docker, lxc, lxd or machinectl)")) { try SetnsMethod(hop: "c", options: []) }
        #expect(throws: StreamError("unsupported container kind: 'vm'")) { try SetnsMethod(hop: "c", options: opts(["kind": "vm"])) }
        #expect(throws: StreamError("jail: needs a jail: jail:NAME")) { try JailMethod(hop: nil, options: []) }
        #expect(try SuMethod(hop: nil, options: opts(["incorrect_prompts": "'su: nope' 'bad pw'"])).incorrectPrompts == ["su: nope", "bad pw"])
        #expect(throws: StreamError("su: password_prompt= must not be empty")) { try SuMethod(hop: nil, options: opts(["password_prompt": ""])) }
    }

    /// Every method rebuilds from its own hopTarget/hopOptions, and the hop
    /// text never carries the password.
    @Test func roundTrip() throws {
        let methods: [any SpawnedMethod] = [
            SSHMethod(hostname: "h"),
            SSHMethod(
                hostname: "fe80::1", username: "d@x", sshPath: "/s", sshArgs: ["-o", "A b", "", "it's"], port: 2222,
                checkHostKeys: .ignore, password: Secret("pw"), identityFile: "/k", identitiesOnly: false,
                compression: false, sshDebugLevel: 3, keepaliveEnabled: false, keepaliveCount: 1, keepaliveInterval: 2),
            SSHMethod(hostname: "h", port: 0),
            try SudoMethod(),
            try SudoMethod(
                username: "app", sudoPath: "/s", password: Secret("pw"), preserveEnv: true, setHome: true, login: true,
                selinuxRole: "r", selinuxType: "t"),
            SuMethod(),
            SuMethod(username: "a", password: Secret("pw"), suPath: "/su", passwordPrompt: "Passwort:", incorrectPrompts: ["x y", "z"]),
            SuMethod(incorrectPrompts: []),
            DoasMethod(username: "a", password: Secret("pw"), doasPath: "/d", passwordPrompt: "P:", incorrectPrompts: ["n"]),
            try DockerMethod(container: "c", username: "u", dockerPath: "/d"),
            try DockerMethod(image: "i"),
            PodmanMethod(container: "c", username: "u", podmanPath: "/p"),
            BuildahMethod(container: "c", username: "u", buildahPath: "/b"),
            KubectlMethod(pod: "p", kubectlPath: "/k", kubectlArgs: ["-n", "x y"], container: "c"),
            LXCMethod(container: "c", lxcAttachPath: "/l"),
            LXDMethod(container: "c", lxcPath: "/l"),
            IncusMethod(container: "c", incusPath: "/i"),
            JailMethod(container: "c", username: "u", jexecPath: "/j"),
            SetnsMethod(
                container: "c", kind: .machinectl, username: "u", dockerPath: "/d", lxcPath: "/l", lxcInfoPath: "/li",
                machinectlPath: "/m"),
        ]
        for method in methods {
            let rebuilt = try SpawnedMethods.method(
                named: method.methodName, target: method.hopTarget, options: method.hopOptions, password: method.password)
            #expect(rebuilt.description == method.description)
            #expect(try rebuilt.command(stageArgv: stageArgv, stageCommand: stageCommand)
                == method.command(stageArgv: stageArgv, stageCommand: stageCommand), "\(method)")
            #expect(rebuilt.defaultName(pid: 1) == method.defaultName(pid: 1))
            #expect(rebuilt.password == method.password)
            #expect(rebuilt.promptDialect == method.promptDialect)
            #expect(!method.hopOptions.contains { $0.key == "password" })
        }
    }
}

@Suite struct SudoArgumentsTests {
    @Test(arguments: [
        (["-s"], "sudo: no such option: -s"),
        (["x"], "unsupported sudo arguments:['x']"),
        (["-u"], "sudo: -u option requires 1 argument"),
        (["--login=yes"], "sudo: --login option does not take a value"),
        (["--s"], "sudo: ambiguous option: --s (--set-home, --stdin?)"),
        (["--nope"], "sudo: no such option: --nope"),
        (["-h"], "sudo: unsupported option"),
        (["--help"], "sudo: unsupported option"),
        (["--he"], "sudo: unsupported option"),
        (["-E", "--", "-H"], "unsupported sudo arguments:['-H']"),
        (["a", "-E", "b"], "unsupported sudo arguments:['a', 'b']"),
        (["--us"], "sudo: --user option requires 1 argument"),
        (["-Es"], "sudo: no such option: -s"),
        (["-"], "unsupported sudo arguments:['-']"),
        (["-r"], "sudo: -r option requires 1 argument"),
        (["--type"], "sudo: --type option requires 1 argument"),
        (["--=x"],
            "sudo: ambiguous option: -- (--help, --login, --non-interactive, --preserve-env, --role, --set-home, --stdin, --type, --user?)"),
    ])
    func errors(_ args: [String], _ message: String) {
        #expect(throws: StreamError(message)) { try SudoArguments.parse(args) }
    }

    @Test(arguments: [
        (["-u", "-E"], SudoArguments(user: "-E")),
        (["--user="], SudoArguments(user: "")),
        (["-Eubob"], SudoArguments(preserveEnv: true, user: "bob")),
        (["-Eu", "bob"], SudoArguments(preserveEnv: true, user: "bob")),
        (["--no", "-S"], SudoArguments()),
        (["-i", "--role", "r", "-tT"], SudoArguments(login: true, role: "r", type: "T")),
    ])
    func parses(_ args: [String], _ expected: SudoArguments) throws {
        #expect(try SudoArguments.parse(args) == expected)
    }
}
