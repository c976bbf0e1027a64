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
/// `mitogen.inflight` answers while another call hangs.
package final class Dispatcher: Sendable {
    /// One call being run or waiting to run, for `mitogen.inflight`.
    struct Inflight: Sendable {
        var function: String
        var arguments: String
        var callerID: UInt32
        var since: Double
        var running: Bool
    }

    let router: Router
    /// Set when the context runs with profiling on.
    let profiler: Profiler?
    private struct Queue {
        var waiting: [(ticket: UInt64, message: Message)] = []
        var running = false
        var closed = false
    }
    private let state = Mutex(Queue())
    private let poisoned = Mutex<[String: String]>([:])
    private let inflight = Mutex<[UInt64: Inflight]>([:])
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
        if let (name, _, _, _) = try? decode(message), let entry = Functions.lookup(name), entry.immediate {
            handle(message, ticket: nextTicket.add(1, ordering: .relaxed).oldValue)
            return
        }
        let ticket = nextTicket.add(1, ordering: .relaxed).oldValue
        let runNow = state.withLock { q -> Bool? in
            if q.closed { return nil }
            if q.running {
                q.waiting.append((ticket, message))
                return false
            }
            q.running = true
            return true
        }
        guard let runNow else {
            router.sendDead(replyingTo: message, ChannelError.brokerExited)
            return
        }
        if !runNow {
            noteQueued(message, ticket: ticket)
            return
        }
        router.broker.handOffLoop()
        var next: (ticket: UInt64, message: Message)? = (ticket, message)
        while let (t, m) = next {
            handle(m, ticket: t)
            next = state.withLock { q in
                if q.waiting.isEmpty || q.closed {
                    q.running = false
                    return nil
                }
                return q.waiting.removeFirst()
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
        for (_, m) in dropped { router.sendDead(replyingTo: m, ChannelError.brokerExited) }
    }

    /// The calls running or queued now, oldest first.
    var current: [Inflight] {
        inflight.withLock { Array($0.values) }.sorted { $0.since < $1.since }
    }

    private func noteQueued(_ message: Message, ticket: UInt64) {
        guard let (name, _, args, kwargs) = try? decode(message) else { return }
        inflight.withLock {
            $0[ticket] = Inflight(
                function: name, arguments: Value.argumentsText(args, kwargs), callerID: message.srcID,
                since: monotonicNow(), running: false)
        }
    }

    private func decode(_ message: Message) throws -> (String, String?, [Value], PyDict) {
        let value = try message.decodeValue()
        guard case .tuple(let t) = value, t.count == 6 else {
            throw PyException("ValueError", "CALL_FUNCTION data is not a 6-tuple: \(value.typeName)")
        }
        let chain = t[0].stringValue
        guard let module = t[1].stringValue, let fn = t[3].stringValue else {
            throw PyException("TypeError", "CALL_FUNCTION module and function must be str")
        }
        var name = module.isEmpty ? fn : module + "." + fn
        if let klass = t[2].stringValue { name = module + "." + klass + "." + fn }
        guard let args = t[4].sequenceValue else {
            throw PyException("TypeError", "CALL_FUNCTION args must be a tuple, not \(t[4].typeName)")
        }
        let kwargs = t[5].dictValue ?? PyDict()
        return (name, chain, args, kwargs)
    }

    private func handle(_ message: Message, ticket: UInt64) {
        let result: Value
        do {
            let (name, chain, args, kwargs) = try decode(message)
            result = run(name, chain: chain, args: args, kwargs: kwargs, message: message, ticket: ticket)
        } catch {
            result = .callError(Self.errorText(error, function: "CALL_FUNCTION"))
        }
        if message.replyTo != 0 {
            message.reply(result, router: router)
        } else if case .callError(let text) = result {
            logError("No-reply function call failed: \(text)")
        }
    }

    private func run(_ name: String, chain: String?, args: [Value], kwargs: PyDict, message: Message, ticket: UInt64) -> Value {
        if name == "mitogen.core.Dispatcher.forget_chain" {
            if let id = args.first?.stringValue { _ = poisoned.withLock { $0.removeValue(forKey: id) } }
            return .none
        }
        if let chain, let stored = poisoned.withLock({ $0[chain] }) {
            return .callError(stored)
        }
        guard let entry = Functions.lookup(name) else {
            // A lookup failure does not poison the chain (Mitogen's rule).
            return .callError(
                "builtins.AttributeError: no function named '\(name)' is registered in this context (see mitogen.functions)")
        }
        inflight.withLock {
            let since = $0[ticket]?.since ?? monotonicNow()
            $0[ticket] = Inflight(
                function: name, arguments: Value.argumentsText(args, kwargs), callerID: message.srcID,
                since: since, running: true)
        }
        defer { _ = inflight.withLock { $0.removeValue(forKey: ticket) } }
        let context = CallContext(function: name, routerRef: router, callerID: message.srcID)
        logDebug("running \(name) for context \(message.srcID)")
        let started = monotonicNow()
        defer { profiler?.record(name, seconds: monotonicNow() - started) }
        do {
            return try entry.body(args, kwargs, context)
        } catch {
            let text = Self.errorText(error, function: name)
            if let chain { poisoned.withLock { $0[chain] = text } }
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
        let text = head + "\n  in \(function), context \(currentContextDescription())\n"
        return text.count > 9999 ? String(text.prefix(9999)) : text
    }
}

/// `"<name> (id N, pid P)"` of the running context, for traces.
func currentContextDescription() -> String {
    "\(Mitogen.contextName) (id \(Mitogen.contextID), pid \(getpid()))"
}
