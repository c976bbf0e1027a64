import Glibc
import Synchronization
import MitogenLib
import Testing
import TestSupport

@testable import MitogenCore
@testable import MitogenMaster
@testable import MitogenSys

/// The in-process libssh2 transport against the private loopback sshd: the
/// same logins, host key policies and errors as the OpenSSH path, a dead
/// peer noticed, a silent peer timed out at the stage it was in.
@Suite(.serialized, .enabled(if: TestHosts.available, "needs root and scripts/setup-test-hosts.sh"))
struct SSH2Tests {
    init() { LibSSH2Transport.register() }

    private func sshd() throws -> TestHosts.SSHD { try #require(TestHosts.sshd, "the private sshd did not start") }

    /// libssh2 ssh to the private sshd as `user`, with the test key unless `key` is nil.
    private func ssh(
        _ router: Router, _ user: String, password: String? = nil, key: String? = TestHosts.key,
        checkHostKeys: SSHMethod.HostKeyPolicy = .enforce, args: [String]? = nil, timeout: Double = 20,
        keepaliveInterval: Int = 15, keepaliveCount: Int = 3, prompt: (@Sendable (String) -> String?)? = nil
    ) throws -> Context {
        let server = try sshd()
        var options = ConnectionOptions()
        options.promptCallback = prompt
        return try router.ssh(
            hostname: "127.0.0.1", username: user, sshArgs: args ?? TestHosts.trustArgs(server), port: server.port,
            checkHostKeys: checkHostKeys, password: password, identityFile: key, keepaliveCount: keepaliveCount,
            keepaliveInterval: keepaliveInterval, transport: .libssh2, connectTimeout: timeout, options: options)
    }

    private func uid(_ name: String) -> Int? {
        PasswdFile.entries().first { $0.name == name }.map { Int($0.uid) }
    }

    /// Runs `body`, which must throw a `StreamError` of `kind` within `seconds`; returns its text.
    @discardableResult
    private func expectFailure(_ kind: StreamError.Kind, within seconds: Double, _ body: () throws -> Void) -> String {
        let start = monotonicNow()
        defer { #expect(monotonicNow() - start < seconds) }
        do {
            try body()
            Issue.record("expected a \(kind) error, got a context")
        } catch let error as StreamError {
            #expect(error.kind == kind, "\(error)")
            return error.message
        } catch {
            Issue.record("expected StreamError(\(kind)), got \(error)")
        }
        return ""
    }

    @Test func aKeyThenTheCacheHits() throws {
        try withTestRouter { router in
            let first = try ssh(router, "mitogen-key")
            #expect(try first.callValue("os.getuid", timeout: 10).intValue == uid("mitogen-key"))
            let second = try ssh(router, "mitogen-key")
            #expect(try second.callValue("os.getuid", timeout: 10).intValue == uid("mitogen-key"))
            let info = router.observer.contexts.first { $0.id == second.contextID }
            #expect(info?.uploadedBytes == 0, "the second connection uploaded the child again")
        }
    }

    /// Several MiB each way, larger than the pump's chunk and the channel
    /// window, and calls answered after them: nothing stalls or is lost when
    /// the pump reads a side again only after a full chunk.
    @Test func megabytesEachWayThenSmallCalls() throws {
        try withTestRouter { router in
            let ctx = try ssh(router, "mitogen-key")
            let big = (0..<(5 << 20)).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ $0 >> 9) }
            #expect(try ctx.callValue("mitogen.echo", args: [.bytes(big)], timeout: 30) == .bytes(big))
            for i in 0..<50 {
                #expect(try ctx.callValue("mitogen.echo", args: [.int(i)], timeout: 10) == .int(i))
            }
            // Output on the child's stderr (the other channel stream) as well.
            let out = try ctx.callValue(
                "subprocess.check_output", args: ["head -c 3000000 /dev/zero | tr '\\0' x; head -c 100000 /dev/zero >&2"],
                kwargs: ["shell": true], timeout: 30)
            #expect(out == .bytes([UInt8](repeating: UInt8(ascii: "x"), count: 3_000_000)))
            #expect(try ctx.callValue("os.getuid", timeout: 10).intValue == uid("mitogen-key"))
        }
    }

    @Test func anAgentsKey() throws {
        let dir = makeTempDirectory("mitogen-agent")
        let socket = dir + "/agent.sock"
        let started = try runCapturing(["/usr/bin/ssh-agent", "-a", socket, "-s"])
        #expect(started.status == .exited(0), "\(started.output)")
        let pid = started.output.split(whereSeparator: { $0 == ";" || $0 == "\n" }).first { $0.hasPrefix("SSH_AGENT_PID=") }
            .flatMap { Int32($0.dropFirst("SSH_AGENT_PID=".count)) }
        defer { if let pid { kill(pid, SIGTERM) } }
        #expect(pid != nil, "\(started.output)")
        let added = try runCapturing(["/usr/bin/ssh-add", TestHosts.key], environment: ["SSH_AUTH_SOCK=\(socket)"])
        #expect(added.status == .exited(0), "\(added.output)")
        let server = try sshd()
        try withTestRouter { router in
            let ctx = try ssh(router, "mitogen-key", key: nil, args: TestHosts.trustArgs(server) + ["-o", "IdentityAgent=\(socket)"])
            #expect(try ctx.callValue("os.getuid", timeout: 10).intValue == uid("mitogen-key"))
            // Without the agent (and no key) nothing logs in: the password is missing.
            let text = expectFailure(.password, within: 10) {
                _ = try ssh(router, "mitogen-key", key: nil, args: TestHosts.trustArgs(server) + ["-o", "IdentityAgent=none"])
            }
            #expect(text == PromptDialect.sshPasswordRequired)
        }
    }

    @Test func aPasswordAWrongOneAndNone() throws {
        try withTestRouter { router in
            let ctx = try ssh(router, "mitogen-pw", password: "mitogen-pw-secret", key: nil)
            #expect(try ctx.callValue("os.getuid", timeout: 10).intValue == uid("mitogen-pw"))
            let wrong = expectFailure(.password, within: 15) { _ = try ssh(router, "mitogen-pw", password: "wrong", key: nil) }
            #expect(wrong == PromptDialect.sshPasswordIncorrect)
            let none = expectFailure(.password, within: 15) { _ = try ssh(router, "mitogen-pw", key: nil) }
            #expect(none == PromptDialect.sshPasswordRequired)
        }
    }

    @Test func keyboardInteractivePromptsReachTheCallback() throws {
        let asked = Mutex<[String]>([])
        try withTestRouter { router in
            let ctx = try ssh(router, "mitogen-pw", key: nil) { prompt in
                asked.withLock { $0.append(prompt) }
                return prompt.lowercased().contains("password") ? "mitogen-pw-secret" : nil
            }
            #expect(try ctx.callValue("os.getuid", timeout: 10).intValue == uid("mitogen-pw"))
            #expect(asked.withLock { $0.count } == 1, "\(asked.withLock { $0 })")
            // A callback that declines: the password is missing.
            let text = expectFailure(.password, within: 15) { _ = try ssh(router, "mitogen-pw", key: nil) { _ in nil } }
            #expect(text == PromptDialect.sshPasswordRequired)
        }
    }

    /// An operator who never answers the keyboard-interactive prompt: the
    /// connect still ends at its timeout, naming the authentication stage.
    @Test func aPromptNobodyAnswersTimesOutWhileAuthenticating() throws {
        let release = Latch<Bool>()
        defer { try? release.put(true) }  // lets the waiting callback return
        try withTestRouter { router in
            let text = expectFailure(.timeout, within: 6) {
                _ = try ssh(router, "mitogen-pw", key: nil, timeout: 2) { _ in
                    _ = try? release.get(timeout: 60)
                    return nil
                }
            }
            #expect(text == "Connection timed out. (after 2.0 s, while keyboard-interactive authentication as mitogen-pw)")
        }
    }

    @Test func aPassphraseKeyAsksTheCallback() throws {
        let key = TestHosts.keyDirectory + "/id_ed25519_pp"
        let asked = Mutex<[String]>([])
        try withTestRouter { router in
            let ctx = try ssh(router, "mitogen-key", key: key) { prompt in
                asked.withLock { $0.append(prompt) }
                return "pp-secret"
            }
            #expect(try ctx.callValue("os.getuid", timeout: 10).intValue == uid("mitogen-key"))
            #expect(asked.withLock { $0 } == ["Enter passphrase for key '\(key)': "])
        }
    }

    @Test func hostKeysUnderEachPolicy() throws {
        let server = try sshd()
        let dir = makeTempDirectory()
        let empty = dir + "/empty_known_hosts"
        let changed = dir + "/changed_known_hosts"
        let hashed = dir + "/hashed_known_hosts"
        let other = "[127.0.0.1]:\(server.port) ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIB7l0HTuMKvXkIvpjHhQC3F2Ho3rXf4nKm3vf2Xq1eGU\n"
        try createPrivateFile(changed).writeAll(Array(other.utf8))
        try createPrivateFile(hashed).writeAll(try readWholeFile(server.knownHosts))
        let hashing = try runCapturing(["/usr/bin/ssh-keygen", "-H", "-f", hashed])
        #expect(hashing.status == .exited(0), "\(hashing.output)")
        #expect(String(decoding: try readWholeFile(hashed), as: UTF8.self).hasPrefix("|1|"))
        func args(_ file: String) -> [String] {
            ["-o", "UserKnownHostsFile=\(file)", "-o", "GlobalKnownHostsFile=/dev/null", "-o", "HashKnownHosts=no"]
        }
        try withTestRouter { router in
            let unknown = expectFailure(.hostKey, within: 10) { _ = try ssh(router, "mitogen-key", args: args(empty)) }
            #expect(unknown == PromptDialect.sshHostKeyFailed)
            #expect(access(empty, F_OK) != 0, "enforce wrote a key")
            let accepted = try ssh(router, "mitogen-key", checkHostKeys: .accept, args: args(empty))
            #expect(try accepted.callValue("os.getuid", timeout: 10).intValue == uid("mitogen-key"))
            // The recorded line is the server's own key, as ssh writes it.
            let written = String(decoding: try readWholeFile(empty), as: UTF8.self)
            let expected = String(decoding: try readWholeFile(server.knownHosts), as: UTF8.self)
            #expect(written == expected)
            // Now known: enforce accepts it.
            _ = try ssh(router, "mitogen-key", args: args(empty))
            _ = try ssh(router, "mitogen-key", args: args(hashed))
            let ignored = try ssh(router, "mitogen-key", checkHostKeys: .ignore, args: args(changed))
            #expect(try ignored.callValue("os.getuid", timeout: 10).intValue != nil)
            expectFailure(.hostKey, within: 10) { _ = try ssh(router, "mitogen-key", args: args(changed)) }
            expectFailure(.hostKey, within: 10) { _ = try ssh(router, "mitogen-key", checkHostKeys: .accept, args: args(changed)) }
            #expect(try readWholeFile(changed) == Array(other.utf8), "accept rewrote a changed key")
        }
    }

    @Test func wildcardLinesRevokedKeysAndHashedRecords() throws {
        let server = try sshd()
        let dir = makeTempDirectory()
        let ed = String(decoding: try readWholeFile(server.directory + "/ssh_host_ed25519_key.pub"), as: UTF8.self)
            .split(separator: " ").prefix(2).joined(separator: " ")
        func file(_ name: String, _ text: String) throws -> [String] {
            let path = dir + "/" + name
            unlink(path)
            try createPrivateFile(path).writeAll(Array(text.utf8))
            return ["-o", "UserKnownHostsFile=\(path)", "-o", "GlobalKnownHostsFile=/dev/null"]
        }
        try withTestRouter { router in
            // Only a wildcard line names the host: trusted, as ssh trusts it.
            let wild = try ssh(router, "mitogen-key", args: try file("wild", "[127.0.0.*]:* \(ed)\n"))
            #expect(try wild.callValue("os.getuid", timeout: 10).intValue == uid("mitogen-key"))
            // A negation that names it: unknown, so enforce fails.
            let negated = expectFailure(.hostKey, within: 10) {
                _ = try ssh(router, "mitogen-key", args: try file("negated", "[127.0.0.*]:*,![127.0.0.1]:* \(ed)\n"))
            }
            #expect(negated == PromptDialect.sshHostKeyFailed)
            // A revoked key is refused under enforce and accept, even though a line trusts it, and nothing is written.
            let revoked = "[127.0.0.1]:\(server.port) \(ed)\n@revoked * \(ed)\n"
            for policy in [SSHMethod.HostKeyPolicy.enforce, .accept] {
                let args = try file("revoked", revoked)
                let text = expectFailure(.hostKey, within: 10) { _ = try ssh(router, "mitogen-key", checkHostKeys: policy, args: args) }
                #expect(text.hasPrefix(PromptDialect.sshHostKeyFailed) && text.contains("marked @revoked in \(dir)/revoked line 2"), "\(text)")
                #expect(try readWholeFile(dir + "/revoked") == Array(revoked.utf8))
            }
            // accept under HashKnownHosts yes records a hashed name that ssh-keygen finds, and enforce then trusts.
            let hashed = try file("hashed", "") + ["-o", "HashKnownHosts=yes"]
            _ = try ssh(router, "mitogen-key", checkHostKeys: .accept, args: hashed)
            let written = String(decoding: try readWholeFile(dir + "/hashed"), as: UTF8.self)
            #expect(written.hasPrefix("|1|") && written.hasSuffix(" \(ed)\n"), "\(written)")
            let found = try runCapturing(["/usr/bin/ssh-keygen", "-F", "[127.0.0.1]:\(server.port)", "-f", dir + "/hashed"])
            #expect(found.output.contains("found: line 1"), "\(found.output)")
            _ = try ssh(router, "mitogen-key", args: hashed)
        }
    }

    @Test func aHostKnownByItsECDSAKeyIsAskedForThatType() throws {
        // The sshd offers Ed25519 and ECDSA; known_hosts lists only ECDSA.
        // ssh asks for the type it knows; so must we.
        let server = try sshd()
        let ecdsa = String(decoding: try readWholeFile(server.directory + "/ssh_host_ecdsa_key.pub"), as: UTF8.self)
        let fields = ecdsa.split(separator: " ")
        try #require(fields.count >= 2)
        let file = makeTempDirectory() + "/ecdsa_known_hosts"
        try createPrivateFile(file).writeAll(Array("[127.0.0.1]:\(server.port) \(fields[0]) \(fields[1])\n".utf8))
        try withTestRouter { router in
            let ctx = try ssh(router, "mitogen-key", args: ["-o", "UserKnownHostsFile=\(file)", "-o", "GlobalKnownHostsFile=/dev/null"])
            #expect(try ctx.callValue("os.getuid", timeout: 10).intValue == uid("mitogen-key"))
        }
    }

    /// The sshd process serving `ctx`: the nearest sshd above the child
    /// (the login shell may sit between them).
    private func sessionSSHD(_ ctx: Context) throws -> Int32 {
        var pid = try #require(try ctx.callValue("os.getppid", timeout: 10).intValue.flatMap { Int32(exactly: $0) })
        for _ in 0..<4 {
            let stat = String(decoding: try readWholeFile("/proc/\(pid)/stat"), as: UTF8.self)
            let open = try #require(stat.firstIndex(of: "(")), close = try #require(stat.lastIndex(of: ")"))
            if stat[stat.index(after: open)..<close].hasPrefix("sshd") { return pid }
            let fields = stat[stat.index(close, offsetBy: 2)...].split(separator: " ")
            pid = try #require(fields.count > 1 ? Int32(fields[1]) : nil)
        }
        throw StreamError("no sshd above the child")
    }

    /// Waits (bounded) for a pending call to fail as its stream dies; returns the seconds it took.
    private func expectCallDies(_ pending: Receiver, within seconds: Double) -> Double {
        let start = monotonicNow()
        do {
            let reply = try pending.get(timeout: seconds)
            Issue.record("the call answered \(reply) although its peer is gone")
        } catch {
            #expect(!(error is TimeoutError), "the call was still waiting after \(seconds) s: \(error)")
        }
        return monotonicNow() - start
    }

    @Test func sshdKilledMidCallFailsTheCall() throws {
        try withTestRouter { router in
            let ctx = try ssh(router, "mitogen-key")
            let sshd = try sessionSSHD(ctx)
            let pending = try ctx.callAsync("time.sleep", 30)
            #expect(kill(sshd, SIGKILL) == 0)
            #expect(expectCallDies(pending, within: 10) < 5)
            // Nothing else stalled: a new connection works.
            #expect(try ssh(router, "mitogen-key").callValue("os.getuid", timeout: 10).intValue == uid("mitogen-key"))
        }
    }

    @Test func aBlackHoledPeerIsNoticedByKeepalive() throws {
        try withTestRouter { router in
            let ctx = try ssh(router, "mitogen-key", keepaliveInterval: 2, keepaliveCount: 2)
            let sshd = try sessionSSHD(ctx)
            let pending = try ctx.callAsync("time.sleep", 60)
            // Stopped, the sshd says nothing while the kernel still ACKs: only keepalive can tell.
            #expect(kill(sshd, SIGSTOP) == 0)
            defer {
                kill(sshd, SIGKILL)
                kill(sshd, SIGCONT)
            }
            let took = expectCallDies(pending, within: 20)
            #expect(took > 3 && took < 10, "noticed after \(took) s; keepalive 2 s x 2 should take 4-6 s")
        }
    }

    @Test func aSilentHostTimesOutNamingTheStage() throws {
        // A listening socket nobody accepts on: TCP completes, SSH never speaks.
        let listener = try SilentListener()
        defer { close(listener.fd) }
        let port = listener.port
        try withTestRouter { router in
            let text = expectFailure(.timeout, within: 5) {
                _ = try router.ssh(hostname: "127.0.0.1", port: port, transport: .libssh2, connectTimeout: 1)
            }
            #expect(text == "Connection timed out. (after 1.0 s, while the SSH handshake with 127.0.0.1 port \(port))")
        }
    }

    @Test func theFirstHopOfAChainAndNeverAChildsHop() throws {
        let server = try sshd()
        let args = "-o%20UserKnownHostsFile%3D\(server.knownHosts)"
        let spec = try ChainSpec.parse(
            "ssh:mitogen-bob@127.0.0.1:\(server.port)?transport=libssh2&identity_file=\(TestHosts.key)&ssh_args=\(args) -> sudo:root")
        #expect(throws: ChainSpecError.self) { try ChainSpec.parse("ssh:h?transport=putty") }
        try withTestRouter { router in
            let root = try router.connect(chain: spec)
            #expect(try root.callValue("os.getuid", timeout: 10).intValue == 0)
            let bob = try #require(router.observer.contexts.first { $0.name.hasPrefix("ssh.") })
            #expect(bob.pid == 0, "a libssh2 context has no local process")
            // A child never links libssh2: through it, the hop fails saying so.
            let local = try router.local(connectTimeout: 20)
            let text = expectFailure(.refused, within: 10) {
                _ = try router.ssh(hostname: "127.0.0.1", transport: .libssh2, connectTimeout: 5, via: local)
            }
            #expect(text.contains("not registered"), "\(text)")
        }
    }

    @Test func sshArgsItCannotHonourAreRefusedByName() throws {
        try withTestRouter { router in
            let text = expectFailure(.stream, within: 5) {
                _ = try ssh(router, "mitogen-key", args: ["-o", "ProxyJump=elsewhere"])
            }
            #expect(text.contains("ProxyJump elsewhere") && text.contains("not supported by the libssh2 transport"), "\(text)")
        }
        let hop = try SSHMethod(hop: "u@h:2222", options: [HopOption(key: "transport", value: "libssh2")])
        #expect(hop.transport == .libssh2)
        #expect(hop.hopOptions.contains(HopOption(key: "transport", value: "libssh2")))
        #expect(throws: StreamError.self) { try SSHMethod(hop: "h", options: [HopOption(key: "transport", value: "putty")]) }
        #expect(try SSHMethod(hop: "h", options: []).resolvedTransport == .openssh)
    }

    @Test func twoHundredHostsWithNoSSHProcess() throws {
        let hosts = 200
        let contexts = Mutex<[Context]>([])
        let failures = Mutex<[String]>([])
        try withTestRouter { router in
            // A pool of callers (each connect blocks its caller); the broker alone drives the sockets.
            let next = Atomic<Int>(0)
            let threads = (0..<20).map { _ in
                startJoinableThread(name: "fan-out") {
                    while next.add(1, ordering: .relaxed).oldValue < hosts {
                        do {
                            // The keepalive (60 s) cannot rescue a stalled start
                            // within the connect timeout: input libssh2 took in while
                            // starting the command must reach the stream at once.
                            let ctx = try ssh(router, "mitogen-key", timeout: 20, keepaliveInterval: 60)
                            contexts.withLock { $0.append(ctx) }
                        } catch {
                            failures.withLock { $0.append("\(error)") }
                        }
                    }
                }
            }
            for t in threads { pthread_join(t, nil) }
            #expect(failures.withLock { $0 }.isEmpty, "\(failures.withLock { Array($0.prefix(3)) })")
            let all = contexts.withLock { $0 }
            #expect(all.count == hosts)
            // No process per host: none was started for these contexts, and
            // the ssh clients of this test process (other suites run OpenSSH
            // alongside) are nowhere near one per host.
            let ids = Set(all.map(\.contextID))
            let spawned = router.observer.contexts.filter { ids.contains($0.id) && $0.pid != 0 }
            #expect(spawned.isEmpty, "contexts with a local process: \(spawned.map(\.name))")
            let clients = try childProcesses(named: "ssh")
            #expect(clients.count < 20, "\(clients.count) ssh processes run on the master side")
            let receivers = try all.map { try $0.callAsync("os.getpid") }
            var pids = Set<Int>()
            for r in receivers { if let pid = try r.get(timeout: 30).unpickle().intValue { pids.insert(pid) } }
            #expect(pids.count == hosts, "every host answered with its own child")
        }
    }

    /// Children of this process whose command name is `name` (pgrep's word).
    private func childProcesses(named name: String) throws -> [String] {
        let found = try runCapturing(["/usr/bin/pgrep", "-P", String(getpid()), "-x", name])
        return found.output.split(separator: "\n").map(String.init)
    }
}
