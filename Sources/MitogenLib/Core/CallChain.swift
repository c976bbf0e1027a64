import CMitogenSys
import Glibc
import Synchronization
public import MitogenWire
import MitogenSys

/// A sequence of calls to one context (Mitogen's `CallChain`).
///
/// Not pipelined (the default chain of every context): each call stands
/// alone, and a failed `callNoReply` is only logged in the target.
///
/// Pipelined: every call carries the chain's id. When one fails in the
/// target, the error is stored under that id and every later call of the
/// chain fails with the same `CallError` without running, so a caller can
/// fire `callNoReply`s and learn of a failure at the next `call`. `reset()`
/// forgets the stored error and starts a fresh chain id.
///
/// ```swift
/// let chain = CallChain(context, pipelined: true)
/// try chain.callNoReply("os.remove", "/tmp/x")
/// try chain.call("time.sleep", 0.1)      // throws if the remove failed
/// ```
public final class CallChain: Sendable {
    public let context: Context
    public let pipelined: Bool
    private let chainID: Lock<String?>

    public init(_ context: Context, pipelined: Bool = false) {
        self.context = context
        self.pipelined = pipelined
        self.chainID = Lock(pipelined ? Self.makeChainID() : nil)
    }

    /// How long a blocking call busy-waits for its reply before sleeping:
    /// about one local round trip (see `Latch.get(spin:)`); only for a
    /// context whose replies come that fast (`Context.replySpin`).
    static let replySpin = 100e-6

    /// `<hostname>-<pid>-<thread id hex>-<monotonic µs hex>`, as Mitogen makes them.
    static func makeChainID() -> String {
        let host = hostName()
        let tid = String(UInt(pthread_self()), radix: 16)
        let stamp = String(UInt64(monotonicNow() * 1e6), radix: 16)
        return "\(host)-\(getpid())-\(tid)-\(stamp)"
    }

    /// Forgets any error stored for this chain in the target and starts a new
    /// chain id. Has no effect on a chain that is not pipelined.
    public func reset() {
        guard pipelined else { return }
        let old = chainID.withLock { id in
            defer { id = Self.makeChainID() }
            return id
        }
        guard let old else { return }
        let body = Value.tuple([.none, "mitogen.core", "Dispatcher", "forget_chain", .tuple([.str(old)]), .kwargs(PyDict())])
        context.send(Message.pickled(body, handle: Handle.callFunction))
    }

    /// The CALL_FUNCTION message for `function` (a registered name such as
    /// `"os.path.exists"`, split into Mitogen's module and function fields).
    /// A timeout rides along as the reserved keyword argument (see `CallWire`).
    func makeMessage(_ function: String, args: [Value], kwargs: PyDict, timeout: Double? = nil) -> Message {
        let (module, name) = splitFunctionName(function)
        let chain: Value = chainID.withLock { $0 }.map { .str($0) } ?? .none
        var kwargs = kwargs
        if let timeout = CallWire.normalized(timeout) { kwargs[CallWire.timeoutKey] = .float(timeout) }
        let body = Value.tuple([chain, .str(module), .none, .str(name), .tuple(args), .kwargs(kwargs)])
        return Message.pickled(body, handle: Handle.callFunction)
    }

    func encodeArgs<each A: Encodable>(_ args: repeat each A) throws -> [Value] {
        var out: [Value] = []
        let encoder = ValueEncoder()
        for arg in repeat each args { out.append(try encoder.encode(arg)) }
        return out
    }

    /// Keyword arguments as a `PyDict`, keys sorted (a stable frame).
    func encodeKwargs(_ kwargs: KeywordArguments) throws -> PyDict {
        var out = PyDict()
        let encoder = ValueEncoder()
        for key in kwargs.keys.sorted() { out[key] = try encoder.encode(kwargs[key]!) }
        return out
    }

    /// Starts `function(args, kwargs)` and returns the receiver of its reply.
    ///
    /// The call is shown in `router.observer.pendingCalls` until its reply
    /// (or error) arrives, the context disconnects, or the receiver is closed.
    /// Cancel it with `router.cancelCall(handle: receiver.handle)`.
    /// - Parameter timeout: seconds the call may take, counted in the target
    ///   from its arrival: a call still queued then is refused, one still
    ///   running is cancelled; either way the reply is a `CallError` with
    ///   `isDeadline`. If no answer comes `CallWire.answerSlack` seconds
    ///   later, the call is cancelled from here.
    public func callAsyncValue(_ function: String, args: [Value], kwargs: PyDict = PyDict(), timeout: Double? = nil) throws -> Receiver {
        try startCall(function, args: args, kwargs: kwargs, timeout: timeout, watched: true)
    }

    /// `callAsyncValue`; `watched: false` leaves the no-answer fallback to a
    /// caller that waits with its own timeout (the blocking `callValue`),
    /// which saves a broker timer per call.
    func startCall(_ function: String, args: [Value], kwargs: PyDict, timeout: Double?, watched: Bool) throws -> Receiver {
        let timeout = CallWire.normalized(timeout)
        let receiver = try Receiver(router: context.router, persist: false, respondent: context)
        var msg = makeMessage(function, args: args, kwargs: kwargs, timeout: timeout)
        msg.replyTo = receiver.handle
        let router = context.router
        let observer = router.observer
        let handle = receiver.handle
        observer.callStarted(handle: handle, context: context, function: function, args: args, kwargs: kwargs, timeout: timeout)
        receiver.whenDone { observer.callFinished(handle: handle) }
        context.send(msg)
        if let timeout, watched {
            router.broker.after(max(0, timeout) + CallWire.answerSlack) {
                router.cancelCall(handle: handle, by: "the caller's deadline (timeout \(formatSeconds(timeout)) s, no answer)")
            }
        }
        return receiver
    }

    /// Calls and waits, at the `Value` level.
    /// - Parameter timeout: see `callAsyncValue`; if the context does not
    ///   answer at all within `timeout` plus `CallWire.answerSlack` seconds,
    ///   a cancel is sent and `TimeoutError` thrown.
    /// - Throws: `CallError` (`isCancelled`, `isDeadline` for a cancel),
    ///   `ChannelError`, `TimeoutError`.
    @discardableResult
    public func callValue(_ function: String, args: [Value], kwargs: PyDict = PyDict(), timeout: Double? = nil) throws -> Value {
        let timeout = CallWire.normalized(timeout)
        let started = monotonicNow()
        let receiver = try startCall(function, args: args, kwargs: kwargs, timeout: timeout, watched: false)
        defer {
            receiver.close()
            context.router.profiler?.record(function, seconds: monotonicNow() - started)
        }
        do {
            return try Self.result {
                let reply = try receiver.get(timeout: timeout.map { max(0, $0) + CallWire.answerSlack }, spin: context.replySpin)
                context.noteReplyTime(monotonicNow() - started)
                return reply
            }
        } catch is TimeoutError {
            context.router.cancelCall(handle: receiver.handle, by: "the caller's deadline (no answer)")
            throw TimeoutError(
                "waiting for context \(context.errorLabel) to answer \(function) (no answer within "
                    + "\(formatSeconds(timeout ?? 0)) s + \(formatSeconds(CallWire.answerSlack)) s; a cancel was sent)")
        }
    }

    /// The async twin of `callValue`: suspends instead of blocking, and
    /// cancelling the task cancels the call in the target.
    public func callValue(_ function: String, args: [Value], kwargs: PyDict = PyDict(), timeout: Double? = nil) async throws -> Value {
        let receiver = try callAsyncValue(function, args: args, kwargs: kwargs, timeout: timeout)
        defer { receiver.close() }
        let router = context.router
        let handle = receiver.handle
        // The wait runs in its own task, which the caller's cancellation does
        // not reach: a cancel must not drop the receiver before the context's
        // answer (its CancelledError, or the local one after `confirmGrace`).
        let wait = Task { try await receiver.get() }
        return try await withTaskCancellationHandler {
            do {
                return try await wait.value.unpickle()
            } catch let error as ChannelError where error.reason == Self.policyRefusal {
                throw CallError(type: "mitogen.core.CallError", message: Self.policyRefusal)
            }
        } onCancel: {
            router.cancelCall(handle: handle, by: "Task cancellation")
        }
    }

    /// A call's reply as its value. A call the callee's policy refused is a
    /// `CallError` ("refused by policy"), as the seed promises, not the
    /// `ChannelError` of a dead context.
    static func result(of reply: () throws -> Message) throws -> Value {
        do {
            return try reply().unpickle()
        } catch let error as ChannelError where error.reason == Self.policyRefusal {
            throw CallError(type: "mitogen.core.CallError", message: Self.policyRefusal)
        }
    }

    static let policyRefusal = "refused by policy"

    /// Starts a call and returns the receiver of its reply (see `callAsyncValue`).
    public func callAsync<each A: Encodable>(
        _ function: String, _ args: repeat each A, kwargs: KeywordArguments = [:], timeout: Double? = nil
    ) throws -> Receiver {
        try callAsyncValue(function, args: encodeArgs(repeat each args), kwargs: encodeKwargs(kwargs), timeout: timeout)
    }

    /// Calls and waits for the result, decoded as `R` (which may be `Value`).
    public func call<R: Decodable, each A: Encodable>(
        _ function: String, _ args: repeat each A, kwargs: KeywordArguments = [:], timeout: Double? = nil
    ) throws -> R {
        let value = try callValue(function, args: encodeArgs(repeat each args), kwargs: encodeKwargs(kwargs), timeout: timeout)
        return try context.router.decoder.decode(R.self, from: value)
    }

    /// `call` whose result may be ignored.
    @_disfavoredOverload
    @discardableResult
    public func call<each A: Encodable>(
        _ function: String, _ args: repeat each A, kwargs: KeywordArguments = [:], timeout: Double? = nil
    ) throws -> Value {
        try call(function, repeat each args, kwargs: kwargs, timeout: timeout) as Value
    }

    /// The async twin of `call`: suspends instead of blocking a thread;
    /// cancelling the task cancels the call in the target.
    public func call<R: Decodable, each A: Encodable>(
        _ function: String, _ args: repeat each A, kwargs: KeywordArguments = [:], timeout: Double? = nil
    ) async throws -> R {
        let value = try await callValue(function, args: encodeArgs(repeat each args), kwargs: encodeKwargs(kwargs), timeout: timeout)
        return try context.router.decoder.decode(R.self, from: value)
    }

    /// Sends the call without asking for a reply. In a pipelined chain a
    /// failure poisons the calls after it; otherwise it is only logged remotely.
    public func callNoReply<each A: Encodable>(_ function: String, _ args: repeat each A, kwargs: KeywordArguments = [:]) throws {
        context.send(makeMessage(function, args: try encodeArgs(repeat each args), kwargs: try encodeKwargs(kwargs)))
    }

    /// `callNoReply` at the `Value` level.
    public func callNoReplyValue(_ function: String, args: [Value], kwargs: PyDict = PyDict()) {
        context.send(makeMessage(function, args: args, kwargs: kwargs))
    }
}

/// Keyword arguments of a typed call: `["path": "/", "mode": 0o644]`.
public typealias KeywordArguments = [String: any Encodable & Sendable]

/// Splits `"os.path.exists"` into Mitogen's `("os.path", "exists")`.
func splitFunctionName(_ name: String) -> (module: String, function: String) {
    guard let dot = name.lastIndex(of: ".") else { return ("", name) }
    return (String(name[..<dot]), String(name[name.index(after: dot)...]))
}

/// This machine's host name from `uname` (no resolver, no NSS).
func hostName() -> String {
    var u = utsname()
    uname(&u)
    return withUnsafeBytes(of: &u.nodename) { raw in
        String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
    }
}

extension Router {
    /// A `ValueDecoder` that resolves contexts and senders against this router.
    public var decoder: ValueDecoder {
        var d = ValueDecoder()
        d.userInfo[.mitogenRouter] = self
        return d
    }
}
