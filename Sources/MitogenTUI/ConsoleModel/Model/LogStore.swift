import MitogenLib

/// One drained log line (a copy of `LogRecord`).
struct LogItem: Equatable, Sendable {
    var contextID: UInt32
    var contextName: String
    var logger: String
    /// Python level: 10 debug, 20 info, 30 warning, 40 error, 50 critical.
    var level: Int
    var message: String
    /// Wall-clock seconds since the epoch.
    var time: Double
}

/// The console's log buffer: a ring of the newest `capacity` lines, so memory
/// stays bounded however fast logs arrive; older lines are counted as dropped.
struct LogStore: Sendable {
    let capacity: Int
    private var ring: [LogItem] = []
    private var head = 0
    /// Lines pushed out of the ring plus lines the router dropped before we drained them.
    private(set) var dropped = 0
    /// How many records of the router's log we have taken (router dropped + seen).
    private var routerConsumed = 0

    init(capacity: Int = 10_000) {
        self.capacity = max(1, capacity)
        ring.reserveCapacity(min(self.capacity, 1 << 16))
    }

    var count: Int { ring.count }

    /// The `i`-th line, oldest first.
    subscript(i: Int) -> LogItem { ring[(head + i) % ring.count] }

    mutating func append(_ item: LogItem) {
        if ring.count < capacity {
            ring.append(item)
        } else {
            ring[head] = item
            head = (head + 1) % capacity
            dropped += 1
        }
    }

    /// Takes the records that arrived since the last call from a
    /// `Router.logs()` window: the router reports its newest records and how
    /// many it dropped in all, so new = (dropped + count) - consumed so far.
    /// - Returns: how many lines were added.
    @discardableResult
    mutating func ingest(records: [LogRecord], routerDropped: Int) -> Int {
        let total = routerDropped + records.count
        let fresh = total - routerConsumed
        guard fresh > 0 else { return 0 }
        routerConsumed = total
        if fresh > records.count { dropped += fresh - records.count }
        for r in records.suffix(fresh) {
            append(
                LogItem(
                    contextID: r.contextID, contextName: r.contextName, logger: r.logger, level: r.level,
                    message: r.message, time: r.time))
        }
        return min(fresh, records.count)
    }
}

/// Which log lines the logs pane shows.
struct LogFilter: Equatable, Sendable {
    /// Lines below this level are hidden (0 shows all).
    var minLevel = 0
    /// Only this context's lines, if set.
    var contextID: UInt32?
    /// Only lines containing this text (case-insensitive), if not empty.
    var text = ""

    func matches(_ item: LogItem) -> Bool {
        if item.level < minLevel { return false }
        if let id = contextID, item.contextID != id { return false }
        if !text.isEmpty {
            let needle = text.lowercased()
            if !item.message.lowercased().contains(needle) && !item.contextName.lowercased().contains(needle)
                && !item.logger.lowercased().contains(needle)
            {
                return false
            }
        }
        return true
    }

    /// The levels `l` cycles through.
    static let levels: [(Int, String)] = [(0, "all"), (20, "info+"), (30, "warning+"), (40, "error+")]

    var levelName: String { Self.levels.first { $0.0 == minLevel }?.1 ?? "\(minLevel)+" }
}

/// The short name of a Python log level.
func levelName(_ level: Int) -> String {
    switch level {
    case ..<20: "DEBUG"
    case ..<30: "INFO"
    case ..<40: "WARN"
    case ..<50: "ERROR"
    default: "CRIT"
    }
}
