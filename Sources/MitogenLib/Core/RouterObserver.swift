import Synchronization
package import MitogenWire
import MitogenSys

/// A call the router is waiting on: what the console shows as "pending".
public struct PendingCall: Sendable, Equatable {
    public var handle: UInt32
    public var contextID: UInt32
    public var contextName: String?
    public var function: String
    /// The arguments as Python text, with secrets shown as `[secret]`.
    public var arguments: String
    /// Monotonic time the call started (`monotonicNow()`).
    public var since: Double
    /// The call's timeout in seconds, nil for none.
    public var timeout: Double? = nil

    /// Monotonic time its deadline passes, nil for none.
    public var deadline: Double? { timeout.map { since + $0 } }
}

/// One log record drained from any context.
public struct LogRecord: Sendable, Equatable {
    public var contextID: UInt32
    public var contextName: String
    public var logger: String
    /// Python level number: 10 debug, 20 info, 30 warning, 40 error, 50 critical.
    public var level: Int
    public var message: String
    public var time: Double

    public init(contextID: UInt32, contextName: String, logger: String, level: Int, message: String, time: Double) {
        self.contextID = contextID
        self.contextName = contextName
        self.logger = logger
        self.level = level
        self.message = message
        self.time = time
    }
}

/// The router's view for observers (the console, tests): pending calls,
/// drained logs, and a change counter that bumps on every update. Reads are
/// cheap copies under a lock; nothing here blocks the broker for long.
public final class RouterObserver: Sendable {
    private struct State {
        var pending: [UInt32: PendingCall] = [:]
        var logs: [LogRecord] = []
        var logStart = 0
        var droppedLogs = 0
        /// UTF-8 bytes of the live records' messages.
        var logBytes = 0
        var generation: UInt64 = 0
    }
    private let state = Lock(State())
    private let changeHooks = Lock<[@Sendable () -> Void]>([])
    let contextTable = Lock<[UInt32: ContextInfo]>([:])
    /// Per context id: told each new `ContextInfo` of it (see `watchContext`).
    let contextWatchers = Lock<[UInt32: @Sendable (ContextInfo) -> Void]>([:])
    /// How many log records are kept; older ones are dropped (and counted).
    public let logCapacity = 5000
    /// Most UTF-8 bytes of messages kept in all: older records are dropped
    /// (and counted) to stay under it. A record from a child is already cut
    /// to `maxLogRecordBytes`, so many long records cannot add up to
    /// `logCapacity` times that.
    public let logByteCapacity = 16 << 20
    /// Most contexts kept in `contexts` once gone or failed; the oldest of
    /// them are forgotten first, so a long-running master's table does not
    /// grow with every context it ever started.
    public let goneContextCapacity = 1000

    /// Runs `fn` (on whatever thread made the change) after every change.
    /// Keep it cheap: e.g. write a byte to a wake-up pipe.
    public func onChange(_ fn: @escaping @Sendable () -> Void) { changeHooks.withLock { $0.append(fn) } }

    private func changed(_ body: (inout State) -> Void) {
        state.withLock {
            body(&$0)
            $0.generation &+= 1
        }
        for hook in changeHooks.withLock({ $0 }) { hook() }
    }

    func notifyChanged() { changed { _ in } }

    /// Bumps with every change.
    public var generation: UInt64 { state.withLock { $0.generation } }

    /// Calls waiting for a reply, oldest first.
    public var pendingCalls: [PendingCall] {
        state.withLock { Array($0.pending.values) }.sorted { $0.since < $1.since }
    }

    /// Up to `limit` most recent log records, oldest first, and how many were dropped in all.
    public func logs(limit: Int = 5000) -> (records: [LogRecord], dropped: Int) {
        state.withLock { s in
            let live = s.logs[s.logStart...]
            return (Array(live.suffix(limit)), s.droppedLogs)
        }
    }

    func callStarted(handle: UInt32, context: Context, function: String, args: [Value], kwargs: PyDict, timeout: Double? = nil) {
        let call = PendingCall(
            handle: handle, contextID: context.contextID, contextName: context.name, function: function,
            arguments: Value.argumentsText(args, kwargs), since: monotonicNow(), timeout: timeout)
        changed { $0.pending[handle] = call }
    }

    func callFinished(handle: UInt32) {
        changed { $0.pending[handle] = nil }
    }

    package func appendLog(_ record: LogRecord) {
        changed { s in
            s.logs.append(record)
            s.logBytes += record.message.utf8.count
            while s.logs.count - s.logStart > logCapacity || (s.logBytes > logByteCapacity && s.logs.count - s.logStart > 1) {
                s.logBytes -= s.logs[s.logStart].message.utf8.count
                s.logStart += 1
                s.droppedLogs += 1
            }
            if s.logStart > logCapacity {
                s.logs.removeFirst(s.logStart)
                s.logStart = 0
            }
        }
    }

    func streamGone(_ stream: Stream) { notifyChanged() }
    func contextGone(_ id: UInt32) {
        contextTable.withLock { table in
            if let info = table[id], case .failed = info.state {} else { table[id]?.state = .gone }
            Self.forgetOldGone(&table, keeping: goneContextCapacity)
        }
        notifyChanged()
    }

    /// Drops the oldest gone or failed contexts beyond `keeping` (down to 90 %
    /// of it, so the sort runs once per many contexts, not for each).
    private static func forgetOldGone(_ table: inout [UInt32: ContextInfo], keeping: Int) {
        let ended = table.values.filter {
            switch $0.state {
            case .gone, .failed: true
            default: false
            }
        }
        guard ended.count > keeping else { return }
        for info in ended.sorted(by: { $0.since < $1.since }).prefix(ended.count - keeping * 9 / 10) {
            table[info.id] = nil
        }
    }
    func brokerExited() { notifyChanged() }
}

extension Value {
    /// `a, b, key=c` for displays, secrets hidden.
    package static func argumentsText(_ args: [Value], _ kwargs: PyDict) -> String {
        (args.map(\.displayText) + kwargs.map { "\($0.key.stringValue ?? "?")=\($0.value.displayText)" })
            .joined(separator: ", ")
    }
}

/// Where a context is in its life, as the console shows it.
public enum ContextState: Sendable, Equatable, CustomStringConvertible {
    /// The transport is starting (process spawned, waiting for the first stage).
    case connecting
    /// The tool (ssh, sudo, su, doas) asked for a password or a key
    /// question and was answered; waiting for it to let us through.
    case authenticating
    /// The child binary is being uploaded: bytes sent of total.
    case uploading(sent: Int, total: Int)
    /// The first stage runs (the child is cached or uploaded); waiting for
    /// the child to say it is ready.
    case bootstrapping
    /// Ready: calls can be made.
    case connected
    /// Connection failed with this error text.
    case failed(String)
    /// Asked to shut down; waiting for it to go.
    case shuttingDown
    /// Disconnected.
    case gone

    public var description: String {
        switch self {
        case .connecting: "connecting"
        case .authenticating: "authenticating"
        case .uploading(let sent, let total): "uploading \(total > 0 ? sent * 100 / total : 0)%"
        case .bootstrapping: "bootstrapping"
        case .connected: "connected"
        case .failed(let e): "failed: \(e)"
        case .shuttingDown: "shutting down"
        case .gone: "gone"
        }
    }
}

/// One context in the tree the master knows.
public struct ContextInfo: Sendable, Equatable {
    public var id: UInt32
    public var name: String
    public var method: String
    /// The context it was started through (`via`), 0 for the master itself.
    public var parentID: UInt32
    public var pid: Int32?
    public var state: ContextState
    /// Monotonic time it was created.
    public var since: Double
    /// Bytes of the child binary uploaded to start it (0 on a cache hit).
    public var uploadedBytes = 0

    public init(
        id: UInt32, name: String, method: String, parentID: UInt32, pid: Int32?, state: ContextState, since: Double,
        uploadedBytes: Int = 0
    ) {
        self.id = id
        self.name = name
        self.method = method
        self.parentID = parentID
        self.pid = pid
        self.state = state
        self.since = since
        self.uploadedBytes = uploadedBytes
    }
}

extension RouterObserver {
    /// Every context this router started or learnt of, by id.
    public var contexts: [ContextInfo] { contextTable.withLock { $0.values.sorted { $0.id < $1.id } } }

    /// The row of context `id`, if known.
    package func context(_ id: UInt32) -> ContextInfo? { contextTable.withLock { $0[id] } }

    package func contextUpdated(_ id: UInt32, _ update: @Sendable (inout ContextInfo) -> Void) {
        let updated = contextTable.withLock { table -> ContextInfo? in
            guard var info = table[id] else { return nil }
            update(&info)
            table[id] = info
            return info
        }
        notifyChanged()
        if let updated { tellWatcher(updated) }
    }

    package func contextAdded(_ info: ContextInfo) {
        contextTable.withLock { $0[info.id] = info }
        notifyChanged()
        tellWatcher(info)
    }

    /// Calls `fn` with the context's row after each change of it until
    /// `unwatchContext(id)`; one watcher per id. `fn` runs on the thread
    /// that made the change (often the broker's): it must not block.
    package func watchContext(_ id: UInt32, _ fn: @escaping @Sendable (ContextInfo) -> Void) {
        contextWatchers.withLock { $0[id] = fn }
    }

    package func unwatchContext(_ id: UInt32) {
        _ = contextWatchers.withLock { $0.removeValue(forKey: id) }
    }

    private func tellWatcher(_ info: ContextInfo) {
        contextWatchers.withLock { $0[info.id] }?(info)
    }
}
