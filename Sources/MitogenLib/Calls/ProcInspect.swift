import Glibc
import MitogenSys
import MitogenWire

/// What `/proc` says about a process or a descriptor, for
/// `mitogen.inflight`: enough to see what a call is stuck on without strace.
/// Every read is bounded and every field optional: a process may exit
/// between two reads.
enum ProcInspect {
    /// `{pid, cmdline, state, wchan, children}` of `pid`, children to `depth`
    /// levels (a shell's pipeline under it).
    static func process(_ pid: Int32, depth: Int = 3) -> Value {
        var d = PyDict([("pid", .int(Int(pid)))])
        if let raw = read("/proc/\(pid)/cmdline", limit: 4096) {
            let words = raw.split(separator: 0, omittingEmptySubsequences: false).dropLast(raw.last == 0 ? 1 : 0)
            d["cmdline"] = .list(words.map { .str(String(decoding: $0, as: UTF8.self)) })
        }
        if let stat = read("/proc/\(pid)/stat", limit: 4096).map({ String(decoding: $0, as: UTF8.self) }),
            let close = stat.lastIndex(of: ")")
        {
            // "pid (comm) S ppid ...": the name may hold spaces and parens, so cut at the last ')'.
            let fields = stat[stat.index(after: close)...].split(separator: " ")
            if let state = fields.first { d["state"] = .str(String(state)); d["state_name"] = .str(stateName(state)) }
        }
        if let wchan = read("/proc/\(pid)/wchan", limit: 256) {
            let text = String(decoding: wchan, as: UTF8.self)
            d["wchan"] = .str(text.isEmpty ? "0" : text)
        }
        if depth > 0 {
            d["children"] = .list(childPIDs(of: pid).prefix(32).map { process($0, depth: depth - 1) })
        }
        return .dict(d)
    }

    /// The pids `/proc/PID/task/*/children` lists (Linux 3.5+, CONFIG_PROC_CHILDREN).
    static func childPIDs(of pid: Int32) -> [Int32] {
        guard let dir = opendir("/proc/\(pid)/task") else { return [] }
        defer { closedir(dir) }
        var out: [Int32] = []
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
            }
            guard Int32(name) != nil, let text = read("/proc/\(pid)/task/\(name)/children", limit: 4096) else { continue }
            out += String(decoding: text, as: UTF8.self).split(separator: " ").compactMap { Int32($0) }
        }
        return out
    }

    /// `{fd, target, kind}` of our descriptor `fd`: a file path, `pipe:[ino]`,
    /// or `socket:[ino]` (with the peer's address when it has one).
    static func descriptor(_ fd: Int32) -> Value {
        var d = PyDict([("fd", .int(Int(fd)))])
        var buf = [CChar](repeating: 0, count: 4096)
        let n = readlink("/proc/self/fd/\(fd)", &buf, buf.count - 1)
        let target = n > 0 ? String(decoding: buf[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self) : "?"
        d["target"] = .str(target)
        let kind = target.hasPrefix("pipe:") ? "pipe" : target.hasPrefix("socket:") ? "socket" : target.hasPrefix("/") ? "file" : "other"
        d["kind"] = .str(kind)
        if kind == "socket", let peer = peerName(fd) { d["peer"] = .str(peer) }
        return .dict(d)
    }

    /// `getpeername` as text: `ip:port`, a unix path, or nil.
    static func peerName(_ fd: Int32) -> String? {
        var storage = sockaddr_storage()
        var len = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let rc = withUnsafeMutablePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getpeername(fd, $0, &len) }
        }
        guard rc == 0 else { return nil }
        switch Int32(storage.ss_family) {
        case AF_INET:
            return withUnsafeBytes(of: &storage) { raw in
                let a = raw.load(as: sockaddr_in.self)
                let ip = withUnsafeBytes(of: a.sin_addr) { Array($0) }.map(String.init).joined(separator: ".")
                return "\(ip):\(UInt16(bigEndian: a.sin_port))"
            }
        case AF_UNIX:
            return withUnsafeBytes(of: &storage) { raw in
                let path = raw[2..<min(Int(len), raw.count)].prefix { $0 != 0 }
                return path.isEmpty ? "unix:(unnamed)" : "unix:" + String(decoding: path, as: UTF8.self)
            }
        default:
            return "family \(storage.ss_family)"
        }
    }

    static func stateName(_ code: Substring) -> String {
        switch code {
        case "R": "running"
        case "S": "sleeping"
        case "D": "disk sleep"
        case "Z": "zombie"
        case "T": "stopped"
        case "t": "tracing stop"
        case "X", "x": "dead"
        case "I": "idle"
        default: String(code)
        }
    }

    /// Up to `limit` bytes of a small /proc file, nil if it cannot be read.
    static func read(_ path: String, limit: Int) -> [UInt8]? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var out = [UInt8](repeating: 0, count: limit)
        var total = 0
        while total < limit {
            let n = out.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress! + total, limit - total) }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { break }
            total += n
        }
        return Array(out[0..<total])
    }
}
