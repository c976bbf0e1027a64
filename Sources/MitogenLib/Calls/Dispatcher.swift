import CMitogenSys
import Glibc
import Synchronization
package import MitogenCore
import MitogenSys
package import MitogenWire

/// Runs the CALL_FUNCTION messages a context receives, one at a time, in
/// arrival order, as Mitogen's `Dispatcher` does; the broker thread that reads
/// a call runs it after handing its loop to a spare thread.
///
/// Per message (notes/mitogen-wire.md §4): decode the 6-tuple; an unknown
/// function or a bad message is a `CallError` that does not poison the chain;
/// a chain with a stored error gets that same error without running; a
/// function that throws stores its error under the chain id. Functions
/// registered `immediate` run on the broker thread at once, so
/// `mitogen.inflight` and `mitogen.cancel` answer while another call hangs.
///
/// One at a time, on purpose: a pipelined chain (`callNoReply` then `call`)
/// relies on its calls running in order, and Mitogen's callers expect it.
/// What keeps a hung call from holding the context hostage is cancellation
/// (see `Dispatcher+Cancel.swift`): a deadline or a cancel from the caller
/// stops it, and one that ignores the cancel is left behind after
/// `abandonGrace` so the queue moves on.
package final class Dispatcher: Sendable {
    let router: Router
    /// Set when the context runs with profiling on.
    let profiler: Profiler?

    struct Queue {
        var waiting: [DispatchedCall] = []
        var running: DispatchedCall?
        /// Bumped when a stuck call is left behind: the thread running it
        /// then stops driving the queue (a new thread does).
        var epoch: UInt64 = 0
        var closed = false
        /// The deadline the one deadline timer is armed for (see `watchDeadline`).
        var armedDeadline: Double?
    }
    let state = Lock(Queue())
    private let poisoned = Lock<[String: String]>([:])
    private let nextTicket = Atomic<UInt64>(0)

    /// A dispatcher for the calls `router` receives; `router.dispatcher`
    /// finds it again (for `mitogen.inflight`).
    package init(router: Router, profiler: Profiler? = nil) {
        self.router = router
        self.profiler = profiler
        _ = router.extensions.get { self }
    }

    /// Takes a CALL_FUNCTION message (broker thread). If no call is running,
    /// the broker hands its loop to a spare thread and this thread runs the
    /// call and writes the reply itself: no thread hand-off on the call path.
    /// Otherwise the call waits its turn behind the running one.
    package func enqueue(_ message: Message) {
        if message.isDead { return }  // the broker is exiting: close() handles the queue
        let ticket = nextTicket.add(1, ordering: .relaxed).oldValue
        let call: DispatchedCall
        do {
            call = try DispatchedCall(message, ticket: ticket, router: router)
        } catch {
            answer(message, .callError(Self.errorText(error, function: "CALL_FUNCTION")))
            return
        }
        if let entry = Functions.lookup(call.name), entry.immediate {
            answer(message, run(call))
            return
        }
        if let timeout = call.context.timeout {
            if timeout <= 0 {
                answer(message, .callError(refusal(call, waited: 0)))
                return
            }
        }
        let runNow = state.withLock { q -> Bool? in
            if q.closed { return nil }
            if q.running != nil {
                q.waiting.append(call)
                return false
            }
            q.running = call
            return true
        }
        guard let runNow else {
            router.sendDead(replyingTo: message, ChannelError.brokerExited)
            return
        }
        if let deadline = call.context.deadline { watchDeadline(deadline) }
        guard runNow else { return }
        router.broker.handOffLoop()
        drive(from: call, epoch: state.withLock { $0.epoch })
    }

    /// Runs `first`, then the queue, until it is empty or the queue was
    /// handed to another thread (the epoch moved on).
    func drive(from first: DispatchedCall, epoch: UInt64) {
        var next: DispatchedCall? = first
        while let call = next {
            call.markStarted()
            let result = run(call)
            let reply: Value? =
                call.claimAnswer() ? call.context.cancellation.map { .callError(cancelText(call, $0)) } ?? result : nil
            // Off the queue before the answer, so the caller's next question
            // (`mitogen.inflight`) no longer sees it.
            defer { if let reply { answer(call.message, reply) } }
            next = state.withLock { q in
                guard q.epoch == epoch else { return nil }  // left behind: another thread drives now
                if q.waiting.isEmpty || q.closed {
                    q.running = nil
                    return nil
                }
                q.running = q.waiting.removeFirst()
                return q.running
            }
        }
    }

    /// Refuses calls from now on; calls still queued get dead replies.
    package func close() {
        let dropped = state.withLock { q in
            q.closed = true
            defer { q.waiting.removeAll() }
            return q.waiting
        }
        for call in dropped { router.sendDead(replyingTo: call.message, ChannelError.brokerExited) }
    }

    /// The calls running or queued now, the running one first.
    package var current: (running: DispatchedCall?, waiting: [DispatchedCall]) {
        state.withLock { ($0.running, $0.waiting) }
    }

    func answer(_ message: Message, _ result: Value) {
        if message.replyTo != 0 {
            message.reply(result, router: router)
        } else if case .callError(let text) = result {
            logError("No-reply function call failed: \(text)")
        }
    }

    private func run(_ call: DispatchedCall) -> Value {
        let name = call.name
        if name == "mitogen.core.Dispatcher.forget_chain" {
            if let id = call.args.first?.stringValue { _ = poisoned.withLock { $0.removeValue(forKey: id) } }
            return .none
        }
        if let chain = call.chain, let stored = poisoned.withLock({ $0[chain] }) {
            return .callError(stored)
        }
        guard let entry = Functions.lookup(name) else {
            // A lookup failure does not poison the chain (Mitogen's rule).
            return .callError(
                "builtins.AttributeError: no function named '\(name)' is registered in this context (see mitogen.functions)")
        }
        logDebug("running \(name) for context \(call.message.srcID)")
        let started = monotonicNow()
        defer { profiler?.record(name, seconds: monotonicNow() - started) }
        do {
            return try entry.body(call.args, call.kwargs, call.context)
        } catch {
            let text = Self.errorText(error, function: name)
            if let chain = call.chain, !call.context.isCancelled { poisoned.withLock { $0[chain] = text } }
            return .callError(text)
        }
    }

    /// Mitogen's CallError text for `error` raised by `function`: type and
    /// message, then a trace line naming where it ran. Cut to 9999 characters,
    /// the most a CallError may carry.
    static func errorText(_ error: any Error, function: String) -> String {
        let head: String
        switch error {
        case let e as PyException: head = "\(e.type): \(e.message)"
        case let e as CallError: head = "\(e.type): \(e.message)"
        case let e as any MitogenError: head = "mitogen.core.\(String(describing: type(of: e))): \(e)"
        default: head = "swift.\(String(describing: type(of: error))): \(error)"
        }
        return traced(head, function: function)
    }

    /// `head` with the trace line naming where it ran, cut to 9999 characters.
    static func traced(_ head: String, function: String) -> String {
        let text = head + "\n  in \(function), context \(currentContextDescription())\n"
        return text.count > 9999 ? String(text.prefix(9999)) : text
    }
}

/// `"<name> (id N, pid P)"` of the running context, for traces.
func currentContextDescription() -> String {
    "\(Mitogen.contextName) (id \(Mitogen.contextID), pid \(getpid()))"
}
