package import MitogenLib

/// One context as the console shows it (a copy of `ContextInfo`, which has no
/// public initialiser, so the benchmark and tests can build their own).
package struct ContextItem: Equatable, Sendable {
    package var id: UInt32
    package var name: String
    package var method: String
    /// 0: started by the master itself.
    package var parentID: UInt32
    package var pid: Int32?
    package var state: ContextState
    /// Monotonic start time.
    package var since: Double
    package var uploadedBytes: Int = 0

    package init(
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

/// Traffic counters of one directly connected stream.
package struct StreamItem: Equatable, Sendable {
    package var contextID: UInt32
    package var name: String
    package var bytesIn: UInt64
    package var bytesOut: UInt64
    package var messagesIn: UInt64
    package var messagesOut: UInt64
    package var queuedBytes: UInt64
    package var isDisconnected: Bool

    package init(
        contextID: UInt32, name: String, bytesIn: UInt64, bytesOut: UInt64, messagesIn: UInt64, messagesOut: UInt64,
        queuedBytes: UInt64, isDisconnected: Bool
    ) {
        self.contextID = contextID
        self.name = name
        self.bytesIn = bytesIn
        self.bytesOut = bytesOut
        self.messagesIn = messagesIn
        self.messagesOut = messagesOut
        self.queuedBytes = queuedBytes
        self.isDisconnected = isDisconnected
    }
}

/// A call the master waits on.
package struct PendingItem: Equatable, Sendable {
    package var handle: UInt32
    package var contextID: UInt32
    package var contextName: String
    package var function: String
    /// Python text of the arguments, secrets already hidden by the library.
    package var arguments: String
    /// Monotonic start time.
    package var since: Double

    package init(handle: UInt32, contextID: UInt32, contextName: String, function: String, arguments: String, since: Double) {
        self.handle = handle
        self.contextID = contextID
        self.contextName = contextName
        self.function = function
        self.arguments = arguments
        self.since = since
    }
}

/// Everything the renderers read about the router at one moment: the pure
/// input of `FrameRenderer`, built from `Router.snapshot()` or synthesised
/// by the benchmark.
package struct ConsoleSnapshot: Sendable {
    package var generation: UInt64 = 0
    /// Monotonic time of the snapshot (ages are measured against it).
    package var time: Double = 0
    package var contexts: [ContextItem] = []
    package var streams: [StreamItem] = []
    package var pending: [PendingItem] = []

    package init(generation: UInt64 = 0, time: Double = 0, contexts: [ContextItem] = [], streams: [StreamItem] = [], pending: [PendingItem] = []) {
        self.generation = generation
        self.time = time
        self.contexts = contexts
        self.streams = streams
        self.pending = pending
    }

    /// A copy of the router's public snapshot.
    package init(_ s: RouterSnapshot) {
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
    package func context(_ id: UInt32) -> ContextItem? { contexts.first { $0.id == id } }

    /// `id` and every context started through it, depth first.
    package func subtree(of id: UInt32) -> [UInt32] {
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
    package var isLive: Bool {
        switch self {
        case .connecting, .authenticating, .uploading, .bootstrapping, .connected: true
        default: false
        }
    }
}
