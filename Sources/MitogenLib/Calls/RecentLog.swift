import MitogenSys
import Synchronization

/// The last few log lines of this context, for `mitogen.inflight_detail`:
/// what it said just before it got stuck. Bounded: `capacity` lines of at
/// most `lineLimit` characters.
package final class RecentLog: Sendable {
    package static let shared = RecentLog()
    let capacity = 50
    let lineLimit = 300
    private let lines = Lock<[String]>([])

    package func append(_ line: String) {
        let cut = line.count > lineLimit ? String(line.prefix(lineLimit)) + "…" : line
        lines.withLock { l in
            l.append(cut)
            if l.count > capacity { l.removeFirst(l.count - capacity) }
        }
    }

    /// Up to `count` most recent lines, oldest first.
    package func tail(_ count: Int) -> [String] { lines.withLock { Array($0.suffix(count)) } }
}
