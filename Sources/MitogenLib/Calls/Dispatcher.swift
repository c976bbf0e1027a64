import Glibc
import Synchronization

/// Runs the CALL_FUNCTION messages a context receives, one at a time, in
/// arrival order, on the thread that calls `run()` (the child's main thread),
/// as Mitogen's `Dispatcher` does.
///
/// Per message (notes/mitogen-wire.md §4): decode the 6-tuple; an unknown
/// function or a bad message is a `CallError` that does not poison the chain;
/// a chain with a stored error gets that same error without running; a
/// function that throws stores its error under the chain id. Functions
/// registered `immediate` run on the broker thread at once, so
/// `mitogen.inflight` answers while another call hangs.
final class Dispatcher: Sendable {
    /// One call being run or waiting to run, for `mitogen.inflight`.
    struct Inflight: Sendable {
        var function: String
        var arguments: String
        var callerID: UInt32
        var since: Double
        var running: Bool
    }

    let router: Router
    private let queue = Latch<Message>()
    private let poisoned = Mutex<[String: String]>([:])
    private let inflight = Mutex<[UInt64: Inflight]>([:])
    private let nextTicket = Atomic<UInt64>(0)

    init(router: Router) {
        self.router = router
    }

    /// Takes a CALL_FUNCTION message (broker thread).
    func enqueue(_ message: Message) {
        if let (name, _, _, _) = try? decode(message), let entry = Functions.lookup(name), entry.immediate {
            handle(message)
            return
        }
        do {
            try queue.put(message)
        } catch {
            router.sendDead(replyingTo: message, ChannelError.brokerExited)
        }
    }

    /// Stops `run()` after the call in progress.
    func close() { queue.close() }

    /// Runs calls until `close()`.
    func run() {
        while let message = try? queue.get() {
            handle(message)
        }
    }

    /// The calls running or queued now, oldest first.
    var current: [Inflight] {
        inflight.withLock { Array($0.values) }.sorted { $0.since < $1.since }
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

    private func handle(_ message: Message) {
        let ticket = nextTicket.add(1, ordering: .relaxed).oldValue
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
        let argText = args.map(\.displayText) + kwargs.map { "\($0.key.stringValue ?? "?")=\($0.value.displayText)" }
        inflight.withLock {
            $0[ticket] = Inflight(
                function: name, arguments: argText.joined(separator: ", "), callerID: message.srcID,
                since: monotonicNow(), running: true)
        }
        defer { _ = inflight.withLock { $0.removeValue(forKey: ticket) } }
        let context = CallContext(function: name, routerRef: router, callerID: message.srcID)
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
