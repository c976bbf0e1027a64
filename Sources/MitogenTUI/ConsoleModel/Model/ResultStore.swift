import MitogenLib
/// The outcome of one call the operator issued, kept per context.
package struct CallResult: Equatable, Sendable {
    package enum Outcome: Equatable, Sendable {
        /// Still waiting for the reply.
        case running
        /// The result as a Python literal.
        case value(String)
        /// The error, with the remote trace lines if the target sent any.
        case error(String, trace: [String])
    }

    package var serial: Int
    package var contextID: UInt32
    package var contextName: String
    /// What was asked, as typed (or `mitogen.inflight()` for an inflight query).
    package var expression: String
    package var outcome: Outcome
    /// Monotonic start time.
    package var started: Double
    package var elapsed: Double?
}

/// Every call result of this session, newest last, bounded.
package struct ResultStore: Sendable {
    package private(set) var items: [CallResult] = []
    private var nextSerial = 1
    package let capacity: Int

    package init(capacity: Int = 500) { self.capacity = capacity }

    /// Adds a running call; returns its serial for `finish`.
    package mutating func start(contextID: UInt32, contextName: String, expression: String, at time: Double) -> Int {
        let serial = nextSerial
        nextSerial += 1
        items.append(
            CallResult(
                serial: serial, contextID: contextID, contextName: contextName, expression: expression,
                outcome: .running, started: time))
        if items.count > capacity { items.removeFirst(items.count - capacity) }
        return serial
    }

    /// Records the outcome of call `serial` (ignored if it aged out).
    package mutating func finish(_ serial: Int, _ outcome: CallResult.Outcome, at time: Double) {
        guard let i = items.lastIndex(where: { $0.serial == serial }) else { return }
        items[i].outcome = outcome
        items[i].elapsed = time - items[i].started
    }

    /// The history of one context, or all of it when `contextID` is nil.
    package func history(for contextID: UInt32?) -> [CallResult] {
        guard let contextID else { return items }
        return items.filter { $0.contextID == contextID }
    }
}
