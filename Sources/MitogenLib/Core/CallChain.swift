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
    private let chainID: Mutex<String?>

    public init(_ context: Context, pipelined: Bool = false) {
        self.context = context
        self.pipelined = pipelined
        self.chainID = Mutex(pipelined ? Self.makeChainID() : nil)
    }

    /// How long a blocking call busy-waits for its reply before sleeping:
    /// about one local round trip (see `Latch.get(spin:)`).
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
    func makeMessage(_ function: String, args: [Value], kwargs: PyDict) -> Message {
        let (module, name) = splitFunctionName(function)
        let chain: Value = chainID.withLock { $0 }.map { .str($0) } ?? .none
        let body = Value.tuple([chain, .str(module), .none, .str(name), .tuple(args), .kwargs(kwargs)])
        return Message.pickled(body, handle: Handle.callFunction)
    }

    func encodeArgs<each A: Encodable>(_ args: repeat each A) throws -> [Value] {
        var out: [Value] = []
        let encoder = ValueEncoder()
        for arg in repeat each args { out.append(try encoder.encode(arg)) }
        return out
    }

    /// Starts `function(args, kwargs)` and returns the receiver of its reply.
    ///
    /// The call is shown in `router.observer.pendingCalls` until its reply
    /// (or error) arrives, the context disconnects, or the receiver is closed.
    public func callAsyncValue(_ function: String, args: [Value], kwargs: PyDict = PyDict()) throws -> Receiver {
        let receiver = try Receiver(router: context.router, persist: false, respondent: context)
        var msg = makeMessage(function, args: args, kwargs: kwargs)
        msg.replyTo = receiver.handle
        let observer = context.router.observer
        let handle = receiver.handle
        observer.callStarted(handle: handle, context: context, function: function, args: args, kwargs: kwargs)
        receiver.whenDone { observer.callFinished(handle: handle) }
        context.send(msg)
        return receiver
    }

    /// Calls and waits, at the `Value` level.
    /// - Throws: `CallError`, `ChannelError`, `TimeoutError`.
    @discardableResult
    public func callValue(_ function: String, args: [Value], kwargs: PyDict = PyDict(), timeout: Double? = nil) throws -> Value {
        let started = monotonicNow()
        let receiver = try callAsyncValue(function, args: args, kwargs: kwargs)
        defer {
            receiver.close()
            context.router.profiler?.record(function, seconds: monotonicNow() - started)
        }
        return try Self.result { try receiver.get(timeout: timeout, spin: Self.replySpin) }
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

    public func callAsync<each A: Encodable>(_ function: String, _ args: repeat each A) throws -> Receiver {
        try callAsyncValue(function, args: encodeArgs(repeat each args))
    }

    public func call<R: Decodable, each A: Encodable>(_ function: String, _ args: repeat each A) throws -> R {
        let value = try callValue(function, args: encodeArgs(repeat each args))
        return try context.router.decoder.decode(R.self, from: value)
    }

    @_disfavoredOverload
    @discardableResult
    public func call<each A: Encodable>(_ function: String, _ args: repeat each A) throws -> Value {
        try callValue(function, args: encodeArgs(repeat each args))
    }

    /// The async twin of `call`: suspends instead of blocking a thread.
    public func call<R: Decodable, each A: Encodable>(_ function: String, _ args: repeat each A) async throws -> R {
        let receiver = try callAsyncValue(function, args: encodeArgs(repeat each args))
        defer { receiver.close() }
        let value: Value
        do {
            value = try await receiver.get().unpickle()
        } catch let error as ChannelError where error.reason == Self.policyRefusal {
            throw CallError(type: "mitogen.core.CallError", message: Self.policyRefusal)
        }
        return try context.router.decoder.decode(R.self, from: value)
    }

    /// Sends the call without asking for a reply. In a pipelined chain a
    /// failure poisons the calls after it; otherwise it is only logged remotely.
    public func callNoReply<each A: Encodable>(_ function: String, _ args: repeat each A) throws {
        context.send(makeMessage(function, args: try encodeArgs(repeat each args), kwargs: PyDict()))
    }

    /// `callNoReply` at the `Value` level.
    public func callNoReplyValue(_ function: String, args: [Value], kwargs: PyDict = PyDict()) {
        context.send(makeMessage(function, args: args, kwargs: kwargs))
    }
}

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
