import ArgumentParser
import Glibc
import MitogenLib
import MitogenSys

/// `mitogen-bench`: measures the figures of the issues and prints one JSON
/// object. Medians over repetitions, with the counts; CPython's pickle is
/// timed in the same run for the codec ratios. Not a test: it asserts nothing.
@main
struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "mitogen-bench", abstract: "Measure codec, bootstrap, call and streaming figures; print JSON.")

    @Flag(help: "Small sizes and few repetitions: proves the benchmark runs (CI).")
    var quick = false

    @Option(help: "Python interpreter for the CPython codec comparison.")
    var python = "python3"

    @Flag(help: "Measure only the codec figures (for profiling).")
    var codecOnly = false

    // The remote section runs only when an sshd is named (--ssh-dir or --ssh-port).

    @Option(help: "A scripts/test-sshd.sh directory: take the sshd's port and known_hosts from it.")
    var sshDir: String?

    @Option(help: "Port of the sshd for the remote figures.")
    var sshPort: Int?

    @Option(help: "Host of the sshd.")
    var sshHost = "127.0.0.1"

    @Option(help: "User to log in as.")
    var sshUser = "mitogen-key"

    @Option(help: "Private key to log in with.")
    var sshKey = "/var/lib/mitogen-test/keys/id_ed25519"

    @Option(help: "known_hosts file that trusts the sshd (default: DIR/known_hosts with --ssh-dir, else ssh's own).")
    var sshKnownHosts: String?

    @Option(help: "User whose ssh context runs the NOPASSWD sudo figure (empty: skip it).")
    var sudoViaUser = "mitogen-bob"

    @Flag(help: "Measure only the remote figures (needs --ssh-dir or --ssh-port).")
    var sshOnly = false

    func validate() throws {
        if sshOnly && sshDir == nil && sshPort == nil {
            throw ValidationError("--ssh-only needs --ssh-dir or --ssh-port")
        }
    }

    func run() throws {
        let target = try sshTarget()
        let cacheHome = getenv("XDG_CACHE_HOME").map { String(cString: $0) }
        var out = JSONObject()
        out["quick"] = .bool(quick)
        if !sshOnly {
            codec(&out)
            snapshotCost(&out)
            if !codecOnly { try runtime(&out) }
        }
        LibSSH2Transport.register()
        if let target, !codecOnly { try remote(&out, target, cacheHome: cacheHome) }
        print(out.text)
    }

    // MARK: Codec

    static let callMessage = Value.tuple([
        .none, "os", .none, "listdir", .tuple(["/tmp", 1, 2.5, true]), .kwargs(PyDict([("follow", .bool(true))])),
    ])

    func codec(_ out: inout JSONObject) {
        let reps = quick ? 2_000 : 200_000
        let blob = Value.blob([UInt8](repeating: 0xab, count: 128 * 1024))
        let blobReps = quick ? 50 : 5_000
        let small = Pickle.dumps(Self.callMessage)
        let big = Pickle.dumps(blob)
        let encSmall = rate(reps) { _ = Pickle.dumps(Self.callMessage) }
        let decSmall = rate(reps) { _ = try? Pickle.loads(small) }
        let encBlob = rate(blobReps) { _ = Pickle.dumps(blob) } * Double(128 * 1024) / 1e6
        let decBlob = rate(blobReps) { _ = try? Pickle.loads(big) } * Double(128 * 1024) / 1e6
        out["codec_call_encode_per_s"] = .number(encSmall)
        out["codec_call_decode_per_s"] = .number(decSmall)
        out["codec_blob128k_encode_MBps"] = .number(encBlob)
        out["codec_blob128k_decode_MBps"] = .number(decBlob)
        if let py = cpythonCodec(reps: reps, blobReps: blobReps) {
            out["cpython_call_dumps_per_s"] = .number(py[0])
            out["cpython_call_loads_per_s"] = .number(py[1])
            out["cpython_blob128k_dumps_MBps"] = .number(py[2])
            out["cpython_blob128k_loads_MBps"] = .number(py[3])
            out["ratio_call_encode_vs_cpython"] = .number(encSmall / py[0])
            out["ratio_call_decode_vs_cpython"] = .number(decSmall / py[1])
            out["ratio_blob_encode_vs_cpython"] = .number(encBlob / py[2])
            out["ratio_blob_decode_vs_cpython"] = .number(decBlob / py[3])
        }
    }

    /// Median operations per second over 5 rounds of `count`.
    func rate(_ count: Int, _ body: () -> Void) -> Double {
        var rates: [Double] = []
        for _ in 0..<5 {
            let t0 = monotonicNow()
            for _ in 0..<count { body() }
            rates.append(Double(count) / (monotonicNow() - t0))
        }
        return median(rates)
    }

    /// CPython's pickle (protocol 2) on the same values, same counts, medians of 5.
    func cpythonCodec(reps: Int, blobReps: Int) -> [Double]? {
        let script = """
            import pickle, time, statistics
            try:
                from mitogen.core import Kwargs, Blob
            except ImportError:
                Kwargs, Blob = dict, bytes
            call = (None, 'os', None, 'listdir', ('/tmp', 1, 2.5, True), Kwargs({'follow': True}))
            blob = Blob(b'\\xab' * 131072)
            def rate(n, f):
                rs = []
                for _ in range(5):
                    t = time.perf_counter()
                    for _ in range(n): f()
                    rs.append(n / (time.perf_counter() - t))
                return statistics.median(rs)
            s = pickle.dumps(call, 2); b = pickle.dumps(blob, 2)
            print(rate(\(reps), lambda: pickle.dumps(call, 2)), rate(\(reps), lambda: pickle.loads(s)),
                  rate(\(blobReps), lambda: pickle.dumps(blob, 2)) * 131072 / 1e6,
                  rate(\(blobReps), lambda: pickle.loads(b)) * 131072 / 1e6)
            """
        guard let text = runCapture([python, "-c", script]) else { return nil }
        let numbers = text.split(separator: " ").compactMap { Double($0.trimmingCharacters(in: " \n")) }
        return numbers.count == 4 ? numbers : nil
    }

    /// What the console pays per refresh: a snapshot of a router that knows
    /// 5000 contexts and holds a full log buffer.
    func snapshotCost(_ out: inout JSONObject) {
        let router = Router()
        defer { router.shutdown(); try? router.join(timeout: 10) }
        for i in 1...5000 {
            router.observer.contextAdded(
                ContextInfo(id: UInt32(i), name: "ctx\(i)", method: "local", parentID: UInt32(i / 10), pid: nil,
                    state: .connected, since: monotonicNow()))
        }
        for i in 0..<6000 {
            router.observer.appendLog(
                LogRecord(contextID: 1, contextName: "ctx1", logger: "x", level: 20, message: "line \(i)", time: 0))
        }
        var costs: [Double] = []
        for _ in 0..<(quick ? 10 : 100) {
            let t = monotonicNow()
            let snap = router.snapshot()
            let logs = router.logs(limit: 1000)
            precondition(snap.contexts.count == 5000 && logs.records.count == 1000)
            costs.append((monotonicNow() - t) * 1e6)
        }
        out["snapshot_5000_contexts_us"] = .number(median(costs))
    }

    // MARK: Runtime

    func runtime(_ out: inout JSONObject) throws {
        try runWithRouter { router in
            // Cold start: an empty cache directory forces the upload path.
            let cold = makeTemporaryDirectory(prefix: "mitogen-bench")
            setenv("XDG_CACHE_HOME", cold, 1)
            let t0 = monotonicNow()
            let first = try router.local()
            out["bootstrap_local_cold_ms"] = .number((monotonicNow() - t0) * 1000)
            try first.shutdown(wait: true, timeout: 10)

            let bootReps = quick ? 3 : 30
            var boots: [Double] = []
            for _ in 0..<bootReps {
                let t = monotonicNow()
                let c = try router.local()
                boots.append((monotonicNow() - t) * 1000)
                try c.shutdown(wait: true, timeout: 10)
            }
            out["bootstrap_local_ms"] = .number(median(boots))
            out["bootstrap_local_reps"] = .number(Double(bootReps))

            var forks: [Double] = []
            for _ in 0..<bootReps {
                let t = monotonicNow()
                let c = try router.fork()
                forks.append((monotonicNow() - t) * 1000)
                try c.shutdown(wait: true, timeout: 10)
            }
            out["bootstrap_fork_ms"] = .number(median(forks))

            let child = try router.local()
            let pid = Int32(try child.callValue("os.getpid").intValue ?? 0)
            out["child_rss_idle_kb"] = .number(Double(rssKB(pid)))
            out["child_rss_anon_idle_kb"] = .number(Double(rssAnonKB(pid)))
            let callReps = quick ? 200 : 20_000
            for _ in 0..<100 { try child.callValue("mitogen.echo", args: [.none]) }
            var rtts: [Double] = []
            rtts.reserveCapacity(callReps)
            for _ in 0..<callReps {
                let t = monotonicNow()
                try child.callValue("mitogen.echo", args: [.none])
                rtts.append((monotonicNow() - t) * 1e6)
            }
            rtts.sort()
            // The same calls without the reply spin (the waiting thread sleeps at
            // once): the cost of one futex wake-up on the call path, same run.
            var sleepy: [Double] = []
            for _ in 0..<callReps {
                let t = monotonicNow()
                let r = try child.callAsyncValue("mitogen.echo", args: [.none])
                _ = try r.get().unpickle()
                r.close()
                sleepy.append((monotonicNow() - t) * 1e6)
            }
            out["call_rtt_nospin_us_median"] = .number(median(sleepy))
            out["call_rtt_us_median"] = .number(median(rtts))
            out["call_rtt_us_p99"] = .number(rtts[min(rtts.count - 1, rtts.count * 99 / 100)])
            out["call_rtt_reps"] = .number(Double(callReps))
            try cancellation(&out, child: child)

            let total = quick ? 16 << 20 : 256 << 20
            var rates: [Double] = []
            for _ in 0..<(quick ? 1 : 3) {
                let receiver = try Receiver(router: router, respondent: child)
                let t = monotonicNow()
                let call = try child.callAsyncValue(
                    "files.get", args: ["/dev/zero", .sender(contextID: 0, handle: receiver.handle), .int(total)])
                var got = 0
                while true {
                    let msg = try receiver.get(timeout: 60)
                    guard let b = try msg.unpickle().bytesValue else { break }
                    got += b.count
                }
                _ = try call.get(timeout: 60)
                rates.append(Double(got) / (monotonicNow() - t) / 1e6)
                receiver.close()
            }
            out["throughput_MBps"] = .number(median(rates))
            out["throughput_bytes"] = .number(Double(total))
            out["child_rss_after_stream_kb"] = .number(Double(rssKB(pid)))
            out["child_rss_anon_after_stream_kb"] = .number(Double(rssAnonKB(pid)))

            // Via chains: build local -> local -> local plus a first call, then its round trip.
            var builds: [Double] = []
            var chainEnd: Context?
            var chainHead: Context?
            for _ in 0..<(quick ? 2 : 10) {
                let t = monotonicNow()
                let h1 = try router.local()
                let h2 = try router.local(via: h1)
                let h3 = try router.local(via: h2)
                _ = try h3.callValue("mitogen.echo", args: [.none])
                builds.append((monotonicNow() - t) * 1000)
                if let old = chainHead { try old.shutdown(wait: true, timeout: 10) }
                chainHead = h1
                chainEnd = h3
            }
            out["via3_build_first_call_ms"] = .number(median(builds))
            if let h3 = chainEnd, let h1 = chainHead {
                for _ in 0..<100 { try h3.callValue("mitogen.echo", args: [.none]) }
                var via: [Double] = []
                let viaReps = quick ? 200 : 20_000
                for _ in 0..<viaReps {
                    let t = monotonicNow()
                    try h3.callValue("mitogen.echo", args: [.none])
                    via.append((monotonicNow() - t) * 1e6)
                }
                via.sort()
                out["via3_call_rtt_us"] = .number(median(via))
                out["via3_call_rtt_us_p99"] = .number(via[min(via.count - 1, via.count * 99 / 100)])
                out["via3_call_rtt_reps"] = .number(Double(viaReps))
                // A cold cache behind the first hop: the binary must not come through the master.
                let before = router.snapshot().streams.first { $0.contextID == h1.contextID }?.counters.bytesOut ?? 0
                let extra = try router.local(via: h1)
                _ = try extra.callValue("mitogen.echo", args: [.none])
                let after = router.snapshot().streams.first { $0.contextID == h1.contextID }?.counters.bytesOut ?? 0
                out["via_start_master_bytes_out"] = .number(Double(after - before))
                try h1.shutdown(wait: true, timeout: 10)
            }

            let fan = quick ? 5 : 50
            let tf = monotonicNow()
            let many = try (0..<fan).map { _ in try router.local() }
            for c in many { try c.callValue("os.getpid") }
            out["fanout\(fan)_s"] = .number(monotonicNow() - tf)
            var selects: [Double] = []
            for _ in 0..<(quick ? 3 : 20) {
                let ts = monotonicNow()
                _ = try Select.all(many.map { try $0.callAsync("os.getpid") })
                selects.append((monotonicNow() - ts) * 1000)
            }
            out["select\(fan)_ms"] = .number(median(selects))
            for c in many { try c.shutdown() }

            if let path = try? childPath() {
                out["child_binary_bytes"] = .number(Double(fileSize(path)))
                if let xz = runCapture(["sh", "-c", "xz -9e -T1 -c '\(path)' | wc -c"]), let n = Double(xz.trimmingCharacters(in: " \n")) {
                    out["child_binary_xz_bytes"] = .number(n)
                }
            }
            _ = system("rm -rf '\(cold)'")
        }
    }
}

func median(_ xs: [Double]) -> Double {
    let s = xs.sorted()
    return s.isEmpty ? 0 : s.count % 2 == 1 ? s[s.count / 2] : (s[s.count / 2 - 1] + s[s.count / 2]) / 2
}

/// The child's private memory (RssAnon): RSS minus the executable's pages,
/// which live in the page cache and are shared by every child of one hash.
func rssAnonKB(_ pid: Int32) -> Int { statusField(pid, "RssAnon:") }

func rssKB(_ pid: Int32) -> Int { statusField(pid, "VmRSS:") }

func statusField(_ pid: Int32, _ field: String) -> Int {
    guard let f = fopen("/proc/\(pid)/status", "r") else { return 0 }
    defer { fclose(f) }
    var line = [CChar](repeating: 0, count: 256)
    while fgets(&line, 256, f) != nil {
        let s = String(decoding: line.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        if s.hasPrefix(field) { return Int(s.split(separator: " ").dropFirst().first ?? "0") ?? 0 }
    }
    return 0
}

func fileSize(_ path: String) -> Int {
    var st = stat()
    return stat(path, &st) == 0 ? Int(st.st_size) : 0
}

func childPath() throws -> String {
    let me = ownExecutablePath() ?? ""
    return String(me[..<(me.lastIndex(of: "/") ?? me.endIndex)]) + "/mitogen-child"
}

/// Runs argv and returns its stdout, or nil if it failed.
func runCapture(_ argv: [String]) -> String? {
    let command = argv.map { "'" + $0.split(separator: "'", omittingEmptySubsequences: false).joined(separator: "'\\''") + "'" }
        .joined(separator: " ")
    guard let p = popen(command + " 2>/dev/null", "r") else { return nil }
    var text = ""
    var buf = [CChar](repeating: 0, count: 4096)
    while fgets(&buf, 4096, p) != nil { text += String(decoding: buf.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self) }
    return pclose(p) == 0 ? text : nil
}

extension StringProtocol {
    func trimmingCharacters(in set: String) -> String {
        String(drop { set.contains($0) }.reversed().drop { set.contains($0) }.reversed())
    }
}

/// `text` as a JSON string literal.
func jsonQuoted(_ text: String) -> String {
    var out = "\""
    for scalar in text.unicodeScalars {
        switch scalar {
        case "\"": out += "\\\""
        case "\\": out += "\\\\"
        case "\n": out += "\\n"
        case "\r": out += "\\r"
        case "\t": out += "\\t"
        case _ where scalar.value < 0x20:
            let hex = String(scalar.value, radix: 16)
            out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
        default: out.unicodeScalars.append(scalar)
        }
    }
    return out + "\""
}

/// A flat JSON object in insertion order.
struct JSONObject {
    enum Field { case number(Double), bool(Bool), string(String) }
    private var fields: [(String, Field)] = []
    subscript(key: String) -> Field? {
        get { fields.first { $0.0 == key }?.1 }
        set { if let newValue { fields.append((key, newValue)) } }
    }
    var text: String {
        "{\n" + fields.map { key, value in
            let v: String
            switch value {
            case .bool(let b): v = b ? "true" : "false"
            case .string(let s): v = jsonQuoted(s)
            case .number(let d): v = d.isFinite ? (d == d.rounded() && abs(d) < 1e15 ? String(Int(d)) : String((d * 1000).rounded() / 1000)) : "null"
            }
            return "  \"\(key)\": \(v)"
        }.joined(separator: ",\n") + "\n}"
    }
}
