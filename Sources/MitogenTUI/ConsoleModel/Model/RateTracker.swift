import MitogenLib
import Glibc

/// Byte rates of each stream, sampled about once a second, with the last
/// minute kept for sparklines.
package struct RateTracker: Sendable {
    package struct Series: Sendable {
        var lastTime: Double
        var lastIn: UInt64
        var lastOut: UInt64
        /// Bytes per second in and out over the last interval.
        package var rateIn: Double = 0
        package var rateOut: Double = 0
        /// In+out bytes per second, oldest first, at most `keep` samples.
        package var history: [Double] = []
    }

    /// Samples kept per stream (one a second: a minute).
    var keep = 60
    /// Seconds between samples.
    var interval = 1.0
    private(set) var series: [UInt32: Series] = [:]

    package init() {}

    /// Records the counters of `streams` at monotonic `time`, if at least
    /// `interval` has passed since that stream's last sample.
    package mutating func sample(_ streams: [StreamItem], time: Double) {
        for s in streams {
            guard var entry = series[s.contextID] else {
                series[s.contextID] = Series(lastTime: time, lastIn: s.bytesIn, lastOut: s.bytesOut)
                continue
            }
            let dt = time - entry.lastTime
            guard dt >= interval else { continue }
            entry.rateIn = Double(s.bytesIn &- entry.lastIn) / dt
            entry.rateOut = Double(s.bytesOut &- entry.lastOut) / dt
            entry.lastIn = s.bytesIn
            entry.lastOut = s.bytesOut
            entry.lastTime = time
            entry.history.append(entry.rateIn + entry.rateOut)
            if entry.history.count > keep { entry.history.removeFirst(entry.history.count - keep) }
            series[s.contextID] = entry
        }
    }

    package subscript(id: UInt32) -> Series? { series[id] }
}

/// Sparklines: a series of values drawn as one row of block glyphs.
package enum Sparkline {
    static let unicodeGlyphs: [Character] = ["▁", "▂", "▃", "▄", "▅", "▆", "▇", "█"]
    static let asciiGlyphs: [Character] = ["_", ".", "-", "=", "+", "*", "#", "@"]

    /// The last `width` values scaled to the largest of them; a zero value is
    /// a space so idle time is visible. Right-aligned: newest at the end.
    package static func render(_ values: [Double], width: Int, ascii: Bool) -> String {
        guard width > 0 else { return "" }
        let shown = values.suffix(width)
        let top = shown.max() ?? 0
        let glyphs = ascii ? asciiGlyphs : unicodeGlyphs
        var out = String(repeating: " ", count: width - shown.count)
        for v in shown {
            if v <= 0 || top <= 0 {
                out.append(" ")
            } else {
                let i = min(glyphs.count - 1, Int((v / top) * Double(glyphs.count - 1) + 0.5))
                out.append(glyphs[i])
            }
        }
        return out
    }
}

/// Human-readable sizes and durations for the tables.
package enum Format {
    /// `512B`, `1.5K`, `12M`, `3.0G`.
    package static func bytes(_ n: Double) -> String {
        let units = ["B", "K", "M", "G", "T"]
        var v = n
        var i = 0
        while v >= 1024 && i < units.count - 1 {
            v /= 1024
            i += 1
        }
        if i == 0 { return "\(Int(v))B" }
        if v < 10 {
            let tenths = Int((v * 10).rounded())
            return "\(tenths / 10).\(tenths % 10)\(units[i])"
        }
        return "\(Int(v.rounded()))\(units[i])"
    }

    /// `5s`, `3m12s`, `2h05m`, `3d04h`.
    package static func age(_ seconds: Double) -> String {
        let s = max(0, Int(seconds))
        if s < 60 { return "\(s)s" }
        if s < 3600 { return "\(s / 60)m\(two(s % 60))s" }
        if s < 86400 { return "\(s / 3600)h\(two((s / 60) % 60))m" }
        return "\(s / 86400)d\(two((s / 3600) % 24))h"
    }

    /// `HH:MM:SS` of a wall-clock time, in local time.
    package static func clock(_ time: Double) -> String {
        var t = time_t(time)
        var parts = tm()
        localtime_r(&t, &parts)
        return "\(two(Int(parts.tm_hour))):\(two(Int(parts.tm_min))):\(two(Int(parts.tm_sec)))"
    }

    private static func two(_ n: Int) -> String { n < 10 ? "0\(n)" : "\(n)" }
}
