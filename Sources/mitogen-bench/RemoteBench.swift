import Glibc
import MitogenLib
import MitogenSys

/// Where the remote section connects: an sshd, the user and key to log in
/// with, and the known_hosts file that trusts it.
struct SSHTarget {
    var host: String
    var port: Int
    var user: String
    var key: String
    var knownHosts: String?
    /// The user whose ssh context starts the NOPASSWD sudo figure; nil skips it.
    var sudoVia: String?

    /// The kex the `_curve25519` figures force: OpenSSH 9's default
    /// (sntrup761x25519-sha512, post-quantum) costs far more CPU per handshake.
    static let classicKex = "curve25519-sha256"

    /// `-o` options that make ssh trust the sshd through `knownHosts` only.
    var trustArgs: [String] {
        guard let knownHosts else { return [] }
        return ["-o", "UserKnownHostsFile=\(knownHosts)", "-o", "GlobalKnownHostsFile=/dev/null"]
    }

    /// `ssh -i KEY <trust> -o BatchMode=yes <extra> -p PORT user@host COMMAND...`: the plain client.
    func plainArgv(user: String? = nil, extra: [String] = [], _ command: [String]) -> [String] {
        ["ssh", "-i", key] + trustArgs + ["-o", "BatchMode=yes"] + extra
            + ["-p", String(port), "\(user ?? self.user)@\(host)"] + command
    }

    /// A context on the target through `router.ssh`, the way an application would open one.
    func connect(
        _ router: Router, user: String? = nil, extra: [String] = [], transport: SSHTransport = .openssh,
        timeout: Double = 30
    ) throws -> Context {
        try router.ssh(
            hostname: host, username: user ?? self.user, sshArgs: trustArgs + extra, port: port,
            identityFile: key, transport: transport, connectTimeout: timeout)
    }
}

extension Bench {
    /// The sshd the options name, or nil when none was given.
    func sshTarget() throws -> SSHTarget? {
        var port = sshPort
        var knownHosts = sshKnownHosts
        if let dir = sshDir {
            // A scripts/test-sshd.sh directory: its port and known_hosts.
            guard let text = try? readWholeFile(dir + "/port"),
                let p = Int(String(decoding: text, as: UTF8.self).filter(\.isNumber))
            else { throw BenchError("--ssh-dir \(dir) has no readable port file (start it with scripts/test-sshd.sh start \(dir))") }
            port = port ?? p
            knownHosts = knownHosts ?? dir + "/known_hosts"
        }
        guard let port else { return nil }
        return SSHTarget(
            host: sshHost, port: port, user: sshUser, key: sshKey, knownHosts: knownHosts,
            sudoVia: sudoViaUser.isEmpty ? nil : sudoViaUser)
    }

    /// The remote figures: the plain `ssh host true` floor, Mitogen's
    /// bootstrap over ssh (cold target cache, cached, with the classic kex),
    /// call round trips over it, and sudo through an ssh context. Each
    /// workload records `<workload>_error` on failure and the rest still run.
    func remote(_ out: inout JSONObject, _ target: SSHTarget, cacheHome originalCacheHome: String?) throws {
        let reps = quick ? 3 : 20
        let callReps = quick ? 200 : 20_000
        out["ssh_port"] = .number(Double(target.port))

        step("ssh_kex", &out) { out in
            let version = try runMerged(["ssh", "-V"])
            out["ssh_version"] = .string(version.output.trimmingCharacters(in: " \n"))
            out["ssh_kex"] = .string(try negotiatedKex(target, extra: []))
            out["ssh_kex_forced"] = .string(try negotiatedKex(target, extra: ["-o", "KexAlgorithms=\(SSHTarget.classicKex)"]))
        }

        try runWithRouter { router in
            step("ssh_bootstrap_cold", &out) { out in
                // The master's side as a long-lived master has it: the child
                // hashed and its compressed form on disk (the local section
                // pointed XDG_CACHE_HOME at a throwaway directory; undo that).
                if let cache = originalCacheHome { setenv("XDG_CACHE_HOME", cache, 1) } else { unsetenv("XDG_CACHE_HOME") }
                let path = try childPath()
                let binary = try ChildBinary(path: path)
                _ = try? binary.form(.xz)
                try router.useChildBinary(at: path)

                // The target's side empty: remove this child from every cache directory the first stage looks in.
                let h = binary.hash
                let clear = "rm -f \"${XDG_CACHE_HOME:-$HOME/.cache}/mitogen/mitogen-child-\(h)\""
                    + " \"/tmp/mitogen-$(id -u)/mitogen-child-\(h)\" \"/var/tmp/mitogen-$(id -u)/mitogen-child-\(h)\""
                let cleared = try runMerged(target.plainArgv([clear]))
                guard cleared.ok else { throw BenchError("clearing the target's cache failed: \(lastLines(cleared.output))") }

                let t0 = monotonicNow()
                let cold = try target.connect(router)
                out["ssh_bootstrap_cold_ms"] = .number((monotonicNow() - t0) * 1000)
                let uploaded = router.observer.contexts.first { $0.id == cold.contextID }?.uploadedBytes ?? 0
                out["ssh_cold_uploaded_bytes"] = .number(Double(uploaded))
                if uploaded == 0 { warn("ssh_bootstrap_cold_ms: nothing was uploaded, the target's cache was not empty") }
                try cold.shutdown(wait: true, timeout: 10)
            }

            // The floor and the bootstrap in alternation, each with both kex
            // settings, so that load from other work on the machine falls on
            // all four alike. A failing bootstrap stops the bootstraps only.
            step("ssh_true", &out) { out in
                let classic = ["-o", "KexAlgorithms=\(SSHTarget.classicKex)"]
                var trues: [Double] = [], truesClassic: [Double] = [], boots: [Double] = [], bootsClassic: [Double] = []
                var boots2: [Double] = []
                var bootError: (any Error)?
                func boot(_ extra: [String], _ transport: SSHTransport = .openssh, into list: inout [Double]) {
                    guard bootError == nil else { return }
                    do { list.append(try timedConnect(router, target, extra: extra, transport: transport)) } catch { bootError = error }
                }
                for _ in 0..<reps {
                    trues.append(try sshTrue(target, extra: []))
                    boot([], into: &boots)
                    truesClassic.append(try sshTrue(target, extra: classic))
                    boot(classic, into: &bootsClassic)
                    boot([], .libssh2, into: &boots2)
                }
                out["ssh_true_ms"] = .number(median(trues))
                out["ssh_true_curve25519_ms"] = .number(median(truesClassic))
                out["ssh_true_reps"] = .number(Double(reps))
                if let bootError {
                    out["ssh_bootstrap_error"] = .string("\(bootError)")
                    warn("ssh_bootstrap failed: \(bootError)")
                } else {
                    out["ssh_bootstrap_ms"] = .number(median(boots))
                    out["ssh_bootstrap_curve25519_ms"] = .number(median(bootsClassic))
                    out["ssh2_bootstrap_ms"] = .number(median(boots2))
                    out["ssh_bootstrap_reps"] = .number(Double(reps))
                }
            }

            step("ssh_call_rtt", &out) { out in
                let context = try target.connect(router)
                defer { _ = try? context.shutdown(wait: true, timeout: 10) }
                /// Medians and p99 of `callReps` blocking calls, after 100 to warm up.
                func roundTrips(_ context: Context) throws -> [Double] {
                    for _ in 0..<100 { _ = try context.callValue("os.getpid") }
                    var rtts: [Double] = []
                    rtts.reserveCapacity(callReps)
                    for _ in 0..<callReps {
                        let t = monotonicNow()
                        _ = try context.callValue("os.getpid")
                        rtts.append((monotonicNow() - t) * 1e6)
                    }
                    return rtts.sorted()
                }
                let rtts = try roundTrips(context)
                out["ssh_call_rtt_us_median"] = .number(median(rtts))
                out["ssh_call_rtt_us_p99"] = .number(rtts[min(rtts.count - 1, rtts.count * 99 / 100)])
                out["ssh_call_rtt_reps"] = .number(Double(callReps))
                // The same over the in-process transport: no ssh client hop.
                let direct = try target.connect(router, transport: .libssh2)
                defer { _ = try? direct.shutdown(wait: true, timeout: 10) }
                let directRTTs = try roundTrips(direct)
                out["ssh2_call_rtt_us_median"] = .number(median(directRTTs))
                out["ssh2_call_rtt_us_p99"] = .number(directRTTs[min(directRTTs.count - 1, directRTTs.count * 99 / 100)])
                // The same calls without the reply spin (the caller sleeps at
                // once), as call_rtt_nospin_us_median locally: over ssh the
                // spinning master competes with ssh and sshd for the CPUs.
                var sleepy: [Double] = []
                sleepy.reserveCapacity(callReps)
                for _ in 0..<callReps {
                    let t = monotonicNow()
                    let r = try context.callAsyncValue("os.getpid", args: [])
                    _ = try r.get().unpickle()
                    r.close()
                    sleepy.append((monotonicNow() - t) * 1e6)
                }
                sleepy.sort()
                out["ssh_call_rtt_nospin_us_median"] = .number(median(sleepy))
                out["ssh_call_rtt_nospin_us_p99"] = .number(sleepy[min(sleepy.count - 1, sleepy.count * 99 / 100)])
                // The floor under all of these, in the same run.
                let floor = try catRoundTrips(target, reps: callReps)
                out["ssh_cat_rtt_us_median"] = .number(median(floor))
            }

            step("ssh_fanout", &out) { out in
                for transport in [SSHTransport.openssh, .libssh2] {
                    try fanOut(&out, target, transport: transport, hosts: quick ? 20 : 200)
                }
            }

            if let via = target.sudoVia {
                step("sudo_bootstrap", &out) { out in
                    let hop = try target.connect(router, user: via)
                    defer { _ = try? hop.shutdown(wait: true, timeout: 10) }
                    // One untimed sudo fills root's cache on the target.
                    try router.sudo(connectTimeout: 30, via: hop).shutdown(wait: true, timeout: 10)
                    var boots: [Double] = []
                    for _ in 0..<reps {
                        let t = monotonicNow()
                        let root = try router.sudo(connectTimeout: 30, via: hop)
                        boots.append((monotonicNow() - t) * 1000)
                        try root.shutdown(wait: true, timeout: 10)
                    }
                    out["sudo_bootstrap_ms"] = .number(median(boots))
                    out["sudo_bootstrap_reps"] = .number(Double(reps))
                }
            }
        }
    }

    /// Runs one workload; a failure becomes `<key>_error` in the JSON (and a line on stderr).
    func step(_ key: String, _ out: inout JSONObject, _ body: (inout JSONObject) throws -> Void) {
        do {
            try body(&out)
        } catch {
            out[key + "_error"] = .string("\(error)")
            warn("\(key) failed: \(error)")
        }
    }

    /// Microseconds of round trips of 128 bytes through `ssh host cat`, after
    /// 100 to warm up: the floor under a call over ssh (the client, sshd and
    /// a process that answers at once; no decoding, no dispatch).
    func catRoundTrips(_ target: SSHTarget, reps: Int) throws -> [Double] {
        let (toCat, fromUs) = try FileDescriptor.pipe()
        let (toUs, fromCat) = try FileDescriptor.pipe()
        let null = try FileDescriptor.open("/dev/null", flags: O_WRONLY)
        let argv = target.plainArgv(["cat"])
        let pid = try spawnProcess(SpawnRequest(executable: argv[0], argv: argv, stdin: toCat, stdout: fromCat, stderr: null))
        for fd in [toCat, fromCat, null] { fd.close() }
        defer {
            fromUs.close()
            toUs.close()
            _ = try? waitProcess(pid, block: true)
        }
        let message = [UInt8](repeating: UInt8(ascii: "x"), count: 128)
        func roundTrip() throws {
            try fromUs.writeAll(message)
            var got = 0
            while got < message.count {
                let chunk = try toUs.read(upTo: 4096)
                guard !chunk.isEmpty else { throw BenchError("ssh ... cat ended") }
                got += chunk.count
            }
        }
        for _ in 0..<100 { try roundTrip() }
        var rtts: [Double] = []
        rtts.reserveCapacity(reps)
        for _ in 0..<reps {
            let t = monotonicNow()
            try roundTrip()
            rtts.append((monotonicNow() - t) * 1e6)
        }
        return rtts.sorted()
    }

    /// Milliseconds of one `ssh ... true`.
    func sshTrue(_ target: SSHTarget, extra: [String]) throws -> Double {
        let t = monotonicNow()
        let result = try runMerged(target.plainArgv(extra: extra, ["true"]))
        let ms = (monotonicNow() - t) * 1000
        guard result.ok else { throw BenchError("ssh true failed: \(lastLines(result.output))") }
        return ms
    }

    /// The key exchange ssh negotiates with these options (`debug1: kex: algorithm: X` of `ssh -v`).
    func negotiatedKex(_ target: SSHTarget, extra: [String]) throws -> String {
        let result = try runMerged(target.plainArgv(extra: ["-v"] + extra, ["true"]))
        guard result.ok else { throw BenchError("ssh -v true failed: \(lastLines(result.output))") }
        for line in result.output.split(whereSeparator: \.isNewline) {
            if let range = line.firstRange(of: "kex: algorithm: ") {
                return String(line[range.upperBound...]).trimmingCharacters(in: " \r")
            }
        }
        throw BenchError("ssh -v did not say which kex it negotiated")
    }

    /// Milliseconds until an ssh context is connected (shutdown not timed).
    func timedConnect(_ router: Router, _ target: SSHTarget, extra: [String] = [], transport: SSHTransport = .openssh) throws -> Double {
        let t = monotonicNow()
        let c = try target.connect(router, extra: extra, transport: transport)
        let ms = (monotonicNow() - t) * 1000
        try c.shutdown(wait: true, timeout: 10)
        return ms
    }
}

struct BenchError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// The last two non-empty lines of a tool's output, joined with " | ".
func lastLines(_ output: String) -> String {
    let lines = output.split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: " \r") }.filter { !$0.isEmpty }
    return lines.isEmpty ? "no output" : lines.suffix(2).joined(separator: " | ")
}

func warn(_ text: String) {
    let line = Array("mitogen-bench: \(text)\n".utf8)
    line.withUnsafeBytes { _ = write(2, $0.baseAddress, $0.count) }
}

/// Runs `argv` (looked up on PATH) with stdin from /dev/null and stdout and
/// stderr on one pipe; returns what it printed and whether it exited 0.
func runMerged(_ argv: [String]) throws -> (output: String, ok: Bool) {
    let null = try FileDescriptor.open("/dev/null", flags: O_RDONLY)
    let (r, w) = try FileDescriptor.pipe()
    let pid: pid_t
    do {
        defer { null.close(); w.close() }
        pid = try spawnProcess(SpawnRequest(executable: argv[0], argv: argv, stdin: null, stdout: w, stderr: w))
    } catch {
        r.close()
        throw error
    }
    defer { r.close() }
    var output: [UInt8] = []
    while true {
        let chunk = try r.read(upTo: FileDescriptor.pipeChunkSize)
        if chunk.isEmpty { break }
        output += chunk
    }
    let status = try waitProcess(pid, block: true)
    return (String(decoding: output, as: UTF8.self), status == .exited(0))
}
