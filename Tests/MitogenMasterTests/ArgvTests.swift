import Testing

import MitogenCore
import MitogenWire
@testable import MitogenMaster

/// The first stage as the methods receive it (a stand-in script "S").
let stageArgv = ["/bin/sh", "-c", "S", "mitogen-stage1"]
let stageCommand = "/bin/sh -c 'S' mitogen-stage1"
/// What `sudo -i` gets instead of `stageArgv` (SudoMethod, "Login").
let loginBoot = ["/bin/sh", "-c", "eval \"`printf 'exec /bin/sh -c S mitogen-stage1'`\""]

/// One method with the argv and default name Mitogen 0.3.54 gives it.
struct Case: CustomTestStringConvertible, Sendable {
    let method: any SpawnedMethod
    let argv: [String]
    let name: String
    init(_ method: any SpawnedMethod, _ argv: [String], _ name: String) {
        self.method = method
        self.argv = argv
        self.name = name
    }
    var testDescription: String { method.description }
}

/// Expected values come from Mitogen 0.3.54's own `Connection.get_boot_command()`
/// and `_get_name()` with the boot argv `["/bin/sh", "-c", "S", "mitogen-stage1"]`;
/// for ssh and su the boot words are replaced by our `stageCommand` (see
/// SSHMethod and SuMethod), for setns Mitogen's own join is kept.
@Suite struct ArgvTests {
    static let cases: [Case] = {
        do {
            return [
                Case(SSHMethod(hostname: "h"), ["ssh", "-o", "LogLevel ERROR", "-o", "Compression yes", "-o", "ServerAliveInterval 15", "-o", "ServerAliveCountMax 3", "-o", "BatchMode yes", "-o", "StrictHostKeyChecking yes", "h"] + [stageCommand], "ssh.h"),
                Case(SSHMethod(hostname: "h", username: "u"), ["ssh", "-o", "LogLevel ERROR", "-l", "u", "-o", "Compression yes", "-o", "ServerAliveInterval 15", "-o", "ServerAliveCountMax 3", "-o", "BatchMode yes", "-o", "StrictHostKeyChecking yes", "h"] + [stageCommand], "ssh.h"),
                Case(SSHMethod(hostname: "h", port: 2222), ["ssh", "-o", "LogLevel ERROR", "-p", "2222", "-o", "Compression yes", "-o", "ServerAliveInterval 15", "-o", "ServerAliveCountMax 3", "-o", "BatchMode yes", "-o", "StrictHostKeyChecking yes", "h"] + [stageCommand], "ssh.h:2222"),
                Case(SSHMethod(hostname: "h", port: 22), ["ssh", "-o", "LogLevel ERROR", "-p", "22", "-o", "Compression yes", "-o", "ServerAliveInterval 15", "-o", "ServerAliveCountMax 3", "-o", "BatchMode yes", "-o", "StrictHostKeyChecking yes", "h"] + [stageCommand], "ssh.h"),
                Case(SSHMethod(hostname: "h", checkHostKeys: .accept), ["ssh", "-o", "LogLevel ERROR", "-o", "Compression yes", "-o", "ServerAliveInterval 15", "-o", "ServerAliveCountMax 3", "-o", "StrictHostKeyChecking ask", "h"] + [stageCommand], "ssh.h"),
                Case(SSHMethod(hostname: "h", checkHostKeys: .ignore), ["ssh", "-o", "LogLevel ERROR", "-o", "Compression yes", "-o", "ServerAliveInterval 15", "-o", "ServerAliveCountMax 3", "-o", "BatchMode yes", "-o", "StrictHostKeyChecking no", "-o", "UserKnownHostsFile /dev/null", "-o", "GlobalKnownHostsFile /dev/null", "h"] + [stageCommand], "ssh.h"),
                Case(SSHMethod(hostname: "h", password: Secret("pw")), ["ssh", "-o", "LogLevel ERROR", "-o", "IdentitiesOnly yes", "-o", "Compression yes", "-o", "ServerAliveInterval 15", "-o", "ServerAliveCountMax 3", "-o", "StrictHostKeyChecking yes", "h"] + [stageCommand], "ssh.h"),
                Case(SSHMethod(hostname: "h", identityFile: "/k"), ["ssh", "-o", "LogLevel ERROR", "-o", "IdentitiesOnly yes", "-i", "/k", "-o", "Compression yes", "-o", "ServerAliveInterval 15", "-o", "ServerAliveCountMax 3", "-o", "BatchMode yes", "-o", "StrictHostKeyChecking yes", "h"] + [stageCommand], "ssh.h"),
                Case(SSHMethod(hostname: "h", identityFile: "/k", identitiesOnly: false), ["ssh", "-o", "LogLevel ERROR", "-i", "/k", "-o", "Compression yes", "-o", "ServerAliveInterval 15", "-o", "ServerAliveCountMax 3", "-o", "BatchMode yes", "-o", "StrictHostKeyChecking yes", "h"] + [stageCommand], "ssh.h"),
                Case(SSHMethod(hostname: "h", compression: false), ["ssh", "-o", "LogLevel ERROR", "-o", "ServerAliveInterval 15", "-o", "ServerAliveCountMax 3", "-o", "BatchMode yes", "-o", "StrictHostKeyChecking yes", "h"] + [stageCommand], "ssh.h"),
                Case(SSHMethod(hostname: "h", sshArgs: ["-o", "ProxyJump j", "-A"]), ["ssh", "-o", "LogLevel ERROR", "-o", "Compression yes", "-o", "ServerAliveInterval 15", "-o", "ServerAliveCountMax 3", "-o", "BatchMode yes", "-o", "StrictHostKeyChecking yes", "-o", "ProxyJump j", "-A", "h"] + [stageCommand], "ssh.h"),
                Case(SSHMethod(hostname: "h", sshDebugLevel: 2), ["ssh", "-vv", "-o", "Compression yes", "-o", "ServerAliveInterval 15", "-o", "ServerAliveCountMax 3", "-o", "BatchMode yes", "-o", "StrictHostKeyChecking yes", "h"] + [stageCommand], "ssh.h"),
                Case(SSHMethod(hostname: "h", sshDebugLevel: 5), ["ssh", "-vvv", "-o", "Compression yes", "-o", "ServerAliveInterval 15", "-o", "ServerAliveCountMax 3", "-o", "BatchMode yes", "-o", "StrictHostKeyChecking yes", "h"] + [stageCommand], "ssh.h"),
                Case(SSHMethod(hostname: "h", sshPath: "/opt/ssh"), ["/opt/ssh", "-o", "LogLevel ERROR", "-o", "Compression yes", "-o", "ServerAliveInterval 15", "-o", "ServerAliveCountMax 3", "-o", "BatchMode yes", "-o", "StrictHostKeyChecking yes", "h"] + [stageCommand], "ssh.h"),
                Case(SSHMethod(hostname: "h", keepaliveEnabled: false), ["ssh", "-o", "LogLevel ERROR", "-o", "Compression yes", "-o", "BatchMode yes", "-o", "StrictHostKeyChecking yes", "h"] + [stageCommand], "ssh.h"),
                Case(SSHMethod(hostname: "h", keepaliveCount: 9, keepaliveInterval: 30), ["ssh", "-o", "LogLevel ERROR", "-o", "Compression yes", "-o", "ServerAliveInterval 30", "-o", "ServerAliveCountMax 9", "-o", "BatchMode yes", "-o", "StrictHostKeyChecking yes", "h"] + [stageCommand], "ssh.h"),
                Case(SSHMethod(hostname: "h", username: "u", sshArgs: ["-4"], port: 2200, checkHostKeys: .accept, password: Secret("pw"), identityFile: "/k", sshDebugLevel: 1), ["ssh", "-v", "-l", "u", "-p", "2200", "-o", "IdentitiesOnly yes", "-i", "/k", "-o", "Compression yes", "-o", "ServerAliveInterval 15", "-o", "ServerAliveCountMax 3", "-o", "StrictHostKeyChecking ask", "-4", "h"] + [stageCommand], "ssh.h:2200"),
                Case(try SudoMethod(), ["sudo", "-p", "mitogen-sudo-prompt:", "-u", "root", "--"] + stageArgv, "sudo.root"),
                Case(try SudoMethod(username: "app"), ["sudo", "-p", "mitogen-sudo-prompt:", "-u", "app", "--"] + stageArgv, "sudo.app"),
                Case(try SudoMethod(sudoPath: "/usr/local/bin/sudo"), ["/usr/local/bin/sudo", "-p", "mitogen-sudo-prompt:", "-u", "root", "--"] + stageArgv, "sudo.root"),
                Case(try SudoMethod(preserveEnv: true), ["sudo", "-p", "mitogen-sudo-prompt:", "-u", "root", "-E", "--"] + stageArgv, "sudo.root"),
                Case(try SudoMethod(setHome: true), ["sudo", "-p", "mitogen-sudo-prompt:", "-u", "root", "-H", "--"] + stageArgv, "sudo.root"),
                Case(try SudoMethod(login: true), ["sudo", "-p", "mitogen-sudo-prompt:", "-u", "root", "-i", "--"] + loginBoot, "sudo.root"),
                Case(try SudoMethod(selinuxRole: "r", selinuxType: "t"), ["sudo", "-p", "mitogen-sudo-prompt:", "-u", "root", "-r", "r", "-t", "t", "--"] + stageArgv, "sudo.root"),
                Case(try SudoMethod(sudoArgs: ["-u", "bob", "-H", "-E", "-i", "-S", "-n"]), ["sudo", "-p", "mitogen-sudo-prompt:", "-u", "bob", "-E", "-H", "-i", "--"] + loginBoot, "sudo.bob"),
                Case(try SudoMethod(sudoArgs: ["-EH", "-ubob"]), ["sudo", "-p", "mitogen-sudo-prompt:", "-u", "bob", "-E", "-H", "--"] + stageArgv, "sudo.bob"),
                Case(try SudoMethod(sudoArgs: ["--user=bob", "--set-home", "--preserve-env", "--login", "--role", "r", "--type=t"]), ["sudo", "-p", "mitogen-sudo-prompt:", "-u", "bob", "-E", "-H", "-i", "-r", "r", "-t", "t", "--"] + loginBoot, "sudo.bob"),
                Case(try SudoMethod(sudoArgs: ["--pre", "--set"]), ["sudo", "-p", "mitogen-sudo-prompt:", "-u", "root", "-E", "-H", "--"] + stageArgv, "sudo.root"),
                Case(try SudoMethod(username: "carol", sudoArgs: ["-u", "bob"]), ["sudo", "-p", "mitogen-sudo-prompt:", "-u", "carol", "--"] + stageArgv, "sudo.carol"),
                Case(try SudoMethod(preserveEnv: false, sudoArgs: ["-E"]), ["sudo", "-p", "mitogen-sudo-prompt:", "-u", "root", "--"] + stageArgv, "sudo.root"),
                Case(SuMethod(), ["su", "root", "-c"] + [stageCommand], "su.root"),
                Case(SuMethod(username: "app", suPath: "/bin/su"), ["/bin/su", "app", "-c"] + [stageCommand], "su.app"),
                Case(DoasMethod(), ["doas", "-u", "root", "--"] + stageArgv, "doas.root"),
                Case(DoasMethod(username: "app", doasPath: "/usr/bin/doas"), ["/usr/bin/doas", "-u", "app", "--"] + stageArgv, "doas.app"),
                Case(try DockerMethod(container: "c"), ["docker", "exec", "--interactive", "c"] + stageArgv, "docker.c"),
                Case(try DockerMethod(image: "img"), ["docker", "run", "--interactive", "--rm", "img"] + stageArgv, "docker.img"),
                Case(try DockerMethod(container: "c", username: "u", dockerPath: "/d"), ["/d", "exec", "--interactive", "--user=u", "c"] + stageArgv, "docker.c"),
                Case(try DockerMethod(image: "img", username: "u"), ["docker", "run", "--interactive", "--user=u", "--rm", "img"] + stageArgv, "docker.img"),
                Case(PodmanMethod(container: "c"), ["podman", "exec", "--interactive", "--", "c"] + stageArgv, "podman.c"),
                Case(PodmanMethod(container: "c", username: "u", podmanPath: "/p"), ["/p", "exec", "--user=u", "--interactive", "--", "c"] + stageArgv, "podman.c"),
                Case(BuildahMethod(container: "c"), ["buildah", "run", "--", "c"] + stageArgv, "buildah.c"),
                Case(BuildahMethod(container: "c", username: "u", buildahPath: "/b"), ["/b", "run", "--user=u", "--", "c"] + stageArgv, "buildah.c"),
                Case(KubectlMethod(pod: "p"), ["kubectl", "exec", "-it", "p", "--"] + stageArgv, "kubectl.p[]"),
                Case(KubectlMethod(pod: "p", kubectlPath: "/k", kubectlArgs: ["--context", "prod", "it's"]), ["/k", "--context", "prod", "it's", "exec", "-it", "p", "--"] + stageArgv, "kubectl.p['--context', 'prod', \"it's\"]"),
                Case(LXCMethod(container: "c"), ["lxc-attach", "--clear-env", "--name", "c", "--"] + stageArgv, "lxc.c"),
                Case(LXCMethod(container: "c", lxcAttachPath: "/la"), ["/la", "--clear-env", "--name", "c", "--"] + stageArgv, "lxc.c"),
                Case(LXDMethod(container: "c"), ["lxc", "exec", "--mode=noninteractive", "c", "--"] + stageArgv, "lxd.c"),
                Case(LXDMethod(container: "c", lxcPath: "/l"), ["/l", "exec", "--mode=noninteractive", "c", "--"] + stageArgv, "lxd.c"),
                Case(IncusMethod(container: "c"), ["incus", "exec", "--mode=non-interactive", "c", "--"] + stageArgv, "incus.c"),
                Case(IncusMethod(container: "c", incusPath: "/i"), ["/i", "exec", "--mode=non-interactive", "c", "--"] + stageArgv, "incus.c"),
                Case(JailMethod(container: "c"), ["/usr/sbin/jexec", "c"] + stageArgv, "jail.c"),
                Case(JailMethod(container: "c", username: "u", jexecPath: "/j"), ["/j", "-U", "u", "c"] + stageArgv, "jail.c"),
                Case(SetnsMethod(container: "c", kind: .docker), ["/bin/sh", "-c", "/bin/sh -c S mitogen-stage1; exit $?"], "setns.c"),
            ]
        } catch {
            fatalError("a method in the table did not build: \(error)")
        }
    }()

    @Test(arguments: cases)
    func argvAndName(_ c: Case) throws {
        #expect(try c.method.command(stageArgv: stageArgv, stageCommand: stageCommand) == c.argv)
        #expect(c.method.defaultName(pid: 42) == c.name)
    }

    @Test func sudoNoncePrompt() throws {
        var sudo = try SudoMethod(username: "app")
        sudo.promptNonce = "a1B2c3"
        #expect(
            try sudo.command(stageArgv: stageArgv, stageCommand: stageCommand)
                == ["sudo", "-p", "mitogen-sudo-prompt-a1B2c3:", "-u", "app", "--"] + stageArgv)
        #expect(sudo.promptDialect == .sudo(prompt: "mitogen-sudo-prompt-a1B2c3:"))
        for bad in ["", "a%b", "has space", String(repeating: "x", count: 65), "é"] {
            sudo.promptNonce = bad
            #expect(throws: StreamError.self) { try sudo.command(stageArgv: stageArgv, stageCommand: stageCommand) }
        }
    }

    @Test func sudoLoginPassesADollarFreeCommand() throws {
        let sudo = try SudoMethod(login: true)
        let argv = try sudo.command(stageArgv: ["/bin/sh", "-c", "echo \"$HOME\"\nexit", "mitogen-stage1"], stageCommand: "")
        #expect(argv.prefix(7) == ["sudo", "-p", "mitogen-sudo-prompt:", "-u", "root", "-i", "--"])
        #expect(argv.count == 10)
        #expect(argv[7...8] == ["/bin/sh", "-c"])
        #expect(
            argv[9]
                == "eval \"`printf 'exec /bin/sh -c \\047echo \\042\\044HOME\\042\\012exit\\047 mitogen-stage1'`\"")
        #expect(!argv[9].contains("$") && !argv[9].contains("\n"))
    }

    @Test func kubectlContainer() {
        let k = KubectlMethod(pod: "web-1", kubectlArgs: ["-n", "prod"], container: "app")
        #expect(
            (try? k.command(stageArgv: stageArgv, stageCommand: stageCommand))
                == ["kubectl", "-n", "prod", "exec", "-it", "web-1", "-c", "app", "--"] + stageArgv)
        #expect(k.defaultName(pid: 1) == "kubectl.web-1['-n', 'prod']")
    }

    @Test func setnsRefusesBang() {
        let s = SetnsMethod(container: "c", kind: .lxc)
        #expect(throws: StreamError.self) {
            try s.command(stageArgv: ["/bin/sh", "-c", "a!b", "x"], stageCommand: "")
        }
        #expect(
            (try? s.command(stageArgv: ["/bin/sh", "-c", "echo \"$x\" `y`", "x"], stageCommand: ""))
                == ["/bin/sh", "-c", "/bin/sh -c \"echo \\\"\\$x\\\" \\`y\\`\" x; exit $?"])
    }

    @Test func dockerNeedsContainerOrImage() {
        #expect(throws: StreamError("docker: one of container= or image= must be given")) { try DockerMethod() }
        #expect(throws: StreamError.self) { try DockerMethod(container: "", image: "") }
    }

    @Test func sshEdgeValues() throws {
        // Mitogen: empty username and identity file are ignored, port 0 still passed.
        let ssh = SSHMethod(hostname: "h", username: "", sshPath: "", port: 0, identityFile: "")
        let argv = try ssh.command(stageArgv: stageArgv, stageCommand: stageCommand)
        #expect(argv.first == "ssh")
        #expect(!argv.contains("-l") && !argv.contains("-i") && !argv.contains("IdentitiesOnly yes"))
        #expect(argv.contains("-p") && argv.contains("0"))
        #expect(ssh.defaultName(pid: 1) == "ssh.h")
        let empty = SSHMethod(hostname: "h", password: Secret(""))
        #expect(empty.stdio == .hybridPTY)
        #expect(try !empty.command(stageArgv: [], stageCommand: "x").contains("IdentitiesOnly yes"))
        #expect(try SSHMethod(hostname: "h", sshDebugLevel: -1).command(stageArgv: [], stageCommand: "x")[1...2] == ["-o", "LogLevel ERROR"])
        #expect(throws: StreamError(SSHMethod.HostKeyPolicy.invalidMessage)) { try SSHMethod.HostKeyPolicy(parsing: "bogus") }
        #expect(SSHMethod.HostKeyPolicy.invalidMessage == "check_host_keys= must be set to accept, enforce or ignore")
    }

    @Test func stdioAndCompression() throws {
        let table: [(any SpawnedMethod, MethodStdio, Bool)] = [
            (SSHMethod(hostname: "h"), .pipes, true),
            (SSHMethod(hostname: "h", password: Secret("p")), .hybridPTY, true),
            (SSHMethod(hostname: "h", checkHostKeys: .accept), .hybridPTY, true),
            (SSHMethod(hostname: "h", checkHostKeys: .ignore), .pipes, true),
            (try SudoMethod(), .hybridPTY, false),
            (SuMethod(), .fullPTY, false),
            (DoasMethod(), .hybridPTY, false),
            (try DockerMethod(container: "c"), .mergedStderr, false),
            (PodmanMethod(container: "c"), .mergedStderr, false),
            (BuildahMethod(container: "c"), .mergedStderr, false),
            (KubectlMethod(pod: "p"), .mergedStderr, true),
            (LXCMethod(container: "c"), .mergedStderr, false),
            (LXDMethod(container: "c"), .mergedStderr, false),
            (IncusMethod(container: "c"), .mergedStderr, false),
            (JailMethod(container: "c"), .mergedStderr, false),
            (SetnsMethod(container: "c", kind: .docker), .pipes, false),
        ]
        for (method, stdio, compress) in table {
            #expect(method.stdio == stdio, "\(method)")
            #expect(method.needsPTY == (stdio == .hybridPTY || stdio == .fullPTY), "\(method)")
            #expect(method.preferCompression == compress, "\(method)")
        }
        #expect(LXCMethod(container: "c").eofErrorHint?.hasPrefix("Note: many versions of LXC") == true)
        #expect(LXDMethod(container: "c").eofErrorHint == LXCMethod.eofHint)
        #expect(IncusMethod(container: "c").eofErrorHint?.hasPrefix("Note: many versions of Incus") == true)
        #expect(try DockerMethod(container: "c").eofErrorHint == nil)
    }

    @Test func setnsLeader() throws {
        let docker = SetnsMethod(container: "web", kind: .docker)
        #expect(docker.leaderCommand == ["docker", "inspect", "--format={{.State.Pid}}", "web"])
        #expect(try docker.leaderPID(fromOutput: "4242\n") == 4242)
        #expect(throws: StreamError("could not find PID from docker output.\nnope\n")) {
            try docker.leaderPID(fromOutput: "nope\n")
        }
        let lxc = SetnsMethod(container: "c", kind: .lxc, lxcInfoPath: "/li")
        #expect(lxc.leaderCommand == ["/li", "-n", "c"])
        #expect(try lxc.leaderPID(fromOutput: "Name: c\nState: RUNNING\nPID:  99\n") == 99)
        let lxd = SetnsMethod(container: "c", kind: .lxd)
        #expect(lxd.leaderCommand == ["lxc", "info", "c"])
        #expect(try lxd.leaderPID(fromOutput: "Name: c\nPid: 7\n") == 7)
        #expect(throws: StreamError("could not find PID from lxc output.\nPID: 7\n")) { try lxd.leaderPID(fromOutput: "PID: 7\n") }
        let m = SetnsMethod(container: "c", kind: .machinectl)
        #expect(m.leaderCommand == ["machinectl", "status", "c"])
        #expect(try m.leaderPID(fromOutput: "c\n  Since: x\n Leader: 1234 (systemd)\n") == 1234)
        #expect(throws: StreamError("unsupported container kind: 'bogus'")) { try SetnsMethod.kind(parsing: "bogus") }
        #expect(
            docker.leaderCommandFailed(status: 1, output: "Error: No such object: web").message
                == "docker inspect --format={{.State.Pid}} web exitted with status 1: Error: No such object: web")
        #expect(SetnsMethod.namespaceOrder == ["ipc", "uts", "net", "pid", "mnt", "user"])
    }
}
