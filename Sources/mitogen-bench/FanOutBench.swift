import Glibc
import MitogenLib
import MitogenSys
import Synchronization

/// The wide fan-out figures: `hosts` ssh contexts opened at once on the
/// loopback sshd and a call answered by each, per transport, in a router of
/// their own. Reported: wall time, the master's peak RSS above its baseline
/// (per host too), its descriptors and threads with every context open, the
/// ssh client processes (OpenSSH only) and their RSS, and apart from all of
/// it the target side's CPU (sshd and the children, the same for both).
extension Bench {
    /// Callers connecting at once: `connect` blocks its caller, so a pool
    /// keeps up to this many starts in flight (the same for both transports).
    static let fanOutCallers = 20

    func fanOut(_ out: inout JSONObject, _ target: SSHTarget, transport: SSHTransport, hosts: Int) throws {
        let key = "ssh_fanout_\(transport.rawValue)"
        let listener = sshdListenerPID()
        let cpuBefore = listener.map(reapedChildrenCPU) ?? 0
        try runWithRouter { router in
            // Warm: the child hashed and cached on the target.
            try target.connect(router, transport: transport).shutdown(wait: true, timeout: 10)
            resetPeakRSS()
            let baseRSS = rssKB(getpid())
            let baseFDs = entryCount("/proc/self/fd")
            let contexts = Mutex<[Context]>([])
            let failures = Mutex<[String]>([])
            let next = Atomic<Int>(0)
            let t0 = monotonicNow()
            let callers = (0..<Self.fanOutCallers).map { _ in
                startJoinableThread(name: "fan-out") {
                    while next.add(1, ordering: .relaxed).oldValue < hosts {
                        do {
                            let c = try target.connect(router, transport: transport, timeout: 120)
                            contexts.withLock { $0.append(c) }
                        } catch {
                            failures.withLock { $0.append("\(error)") }
                        }
                    }
                }
            }
            for t in callers { pthread_join(t, nil) }
            let open = contexts.withLock { $0 }
            if let first = failures.withLock({ $0.first }) {
                throw BenchError("\(failures.withLock { $0.count }) of \(hosts) \(transport) connects failed: \(first)")
            }
            let replies = try open.map { try $0.callAsync("os.getpid") }
            for r in replies { _ = try r.get(timeout: 60) }
            let elapsed = monotonicNow() - t0
            let clients = childProcesses(named: "ssh")
            out[key + "_s"] = .number(elapsed)
            out[key + "_hosts"] = .number(Double(hosts))
            out[key + "_rss_peak_mib"] = .number(Double(statusField(getpid(), "VmHWM:")) / 1024)
            out[key + "_rss_per_host_kib"] = .number(Double(statusField(getpid(), "VmHWM:") - baseRSS) / Double(hosts))
            out[key + "_fds"] = .number(Double(entryCount("/proc/self/fd") - baseFDs))
            out[key + "_threads"] = .number(Double(entryCount("/proc/self/task")))
            out[key + "_client_processes"] = .number(Double(clients.count))
            out[key + "_client_rss_mib"] = .number(Double(clients.map(rssKB).reduce(0, +)) / 1024)
            // The router's exit waits for them; a second, waiting shutdown would only log "no route".
            for c in open { _ = try? c.shutdown(wait: false) }
        }
        if let listener {
            // The sessions' processes end after the contexts; sshd reaps them.
            var cpu = reapedChildrenCPU(listener) - cpuBefore
            for _ in 0..<30 {
                usleep(100_000)
                let now = reapedChildrenCPU(listener) - cpuBefore
                if now == cpu { break }
                cpu = now
            }
            out[key + "_target_cpu_s"] = .number(cpu)
        }
    }

    /// The sshd listener of `--ssh-dir` (its pid file), for the target side's CPU.
    func sshdListenerPID() -> Int32? {
        guard let dir = sshDir, let text = try? readWholeFile(dir + "/sshd.pid") else { return nil }
        return Int32(String(decoding: text, as: UTF8.self).filter(\.isNumber))
    }
}

/// Seconds of CPU of `pid`'s reaped descendants (cutime + cstime of /proc/PID/stat).
func reapedChildrenCPU(_ pid: Int32) -> Double {
    guard let stat = try? readWholeFile("/proc/\(pid)/stat") else { return 0 }
    let text = String(decoding: stat, as: UTF8.self)
    guard let close = text.lastIndex(of: ")") else { return 0 }
    // After ")": state is field 3; cutime and cstime are fields 16 and 17.
    let fields = text[text.index(close, offsetBy: 2)...].split(separator: " ")
    guard fields.count > 14, let cu = Double(fields[13]), let cs = Double(fields[14]) else { return 0 }
    return (cu + cs) / Double(sysconf(Int32(_SC_CLK_TCK)))
}

/// Resets VmHWM to the current RSS (Linux ≥ 4.0: "5" into clear_refs).
func resetPeakRSS() {
    let fd = open("/proc/self/clear_refs", O_WRONLY)
    guard fd >= 0 else { return }
    _ = write(fd, "5", 1)
    close(fd)
}

/// Entries of a /proc directory (descriptors, threads), "." and ".." not counted.
func entryCount(_ path: String) -> Int {
    guard let dir = opendir(path) else { return 0 }
    defer { closedir(dir) }
    var n = 0
    while let entry = readdir(dir) {
        if entry.pointee.d_name.0 != UInt8(ascii: ".") { n += 1 }
    }
    return n
}

/// Children of this process whose command name is `name`.
func childProcesses(named name: String) -> [Int32] {
    let me = getpid()
    guard let dir = opendir("/proc") else { return [] }
    defer { closedir(dir) }
    var found: [Int32] = []
    while let entry = readdir(dir) {
        let pidText = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        guard let pid = Int32(pidText), let stat = try? readWholeFile("/proc/\(pid)/stat") else { continue }
        let text = String(decoding: stat, as: UTF8.self)
        guard let open = text.firstIndex(of: "("), let close = text.lastIndex(of: ")") else { continue }
        let fields = text[text.index(close, offsetBy: 2)...].split(separator: " ")
        if text[text.index(after: open)..<close] == name, fields.count > 1, Int32(fields[1]) == me { found.append(pid) }
    }
    return found
}
