import MitogenLib

/// One context as the console shows it (a copy of `ContextInfo`, which has no
/// public initialiser, so the benchmark and tests can build their own).
struct ContextItem: Equatable, Sendable {
    var id: UInt32
    var name: String
    var method: String
    /// 0: started by the master itself.
    var parentID: UInt32
    var pid: Int32?
    var state: ContextState
    /// Monotonic start time.
    var since: Double
    var uploadedBytes: Int = 0
}

/// Traffic counters of one directly connected stream.
struct StreamItem: Equatable, Sendable {
    var contextID: UInt32
    var name: String
    var bytesIn: UInt64
    var bytesOut: UInt64
    var messagesIn: UInt64
    var messagesOut: UInt64
    var queuedBytes: UInt64
    var isDisconnected: Bool
}

/// A call the master waits on.
struct PendingItem: Equatable, Sendable {
    var handle: UInt32
    var contextID: UInt32
    var contextName: String
    var function: String
    /// Python text of the arguments, secrets already hidden by the library.
    var arguments: String
    /// Monotonic start time.
    var since: Double
}

/// Everything the renderers read about the router at one moment: the pure
/// input of `FrameRenderer`, built from `Router.snapshot()` or synthesised
/// by the benchmark.
struct ConsoleSnapshot: Sendable {
    var generation: UInt64 = 0
    /// Monotonic time of the snapshot (ages are measured against it).
    var time: Double = 0
    var contexts: [ContextItem] = []
    var streams: [StreamItem] = []
    var pending: [PendingItem] = []

    init(generation: UInt64 = 0, time: Double = 0, contexts: [ContextItem] = [], streams: [StreamItem] = [], pending: [PendingItem] = []) {
        self.generation = generation
        self.time = time
        self.contexts = contexts
        self.streams = streams
        self.pending = pending
    }

    /// A copy of the router's public snapshot.
    init(_ s: RouterSnapshot) {
        generation = s.generation
        time = s.time
        contexts = s.contexts.map {
            ContextItem(
                id: $0.id, name: $0.name, method: $0.method, parentID: $0.parentID, pid: $0.pid, state: $0.state,
                since: $0.since, uploadedBytes: $0.uploadedBytes)
        }
        streams = s.streams.map {
            StreamItem(
                contextID: $0.contextID, name: $0.name, bytesIn: $0.counters.bytesIn, bytesOut: $0.counters.bytesOut,
                messagesIn: $0.counters.messagesIn, messagesOut: $0.counters.messagesOut,
                queuedBytes: $0.counters.queuedBytes, isDisconnected: $0.isDisconnected)
        }
        pending = s.pendingCalls.map {
            PendingItem(
                handle: $0.handle, contextID: $0.contextID, contextName: $0.contextName ?? String($0.contextID),
                function: $0.function, arguments: $0.arguments, since: $0.since)
        }
    }

    /// The context with `id`, if known.
    func context(_ id: UInt32) -> ContextItem? { contexts.first { $0.id == id } }

    /// `id` and every context started through it, depth first.
    func subtree(of id: UInt32) -> [UInt32] {
        var children: [UInt32: [UInt32]] = [:]
        for c in contexts { children[c.parentID, default: []].append(c.id) }
        var out: [UInt32] = []
        var stack = [id]
        while let next = stack.popLast() {
            out.append(next)
            stack += (children[next] ?? []).reversed()
        }
        return out
    }
}

extension ContextState {
    /// True while the context can take calls or is on its way there.
    var isLive: Bool {
        switch self {
        case .connecting, .uploading, .connected: true
        default: false
        }
    }
}
