/// Bounds how many log lines per second each context may have the master
/// keep and print (FORWARD_LOG): a token bucket per context, so a child that
/// logs in a loop costs the master a bounded amount of CPU and log space,
/// and a burst after quiet passes untouched. What is dropped is counted and
/// reported in one warning line when that context's next line is let through.
struct LogRateLimiter {
    /// Lines a second a context may log, sustained.
    static let linesPerSecond = 1000.0
    /// Lines a context may log at once after a quiet spell.
    static let burst = 2000.0
    /// Contexts tracked at most; past it the idlest buckets are forgotten
    /// (a forgotten context simply starts again with a full bucket).
    static let maxTracked = 4096

    private struct Bucket {
        var tokens = LogRateLimiter.burst
        var last: Double
        var dropped = 0
    }
    private var buckets: [UInt32: Bucket] = [:]

    /// Whether a line from `id` at `now` (seconds) may be kept, and how many
    /// of its lines were dropped before it (to report first).
    mutating func admit(_ id: UInt32, now: Double) -> (admitted: Bool, droppedBefore: Int) {
        if buckets[id] == nil, buckets.count >= Self.maxTracked {
            let idlest = buckets.sorted { $0.value.last < $1.value.last }.prefix(Self.maxTracked / 4).map(\.key)
            for key in idlest { buckets[key] = nil }
        }
        var b = buckets[id] ?? Bucket(last: now)
        b.tokens = min(Self.burst, b.tokens + (now - b.last) * Self.linesPerSecond)
        b.last = now
        guard b.tokens >= 1 else {
            b.dropped += 1
            buckets[id] = b
            return (false, 0)
        }
        b.tokens -= 1
        let dropped = b.dropped
        b.dropped = 0
        buckets[id] = b
        return (true, dropped)
    }
}
