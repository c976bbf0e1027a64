import MitogenWire
import MitogenSys
/// Everything an observer (the console) reads from a router, in one copy
/// (DESIGN §7): the context tree, per-stream traffic, pending calls, and a
/// generation number that changes whenever any of it does. Building one
/// copies a few small tables under their locks: cheap enough for 10
/// snapshots a second with thousands of contexts.
public struct RouterSnapshot: Sendable {
    /// Bumps on every change; compare to skip redraws.
    public var generation: UInt64
    /// Monotonic time the snapshot was taken (`monotonicNow()`).
    public var time: Double
    public var contexts: [ContextInfo]
    public var streams: [StreamInfo]
    public var pendingCalls: [PendingCall]
}

/// Traffic of one directly connected stream.
public struct StreamInfo: Sendable, Equatable {
    /// The context at the other end.
    public var contextID: UInt32
    public var name: String
    public var pid: Int32?
    public var counters: StreamCounters
    public var isDisconnected: Bool
}

extension Router {
    /// A consistent-enough copy of what the console shows.
    public func snapshot() -> RouterSnapshot {
        let streams = routesSnapshot().map { id, stream in
            StreamInfo(
                contextID: id, name: stream.name, pid: stream.pid, counters: stream.counters,
                isDisconnected: stream.isDisconnected)
        }
        return RouterSnapshot(
            generation: observer.generation, time: monotonicNow(), contexts: observer.contexts,
            streams: streams.sorted { $0.contextID < $1.contextID }, pendingCalls: observer.pendingCalls)
    }

    /// Calls `fn` (on any thread) after every change the snapshot would show.
    public func onChange(_ fn: @escaping @Sendable () -> Void) { observer.onChange(fn) }

    /// The most recent `limit` drained log records, and how many were dropped.
    public func logs(limit: Int = 5000) -> (records: [LogRecord], dropped: Int) { observer.logs(limit: limit) }
}
