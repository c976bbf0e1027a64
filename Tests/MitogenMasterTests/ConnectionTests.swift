import Foundation
import Glibc
import MitogenLib
import Testing
import TestSupport

@testable import MitogenCore
@testable import MitogenMaster
@testable import MitogenSys

/// The connection methods against real parts: a private sshd on loopback,
/// real sudo, su and doas with the test users, the container tools' stubs
/// that check Mitogen's argv, and a target that has nothing but busybox.
@Suite(.serialized, .enabled(if: TestHosts.available, "needs root and scripts/setup-test-hosts.sh"))
struct ConnectionTests {
    private func sshd() throws -> TestHosts.SSHD { try #require(TestHosts.sshd, "the private sshd did not start") }

    /// ssh to the private sshd as `user` with the test key.
    private func ssh(
        _ router: Router, _ user: String, password: String? = nil, key: Bool = true,
        checkHostKeys: SSHMethod.HostKeyPolicy = .enforce, extraArgs: [String]? = nil, via: Context? = nil,
        timeout: Double = 20
    ) throws -> Context {
        let server = try sshd()
        return try router.ssh(
            hostname: "127.0.0.1", username: user, sshArgs: extraArgs ?? TestHosts.trustArgs(server), port: server.port,
            checkHostKeys: checkHostKeys, password: password, identityFile: key ? TestHosts.key : nil,
            connectTimeout: timeout, via: via)
    }

    private func uid(_ name: String) -> Int? {
        PasswdFile.entries().first { $0.name == name }.map { Int($0.uid) }
    }

    private func expectFailure(_ kind: StreamError.Kind, within seconds: Double, _ body: () throws -> Void) {
        let start = monotonicNow()
        do {
            try body()
            Issue.record("expected a \(kind) error, got a context")
        } catch let error as StreamError {
            #expect(error.kind == kind, "\(error)")
        } catch {
            Issue.record("expected StreamError(\(kind)), got \(error)")
        }
        #expect(monotonicNow() - start < seconds)
    }

    @Test func sshWithAKeyThenTheCacheHits() throws {
        try withTestRouter { router in
            let first = try ssh(router, "mitogen-key")
            #expect(try first.callValue("os.getuid", timeout: 10).intValue == uid("mitogen-key"))
            let second = try ssh(router, "mitogen-key")
            #expect(try second.callValue("os.getuid", timeout: 10).intValue == uid("mitogen-key"))
            let info = router.observer.contexts.first { $0.id == second.contextID }
            #expect(info?.uploadedBytes == 0, "the second connection uploaded the child again")
        }
    }

    @Test func sshWithAPasswordAndAWrongOne() throws {
        try withTestRouter { router in
            let ctx = try ssh(router, "mitogen-pw", password: "mitogen-pw-secret", key: false)
            #expect(try ctx.callValue("os.getuid", timeout: 10).intValue == uid("mitogen-pw"))
            expectFailure(.password, within: 15) { _ = try ssh(router, "mitogen-pw", password: "wrong", key: false) }
            expectFailure(.password, within: 15) { _ = try ssh(router, "mitogen-pw", key: false) }
        }
    }

    @Test func hostKeysUnderEachPolicy() throws {
        let server = try sshd()
        let empty = makeTempDirectory() + "/known_hosts"
        let changed = makeTempDirectory() + "/known_hosts"
        let known = try readWholeFile(server.knownHosts)
        // The same host entry with another key: a changed host key.
        let other = "[127.0.0.1]:\(server.port) ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIB7l0HTuMKvXkIvpjHhQC3F2Ho3rXf4nKm3vf2Xq1eGU\n"
        try createPrivateFile(changed).writeAll(Array(other.utf8))
        #expect(!known.isEmpty)
        func args(_ file: String) -> [String] { ["-o", "UserKnownHostsFile=\(file)", "-o", "GlobalKnownHostsFile=/dev/null"] }
        try withTestRouter { router in
            expectFailure(.hostKey, within: 10) { _ = try ssh(router, "mitogen-key", extraArgs: args(empty)) }
            let accepted = try ssh(router, "mitogen-key", checkHostKeys: .accept, extraArgs: args(empty))
            #expect(try accepted.callValue("os.getuid", timeout: 10).intValue == uid("mitogen-key"))
            let written = String(decoding: try readWholeFile(empty), as: UTF8.self)
            #expect(written.contains("ssh-ed25519"), "accept did not record the key")
            let ignored = try ssh(router, "mitogen-key", checkHostKeys: .ignore, extraArgs: [])
            #expect(try ignored.callValue("os.getuid", timeout: 10).intValue != nil)
            expectFailure(.hostKey, within: 10) { _ = try ssh(router, "mitogen-key", extraArgs: args(changed)) }
            expectFailure(.hostKey, within: 10) {
                _ = try ssh(router, "mitogen-key", checkHostKeys: .accept, extraArgs: args(changed))
            }
        }
    }

    @Test func aClosedPortFailsFastWithSshsOwnWords() throws {
        try withTestRouter { router in
            let start = monotonicNow()
            do {
                _ = try router.ssh(hostname: "127.0.0.1", port: 1, connectTimeout: 20)
                Issue.record("connected to a closed port")
            } catch let error as StreamError {
                #expect(error.kind != .timeout)
                #expect(error.message.contains("Connection refused"), "\(error)")
            }
            #expect(monotonicNow() - start < 10)
        }
    }

    @Test func compressionOffAndADebugLevelStillConnect() throws {
        let server = try sshd()
        try withTestRouter { router in
            let ctx = try router.ssh(
                hostname: "127.0.0.1", username: "mitogen-key", sshArgs: TestHosts.trustArgs(server), port: server.port,
                identityFile: TestHosts.key, compression: false, sshDebugLevel: 2, connectTimeout: 20)
            #expect(try ctx.callValue("os.getuid", timeout: 10).intValue == uid("mitogen-key"))
        }
    }

    @Test func sshThenSudoWithAndWithoutAPassword() throws {
        try withTestRouter { router in
            let alice = try ssh(router, "mitogen-alice")
            let root = try router.sudo(password: "alice-secret", connectTimeout: 20, via: alice)
            #expect(try root.callValue("os.getuid", timeout: 10).intValue == 0)
            expectFailure(.password, within: 15) { _ = try router.sudo(password: "wrong", connectTimeout: 20, via: alice) }
            expectFailure(.password, within: 15) { _ = try router.sudo(connectTimeout: 20, via: alice) }
            let bob = try ssh(router, "mitogen-bob")
            let bobRoot = try router.sudo(setHome: true, connectTimeout: 20, via: bob)
            #expect(try bobRoot.callValue("os.getuid", timeout: 10).intValue == 0)
            let env = try #require(try bobRoot.callValue("os.environ", timeout: 10).dictValue)
            #expect(env["HOME"]?.stringValue == "/root")
            // sudo_args that change the user, parsed the seed's way.
            let asAlice = try router.sudo(sudoArgs: ["-u", "mitogen-alice", "-H"], connectTimeout: 20, via: bob)
            #expect(try asAlice.callValue("os.getuid", timeout: 10).intValue == uid("mitogen-alice"))
        }
    }

    @Test func suToAUserThenSudoAsThatUserTypesItsPassword() throws {
        try withTestRouter { router in
            // The master is root: su asks nothing; sudo as alice asks alice's password.
            let alice = try router.su(username: "mitogen-alice", connectTimeout: 20)
            #expect(try alice.callValue("os.getuid", timeout: 10).intValue == uid("mitogen-alice"))
            let bob = try router.sudo(username: "mitogen-bob", password: "alice-secret", connectTimeout: 20, via: alice)
            #expect(try bob.callValue("os.getuid", timeout: 10).intValue == uid("mitogen-bob"))
            expectFailure(.password, within: 15) {
                _ = try router.sudo(username: "mitogen-bob", password: "wrong", connectTimeout: 20, via: alice)
            }
        }
    }

    @Test func preserveEnvKeepsTheCallersEnvironment() throws {
        try withTestRouter { router in
            let alice = try ssh(router, "mitogen-alice")
            let outer = try #require(try alice.callValue("os.environ", timeout: 10).dictValue)
            #expect(outer["SSH_CONNECTION"] != nil)
            let plain = try router.sudo(password: "alice-secret", connectTimeout: 20, via: alice)
            let kept = try router.sudo(password: "alice-secret", preserveEnv: true, connectTimeout: 20, via: alice)
            #expect(try plain.callValue("os.environ", timeout: 10).dictValue?["SSH_CONNECTION"] == nil)
            #expect(try kept.callValue("os.environ", timeout: 10).dictValue?["SSH_CONNECTION"] == outer["SSH_CONNECTION"])
        }
    }

    @Test func theUsersSshConfigIsHonoured() throws {
        let server = try sshd()
        let config = makeTempDirectory() + "/config"
        let text = """
            Host mitogen-alias
                HostName 127.0.0.1
                Port \(server.port)
                User mitogen-key
                IdentityFile \(TestHosts.key)
                UserKnownHostsFile \(server.knownHosts)
            """
        try createPrivateFile(config).writeAll(Array((text + "\n").utf8))
        try withTestRouter { router in
            let ctx = try router.ssh(hostname: "mitogen-alias", sshArgs: ["-F", config], connectTimeout: 20)
            #expect(try ctx.callValue("os.getuid", timeout: 10).intValue == uid("mitogen-key"))
        }
    }

    /// ProxyJump (a second ssh through the first) and ControlMaster (a
    /// second connection over the first one's control socket) from the
    /// user's config work through our argv.
    @Test func proxyJumpAndControlMasterFromTheSshConfigWork() throws {
        let server = try sshd()
        let dir = makeTempDirectory()
        let config = dir + "/config"
        let common = """
                HostName 127.0.0.1
                Port \(server.port)
                User mitogen-key
                IdentityFile \(TestHosts.key)
                UserKnownHostsFile \(server.knownHosts)
            """
        let text = """
            Host mitogen-hop
            \(common)
            Host mitogen-jumped
            \(common)
                ProxyJump mitogen-hop
            Host mitogen-mux
            \(common)
                ControlMaster auto
                ControlPath \(dir)/mux-%C
                ControlPersist 30
            """
        try createPrivateFile(config).writeAll(Array((text + "\n").utf8))
        defer { _ = try? runCapturing(["ssh", "-F", config, "-O", "exit", "mitogen-mux"]) }
        try withTestRouter { router in
            let jumped = try router.ssh(hostname: "mitogen-jumped", sshArgs: ["-F", config], connectTimeout: 20)
            #expect(try jumped.callValue("os.getuid", timeout: 10).intValue == uid("mitogen-key"))
            let first = try router.ssh(hostname: "mitogen-mux", sshArgs: ["-F", config], connectTimeout: 20)
            #expect(try first.callValue("os.getuid", timeout: 10).intValue == uid("mitogen-key"))
            let sockets = try listDirectoryNames(dir).filter { $0.hasPrefix("mux-") }
            #expect(sockets.count == 1, "control socket: \(sockets)")
            let check = try runCapturing(["ssh", "-F", config, "-O", "check", "mitogen-mux"])
            #expect(check.status == .exited(0), "no control master running")
            let second = try router.ssh(hostname: "mitogen-mux", sshArgs: ["-F", config], connectTimeout: 20)
            #expect(try second.callValue("os.getuid", timeout: 10).intValue == uid("mitogen-key"))
            #expect(second.contextID != first.contextID)
        }
    }

    @Test func aKeyPassphraseGoesToThePromptCallbackOrFailsAtOnce() throws {
        let server = try sshd()
        let asked = Latch<String>()
        var options = ConnectionOptions()
        options.promptCallback = { prompt in
            try? asked.put(prompt)
            return "pp-secret"
        }
        try withTestRouter { router in
            let ctx = try router.ssh(
                hostname: "127.0.0.1", username: "mitogen-key", sshArgs: TestHosts.trustArgs(server), port: server.port,
                identityFile: TestHosts.keyDirectory + "/id_ed25519_pp", connectTimeout: 20, options: options)
            #expect(try ctx.callValue("os.getuid", timeout: 10).intValue == uid("mitogen-key"))
            #expect(try asked.get(timeout: 1).contains("passphrase"))
            // Without a callback the connect fails at once, naming the prompt (not after the timeout).
            expectFailure(.password, within: 10) {
                var plain = ConnectionOptions()
                plain.promptCallback = nil
                _ = try router.ssh(
                    hostname: "127.0.0.1", username: "mitogen-key", sshArgs: TestHosts.trustArgs(server),
                    port: server.port, checkHostKeys: .accept, identityFile: TestHosts.keyDirectory + "/id_ed25519_pp",
                    identitiesOnly: true, connectTimeout: 20, options: plain)
            }
        }
    }

    @Test func sshThenSshReachesTheSameSshdTwice() throws {
        try withTestRouter { router in
            let outer = try ssh(router, "mitogen-bob")
            // The inner ssh runs on the target with the same key and known hosts (root-only files: via sudo).
            let root = try router.sudo(connectTimeout: 20, via: outer)
            let inner = try ssh(router, "mitogen-key", via: root)
            #expect(try inner.callValue("os.getuid", timeout: 10).intValue == uid("mitogen-key"))
            #expect(inner.name?.contains("ssh.127.0.0.1") == true)
        }
    }

    @Test func suFromANonRootUserTypesThePassword() throws {
        try withTestRouter { router in
            let alice = try ssh(router, "mitogen-alice")
            let bob = try router.su(username: "mitogen-bob", password: "bob-secret", connectTimeout: 20, via: alice)
            #expect(try bob.callValue("os.getuid", timeout: 10).intValue == uid("mitogen-bob"))
            expectFailure(.password, within: 15) {
                _ = try router.su(username: "mitogen-bob", password: "wrong", connectTimeout: 20, via: alice)
            }
        }
    }

    @Test func doasWithAndWithoutAPassword() throws {
        try withTestRouter { router in
            let alice = try ssh(router, "mitogen-alice")
            let root = try router.doas(password: "alice-secret", connectTimeout: 20, via: alice)
            #expect(try root.callValue("os.getuid", timeout: 10).intValue == 0)
            expectFailure(.password, within: 15) { _ = try router.doas(password: "wrong", connectTimeout: 20, via: alice) }
            let bob = try ssh(router, "mitogen-bob")
            let bobRoot = try router.doas(connectTimeout: 20, via: bob)
            #expect(try bobRoot.callValue("os.getuid", timeout: 10).intValue == 0)
        }
    }

    @Test func chainSyntaxReachesRootThroughSshAndSudo() throws {
        let server = try sshd()
        let chain = try ChainSpec.parse(
            "ssh:mitogen-alice@127.0.0.1:\(server.port)?identity_file=\(TestHosts.key)"
                + "&ssh_args=-o%20UserKnownHostsFile=\(server.knownHosts) -> sudo:root?password=ask")
        try withTestRouter { router in
            let root = try router.connect(chain: chain, askPassword: { number, hop in
                number == 2 && hop.method == "sudo" ? "alice-secret" : nil
            })
            #expect(try root.callValue("os.getuid", timeout: 10).intValue == 0)
        }
    }

    @Test func aTargetWithOnlyBusyboxGetsTheChildAndTheCacheHits() throws {
        // Start from an empty cache on the target, so the first connection uploads.
        _ = try runCapturing(["/bin/rm", "-rf", TestHosts.busyboxRoot + "/root/.cache", TestHosts.busyboxRoot + "/tmp/mitogen-0"])
        try withTestRouter { router in
            let first = try router.ssh(hostname: "busybox", sshPath: TestHosts.busyboxSSH, connectTimeout: 30)
            // The target's whole filesystem: busybox, no /usr, no /lib, no libc.
            let root = try #require(try first.callValue("os.listdir", args: ["/"], timeout: 10).sequenceValue)
            #expect(!root.contains("usr") && !root.contains("lib") && root.contains("bin"), "\(root)")
            #expect(router.observer.contexts.first { $0.id == first.contextID }?.uploadedBytes ?? 0 > 0)
            let second = try router.ssh(hostname: "busybox", sshPath: TestHosts.busyboxSSH, connectTimeout: 30)
            #expect(try second.callValue("os.getpid", timeout: 10).intValue != nil)
            let info = router.observer.contexts.first { $0.id == second.contextID }
            #expect(info?.uploadedBytes == 0)
        }
    }

    @Test func passwordsNeverReachAnArgvAnEnvironmentOrTheLogs() throws {
        try withTestRouter { router in
            let alice = try ssh(router, "mitogen-alice")
            let root = try router.sudo(password: "alice-secret", connectTimeout: 20, via: alice)
            let bob = try router.su(username: "mitogen-bob", password: "bob-secret", connectTimeout: 20, via: alice)
            #expect(try root.callValue("os.getuid", timeout: 10).intValue == 0)
            #expect(try bob.callValue("os.getuid", timeout: 10).intValue != nil)
            var leaks: [String] = []
            for entry in (try? listDirectoryNames("/proc")) ?? [] where entry.allSatisfy(\.isNumber) {
                for file in ["cmdline", "environ"] {
                    guard let bytes = try? readWholeFile("/proc/\(entry)/\(file)") else { continue }
                    let text = String(decoding: bytes, as: UTF8.self)
                    for secret in ["alice-secret", "bob-secret"] where text.contains(secret) {
                        leaks.append("/proc/\(entry)/\(file)")
                    }
                }
            }
            #expect(leaks.isEmpty, "passwords found in \(leaks)")
            let logs = router.logs(limit: 100_000).0.map(\.message).joined(separator: "\n")
            #expect(!logs.contains("alice-secret") && !logs.contains("bob-secret"))
        }
    }

    @Test func containerMethodsSpawnExactlyMitogensArgv() throws {
        let stubs = packageRoot + "/Tests/MitogenMasterTests/Fixtures/stubs"
        let data = try #require(fixtureData("method-argvs.json"))
        let cases = try #require(try JSONSerialization.jsonObject(with: data) as? [[String: Any]])
        func prefix(_ method: String, _ name: String) throws -> [String] {
            let c = try #require(cases.first { $0["method"] as? String == method && $0["case"] as? String == name })
            return try #require(c["prefix"] as? [String])
        }
        let expectFile = makeTempDirectory() + "/expect"
        try withTestRouter { router in
            router.setChildEnvironment("MITOGEN_STUB_EXPECT", expectFile)
            func run(_ expected: [String], _ connect: () throws -> Context) throws {
                _ = unlink(expectFile)
                try createPrivateFile(expectFile).writeAll(Array((expected.joined(separator: "\n") + "\n").utf8))
                let ctx = try connect()
                #expect(try ctx.callValue("os.getpid", timeout: 10).intValue != nil)
            }
            try run(try prefix("docker", "container, username")) {
                try router.docker(container: "web", username: "app", dockerPath: stubs + "/docker", connectTimeout: 20)
            }
            try run(try prefix("docker", "image")) {
                try router.docker(image: "debian:12", dockerPath: stubs + "/docker", connectTimeout: 20)
            }
            try run(try prefix("podman", "username")) {
                try router.podman(container: "web", username: "app", podmanPath: stubs + "/podman", connectTimeout: 20)
            }
            try run(try prefix("kubectl", "kubectl_args")) {
                try router.kubectl(pod: "web-0", kubectlPath: stubs + "/kubectl", kubectlArgs: ["--namespace", "prod"], connectTimeout: 20)
            }
            try run(try prefix("lxc", "container")) {
                try router.lxc(container: "c1", lxcAttachPath: stubs + "/lxc-attach", connectTimeout: 20)
            }
            try run(try prefix("jail", "username")) {
                try router.jail(container: "www", username: "app", jexecPath: stubs + "/jexec", connectTimeout: 20)
            }
            // A stub that sees the wrong argv refuses (exit 97): the connect fails with its words.
            _ = unlink(expectFile)
            try createPrivateFile(expectFile).writeAll(Array("docker\nexec\n--something-else\n".utf8))
            #expect(throws: StreamError.self) {
                _ = try router.docker(container: "web", dockerPath: stubs + "/docker", connectTimeout: 20)
            }
        }
    }
}

private func fixtureData(_ name: String) -> Data? {
    (try? readWholeFile(packageRoot + "/Tests/MitogenMasterTests/Fixtures/" + name)).map { Data($0) }
}

private func listDirectoryNames(_ path: String) throws -> [String] {
    guard let dir = opendir(path) else { return [] }
    defer { closedir(dir) }
    var names: [String] = []
    while let entry = readdir(dir) {
        names.append(withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) })
    }
    return names
}
