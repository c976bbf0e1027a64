import Synchronization
public import MitogenWire
import MitogenSys

/// A context: a process (local or remote) running MitogenLib that this
/// program can send messages to and call functions in (Mitogen's `Context`).
///
/// There is one canonical `Context` per id per router (`router.context(byID:)`);
/// contexts received in messages resolve to it. Calls go through
/// `defaultCallChain` (not pipelined); make a `CallChain(context, pipelined: true)`
/// to pipeline calls whose failures must stop the ones after.
public final class Context: Sendable {
    public let router: Router
    public let contextID: UInt32
    private let nameBox: Lock<String?>
    private let disconnected = Atomic<Bool>(false)
    private let listeners = Lock<[@Sendable () -> Void]>([])
    private let chain = Lock<CallChain?>(nil)
    private let viaBox = Lock<Context?>(nil)
    /// Recent blocking calls' reply times, µs (a moving average; 0: none yet).
    private let replyMicros = Atomic<Int>(0)

    init(router: Router, id: UInt32, name: String?) {
        self.router = router
        self.contextID = id
        self.nameBox = Lock(name)
    }

    /// The context's name, e.g. `local.4242` or `ssh.web1`.
    public var name: String? { nameBox.withLock { $0 } }
    package func setName(_ name: String) { nameBox.withLock { $0 = name } }

    /// How error texts name this context: `worker, id 3`, or `id 3` unnamed.
    package var errorLabel: String { name.map { "\($0), id \(contextID)" } ?? "id \(contextID)" }

    /// The context this one was reached through (`via`), when known: set by
    /// `Router.contextByID(_:viaID:)` and by connections started with `via:`.
    public var via: Context? { viaBox.withLock { $0 } }
    package func setVia(_ via: Context?) { viaBox.withLock { $0 = via } }

    /// How long a blocking call to this context busy-waits for its reply:
    /// `CallChain.replySpin` while its replies come back within that time
    /// (a local context), none once they do not. Over ssh a reply takes
    /// longer than the spin, which then only burns a CPU that the ssh client,
    /// sshd and the child need: on two cores that made calls slower.
    var replySpin: Double {
        replyMicros.load(ordering: .relaxed) < Int(CallChain.replySpin * 1e6) ? CallChain.replySpin : 0
    }

    /// Folds one blocking call's reply time into the average `replySpin` reads.
    func noteReplyTime(_ seconds: Double) {
        let sample = Int(min(max(seconds, 0), 1) * 1e6)
        let old = replyMicros.load(ordering: .relaxed)
        replyMicros.store(old == 0 ? sample : (old * 7 + sample) / 8, ordering: .relaxed)  // a lost race costs one sample
    }

    /// True once the context's stream died or it shut down.
    public var isDisconnected: Bool { disconnected.load(ordering: .acquiring) }

    /// Runs `fn` once when the context disconnects (at once if it already has).
    public func onDisconnect(_ fn: @escaping @Sendable () -> Void) {
        let now = listeners.withLock { list -> Bool in
            if disconnected.load(ordering: .acquiring) { return true }
            list.append(fn)
            return false
        }
        if now { fn() }
    }

    func fireDisconnect() {
        guard !disconnected.exchange(true, ordering: .acquiringAndReleasing) else { return }
        let fns = listeners.withLock { list in
            defer { list.removeAll() }
            return list
        }
        for fn in fns { fn() }
        Signals.fire(self, "disconnect")
    }

    deinit { Signals.forget(self) }

    // MARK: Messages

    /// Sends `message` to this context (`dstID` set to it, `srcID`/`authID` to us).
    public func send(_ message: Message) {
        var m = message
        m.dstID = contextID
        m.srcID = router.contextID
        m.authID = router.contextID
        router.route(m)
    }

    /// Sends `message` with replies directed to a new `Receiver`, which is returned.
    /// - Parameter persist: false for a single reply.
    public func sendAsync(_ message: Message, persist: Bool = false) throws -> Receiver {
        let receiver = try Receiver(router: router, persist: persist, respondent: self)
        var m = message
        m.replyTo = receiver.handle
        send(m)
        return receiver
    }

    /// Sends `message` and waits for its single reply.
    /// - Parameter deadline: seconds to wait, or nil for no limit.
    /// - Throws: `TimeoutError`, `ChannelError`, `CallError`.
    public func sendAwait(_ message: Message, deadline: Double? = nil) throws -> Value {
        let receiver = try sendAsync(message)
        defer { receiver.close() }
        return try receiver.get(timeout: deadline).unpickle()
    }

    /// The async twin of `sendAwait`.
    public func sendAwait(_ message: Message) async throws -> Value {
        let receiver = try sendAsync(message)
        defer { receiver.close() }
        return try await receiver.get().unpickle()
    }

    // MARK: Calls

    /// The chain `call`, `callAsync` and `callNoReply` use: not pipelined.
    public var defaultCallChain: CallChain {
        chain.withLock { c in
            if let c { return c }
            let made = CallChain(self, pipelined: false)
            c = made
            return made
        }
    }

    /// Calls `function` with `args` (and keyword arguments) and waits for
    /// its result, decoded as `R` (`Value` works too).
    /// - Parameter timeout: seconds the call may take in the context; see
    ///   `CallChain.callAsyncValue` for how the deadline travels and ends it.
    /// - Throws: `CallError` if it raised remotely or was cancelled
    ///   (`isCancelled`, `isDeadline`), `ChannelError` if the context died,
    ///   `TimeoutError` if the context did not answer at all.
    public func call<R: Decodable, each A: Encodable>(
        _ function: String, _ args: repeat each A, kwargs: KeywordArguments = [:], timeout: Double? = nil
    ) throws -> R {
        try defaultCallChain.call(function, repeat each args, kwargs: kwargs, timeout: timeout)
    }

    /// Calls `function` and waits for its result as a `Value` (or ignores it).
    /// Disfavoured, so `let v: Value = try ctx.call(...)` picks the typed
    /// overload (with `R` = `Value`) instead of being ambiguous.
    @_disfavoredOverload
    @discardableResult
    public func call<each A: Encodable>(
        _ function: String, _ args: repeat each A, kwargs: KeywordArguments = [:], timeout: Double? = nil
    ) throws -> Value {
        try defaultCallChain.call(function, repeat each args, kwargs: kwargs, timeout: timeout)
    }

    /// The async twin of `call`; cancelling the task cancels the call in the context.
    public func call<R: Decodable, each A: Encodable>(
        _ function: String, _ args: repeat each A, kwargs: KeywordArguments = [:], timeout: Double? = nil
    ) async throws -> R {
        try await defaultCallChain.call(function, repeat each args, kwargs: kwargs, timeout: timeout)
    }

    /// Starts a call and returns the receiver of its reply; cancel it with
    /// `router.cancelCall(handle: receiver.handle)`.
    public func callAsync<each A: Encodable>(
        _ function: String, _ args: repeat each A, kwargs: KeywordArguments = [:], timeout: Double? = nil
    ) throws -> Receiver {
        try defaultCallChain.callAsync(function, repeat each args, kwargs: kwargs, timeout: timeout)
    }

    /// Starts a call whose result nobody waits for.
    public func callNoReply<each A: Encodable>(_ function: String, _ args: repeat each A, kwargs: KeywordArguments = [:]) throws {
        try defaultCallChain.callNoReply(function, repeat each args, kwargs: kwargs)
    }

    /// Calls `function` with `Value` arguments and keyword arguments.
    @discardableResult
    public func callValue(_ function: String, args: [Value] = [], kwargs: PyDict = PyDict(), timeout: Double? = nil) throws -> Value {
        try defaultCallChain.callValue(function, args: args, kwargs: kwargs, timeout: timeout)
    }

    /// The async twin of `callValue`; cancelling the task cancels the call in the context.
    public func callValue(_ function: String, args: [Value] = [], kwargs: PyDict = PyDict(), timeout: Double? = nil) async throws -> Value {
        try await defaultCallChain.callValue(function, args: args, kwargs: kwargs, timeout: timeout)
    }

    // MARK: Shutdown

    /// The async twin of `shutdown(wait: true)`: returns once the context is gone.
    public func shutdown() async throws {
        let latch = try shutdown(wait: false)
        _ = try await latch.value()
    }

    /// Seconds `shutdown` gives a context, by default, before its end is forced.
    public static let defaultShutdownTimeout = 10.0

    /// Asks the context to shut down gracefully (a SHUTDOWN message), and
    /// makes sure it ends within `timeout` seconds.
    ///
    /// A context that cannot answer (stopped, hung, compromised) is not waited
    /// for in vain. For a direct child whose process this router started
    /// (its stream knows the pid), still connected after half of `timeout`:
    /// SIGTERM (and SIGCONT, so a stopped process acts on it); after 80 %:
    /// SIGKILL to its process group; at `timeout`: its stream is cut. A
    /// context started through another one is cut by that parent
    /// (`mitogen.disconnect`) at 80 %. Each step is logged; they run on the
    /// broker's timers, with or without `wait`, and stop once the context is
    /// gone.
    /// - Parameters:
    ///   - wait: block until it has disconnected.
    ///   - timeout: seconds for all of it; nil means `defaultShutdownTimeout`.
    /// - Returns: a latch that yields `true` when the context is gone.
    /// - Throws: with `wait`, `TimeoutError` if it is still connected shortly
    ///   after `timeout` (a context this router could not force).
    @discardableResult
    public func shutdown(wait: Bool = false, timeout: Double? = nil) throws -> Latch<Bool> {
        let timeout = max(0, timeout ?? Self.defaultShutdownTimeout)
        let latch = Latch<Bool>()
        onDisconnect { try? latch.put(true) }
        send(Message(handle: Handle.shutdown))
        router.escalateShutdown(of: self, timeout: timeout)
        if wait {
            do {
                _ = try latch.get(timeout: timeout + Router.shutdownSlack)
            } catch is TimeoutError {
                throw TimeoutError("shutdown of \(self) (still connected after \(timeout) s)")
            }
            try? latch.put(true)
        }
        return latch
    }
}

extension Context: Hashable {
    public static func == (lhs: Context, rhs: Context) -> Bool {
        lhs.contextID == rhs.contextID && lhs.router === rhs.router
    }
    public func hash(into hasher: inout Hasher) { hasher.combine(contextID) }
}

extension Context: CustomStringConvertible {
    public var description: String { "Context(\(contextID), \(name.map { "'\($0)'" } ?? "None"))" }
}
