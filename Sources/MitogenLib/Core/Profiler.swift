import CMitogenSys
import Glibc
import Synchronization
import MitogenWire
import MitogenSys

/// Per-name call counts and times, written as a text table on graceful exit
/// when profiling is on (the seed's `profiling`: Mitogen writes a cProfile
/// dump to `/tmp/mitogen.stats.<pid>.<thread>.log`).
///
/// Swift has no cProfile; what we record instead is, in a child, every
/// function the dispatcher ran (count, total, mean and max seconds), and in a
/// master, every call it waited on, by function name (round-trip times).
public final class Profiler: Sendable {
    struct Entry {
        var count = 0
        var total = 0.0
        var max = 0.0
    }
    private let entries = Lock<[String: Entry]>([:])

    public init() {}

    public func record(_ name: String, seconds: Double) {
        entries.withLock { map in
            var e = map[name] ?? Entry()
            e.count += 1
            e.total += seconds
            e.max = Swift.max(e.max, seconds)
            map[name] = e
        }
    }

    /// The table: one line per name, slowest total first.
    public var report: String {
        let rows = entries.withLock { $0 }.sorted { $0.value.total > $1.value.total }
        var text = "# calls  total_s  mean_us  max_us  name\n"
        for (name, e) in rows {
            let mean = e.count > 0 ? e.total / Double(e.count) * 1e6 : 0
            text += "\(e.count)  \(fixed(e.total, 6))  \(fixed(mean, 1))  \(fixed(e.max * 1e6, 1))  \(name)\n"
        }
        return text
    }

    /// Writes `report` to `/tmp/mitogen.stats.<pid>.<thread>.log` (atomically:
    /// a reader never sees a half-written table; private to this user, never
    /// through a planted symlink); returns the path.
    @discardableResult
    public func write(threadName: String) -> String {
        let path = "/tmp/mitogen.stats.\(getpid()).\(threadName).log"
        try? writePrivateFileAtomically(path, Array(report.utf8))
        return path
    }
}

/// `value` with `digits` decimals, without Foundation's String(format:).
func fixed(_ value: Double, _ digits: Int) -> String {
    var scale = 1.0
    for _ in 0..<digits { scale *= 10 }
    let n = Int((value * scale).rounded())
    let whole = n / Int(scale), frac = abs(n % Int(scale))
    if digits == 0 { return String(whole) }
    let f = String(frac)
    return (n < 0 && whole == 0 ? "-" : "") + String(whole) + "." + String(repeating: "0", count: digits - f.count) + f
}
