package import MitogenLib

/// One drained log line (a copy of `LogRecord`).
package struct LogItem: Equatable, Sendable {
    package var contextID: UInt32
    package var contextName: String
    package var logger: String
    /// Python level: 10 debug, 20 info, 30 warning, 40 error, 50 critical.
    package var level: Int
    package var message: String
    /// Wall-clock seconds since the epoch.
    package var time: Double

    package init(contextID: UInt32, contextName: String, logger: String, level: Int, message: String, time: Double) {
        self.contextID = contextID
        self.contextName = contextName
        self.logger = logger
        self.level = level
        self.message = message
        self.time = time
    }
}

/// The console's log buffer: a ring of the newest `capacity` lines, so memory
/// stays bounded however fast logs arrive; older lines are counted as dropped.
package struct LogStore: Sendable {
    package let capacity: Int
    private var ring: [LogItem] = []
    private var head = 0
    /// Lines pushed out of the ring plus lines the router dropped before we drained them.
    package private(set) var dropped = 0
    /// How many records of the router's log we have taken (router dropped + seen).
    private var routerConsumed = 0

    package init(capacity: Int = 10_000) {
        self.capacity = max(1, capacity)
        ring.reserveCapacity(min(self.capacity, 1 << 16))
    }

    package var count: Int { ring.count }

    /// The `i`-th line, oldest first.
    package subscript(i: Int) -> LogItem { ring[(head + i) % ring.count] }

    package mutating func append(_ item: LogItem) {
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
    package mutating func ingest(records: [LogRecord], routerDropped: Int) -> Int {
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
package struct LogFilter: Equatable, Sendable {
    /// Lines below this level are hidden (0 shows all).
    package var minLevel = 0
    /// Only this context's lines, if set.
    package var contextID: UInt32?
    /// Only lines containing this text (case-insensitive), if not empty.
    package var text = ""

    package init(minLevel: Int = 0, contextID: UInt32? = nil, text: String = "") {
        self.minLevel = minLevel
        self.contextID = contextID
        self.text = text
    }

    package func matches(_ item: LogItem) -> Bool {
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
    package static let levels: [(Int, String)] = [(0, "all"), (20, "info+"), (30, "warning+"), (40, "error+")]

    package var levelName: String { Self.levels.first { $0.0 == minLevel }?.1 ?? "\(minLevel)+" }
}

/// The short name of a Python log level.
package func levelName(_ level: Int) -> String {
    switch level {
    case ..<20: "DEBUG"
    case ..<30: "INFO"
    case ..<40: "WARN"
    case ..<50: "ERROR"
    default: "CRIT"
    }
}
