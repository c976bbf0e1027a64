import Synchronization
public import MitogenWire
import MitogenSys

/// Waits for messages sent to one handle in this context (Mitogen's
/// `Receiver`): the reply of a call, or a stream of messages from a `Sender`.
///
/// `get` blocks the calling thread (with a timeout if given); `next()` of the
/// async sequence suspends instead. A dead message (the remote end closed, the
/// respondent disconnected, the broker exited) ends the wait with
/// `ChannelError`; iteration ends quietly there.
public final class Receiver: Sendable {
    public let router: Router
    public let handle: UInt32
    public let persist: Bool
    /// The context this receiver expects messages from, if any.
    public let respondent: Context?
    let latch = Latch<Message>()
    private let notifyFn = Lock<(@Sendable (Receiver) -> Void)?>(nil)
    private let closed = Atomic<Bool>(false)
    /// Runs once when the receiver is done (see `whenDone`).
    private let done = DoneHook()
    /// Set by a `Select` that owns this receiver.
    let owner = Lock<ObjectIdentifier?>(nil)
    /// The byte budget (see `init(maxQueuedBytes:)`), nil for none.
    public let maxQueuedBytes: Int?
    private let budget = Lock(Budget())

    /// Bytes queued and the stream held while over budget.
    private struct Budget {
        var queued = 0
        var held: Stream?
    }

    /// Registers a handler on `router` that queues messages for `get`.
    /// - Parameters:
    ///   - handle: explicit handle, or nil for a new one.
    ///   - persist: false to accept a single message.
    ///   - respondent: expect messages from this context only, and wake with a
    ///     `ChannelError` if it disconnects.
    ///   - policy: refuse messages for which it returns false.
    ///   - overwrite: replace an existing handler on `handle`.
    ///   - maxQueuedBytes: a budget for message bytes queued and not yet
    ///     taken by `get`. Past it, the stream the messages arrive on (a
    ///     child's) stops being read until `get` has taken the queue down to
    ///     half, so a sender faster than this reader waits instead of filling
    ///     this process's memory (a several-GiB stream stays within a few
    ///     MiB). Everything else that context sends waits too: read this
    ///     receiver (or close it) before waiting on another reply from the
    ///     same context. nil (the default, as in Mitogen): no budget.
    public init(
        router: Router, handle: UInt32? = nil, persist: Bool = true, respondent: Context? = nil,
        policy: Policy? = nil, overwrite: Bool = false, maxQueuedBytes: Int? = nil
    ) throws(RouterError) {
        self.router = router
        self.persist = persist
        self.respondent = respondent
        self.maxQueuedBytes = maxQueuedBytes
        let latch = self.latch
        let box = WeakReceiver()
        let done = self.done
        self.handle = try router.addHandler(
            handle: handle, persist: persist, respondent: respondent, policy: policy, overwrite: overwrite
        ) { msg in
            var m = msg
            if let r = box.receiver {
                m.receiver = r
                r.charge(m)
            }
            try? latch.put(m)
            if let r = box.receiver { r.fireNotify() }
            // A single-reply receiver is done at its message; any receiver
            // at a dead one (the respondent died, the broker exited).
            if !persist || msg.isDead { done.fire() }
        }
        box.receiver = self
    }

    /// Called as `notify(receiver)` after each message is queued. Used by
    /// `Select`. Install it, then check `isEmpty` to avoid missing a wake-up.
    public var notify: (@Sendable (Receiver) -> Void)? {
        get { notifyFn.withLock { $0 } }
        set { notifyFn.withLock { $0 = newValue } }
    }

    private func fireNotify() { notifyFn.withLock { $0 }?(self) }

    /// True if `get` would block now (a message may still arrive at any moment).
    public var isEmpty: Bool { latch.isEmpty }

    /// A `Sender` that delivers to this receiver, to pass to another context.
    public func toSender() -> Sender {
        Sender(context: router.context(byID: router.contextID), handle: handle)
    }

    /// Unregisters the handler and wakes every thread in `get` with
    /// `ChannelError("the Receiver has been closed")`. Local only: the remote
    /// end is not told.
    public func close() {
        guard !closed.exchange(true, ordering: .acquiringAndReleasing) else { return }
        try? router.delHandler(handle)
        latch.close()
        budget.withLock { b in
            b.held?.releaseReading()
            b.held = nil
        }
        done.fire()
    }

    /// Counts `msg` against the budget; holds its stream when over (broker thread).
    private func charge(_ msg: Message) {
        guard let max = maxQueuedBytes else { return }
        budget.withLock { b in
            b.queued += msg.data.count
            guard b.queued > max, b.held == nil, !closed.load(ordering: .acquiring),
                let stream = router.streamByID(msg.srcID), !stream.isPrivileged
            else { return }
            b.held = stream
            stream.holdReading()
        }
    }

    /// Takes `msg` off the budget; releases the stream at half (any thread).
    private func credit(_ msg: Message) {
        guard let max = maxQueuedBytes else { return }
        budget.withLock { b in
            b.queued = Swift.max(0, b.queued - msg.data.count)
            if b.queued <= max / 2, let stream = b.held {
                b.held = nil
                stream.releaseReading()
            }
        }
    }

    /// Runs `fn` once when this receiver can get nothing more: its single
    /// message arrived (not `persist`), a dead message arrived (the
    /// respondent disconnected, the broker exited), or it was closed. Runs at
    /// once if that already happened. The router uses it to finish the
    /// pending-call row of `callAsync` on every path.
    package func whenDone(_ fn: @escaping @Sendable () -> Void) { done.add(fn) }

    /// Waits for the next message.
    /// - Parameter timeout: seconds, or nil to wait until a message or a dead message arrives.
    /// - Throws: `ChannelError` if the channel is dead or the receiver closed,
    ///   `TimeoutError` if nothing came in time.
    public func get(timeout: Double? = nil) throws -> Message {
        try get(timeout: timeout, spin: 0)
    }

    /// `get` that busy-waits up to `spin` seconds before sleeping (see `Latch.get`).
    func get(timeout: Double?, spin: Double) throws -> Message {
        let msg: Message
        do {
            msg = try latch.get(timeout: timeout, spin: spin)
            credit(msg)
        } catch is LatchError {
            throw ChannelError(ChannelError.receiverClosed)
        } catch let error as TimeoutError {
            // Name who did not answer, as the caller named it.
            guard let respondent else { throw error }
            throw TimeoutError("waiting for context \(respondent.errorLabel)")
        }
        return try checked(msg)
    }

    /// The async twin of `get()`. Cancel the task to stop waiting.
    public func get() async throws -> Message {
        do {
            let msg = try await latch.value()
            credit(msg)
            return try checked(msg)
        } catch is LatchError {
            throw ChannelError(ChannelError.receiverClosed)
        }
    }

    /// `get` that returns a dead message as a message (its `unpickle`
    /// throws the `ChannelError`) instead of throwing: for iterations that
    /// must see every member end, such as `Select`'s.
    func getIncludingDead(timeout: Double?) throws -> Message {
        do {
            let msg = try latch.get(timeout: timeout)
            credit(msg)
            if msg.isDead, !persist { close() }
            return msg
        } catch is LatchError {
            throw ChannelError(ChannelError.receiverClosed)
        }
    }

    private func checked(_ msg: Message) throws -> Message {
        if msg.isDead {
            if !persist { close() }
            throw ChannelError(msg.deadText, context: respondent?.errorLabel)
        }
        return msg
    }

    /// Waits for the next message and returns its data as a `Value`.
    public func getData(timeout: Double? = nil) throws -> Value {
        try get(timeout: timeout).unpickle()
    }

    /// Waits for the next message and decodes its data as `T`.
    public func getData<T: Decodable>(_ type: T.Type, timeout: Double? = nil) throws -> T {
        try get(timeout: timeout).unpickle(T.self)
    }
}

/// Functions to run once, when a receiver is done; later ones run at once.
private final class DoneHook: Sendable {
    private let state = Lock<(fired: Bool, fns: [@Sendable () -> Void])>((false, []))

    func add(_ fn: @escaping @Sendable () -> Void) {
        let now = state.withLock { s -> Bool in
            if s.fired { return true }
            s.fns.append(fn)
            return false
        }
        if now { fn() }
    }

    func fire() {
        let fns = state.withLock { s -> [@Sendable () -> Void] in
            if s.fired { return [] }
            s.fired = true
            defer { s.fns.removeAll() }
            return s.fns
        }
        for fn in fns { fn() }
    }
}

/// Lets the handler closure reach its receiver without a retain cycle.
private final class WeakReceiver: @unchecked Sendable {
    // @unchecked: written once in Receiver.init before any message can arrive
    // on the new handle, then only read.
    weak var receiver: Receiver?
}

extension Receiver: Sequence {
    /// Blocks for each message; ends at the first `ChannelError` (the channel died).
    public struct Iterator: IteratorProtocol {
        let receiver: Receiver
        public mutating func next() -> Message? { try? receiver.get() }
    }
    public func makeIterator() -> Iterator { Iterator(receiver: self) }
}

extension Receiver: AsyncSequence {
    public struct AsyncIterator: AsyncIteratorProtocol {
        let receiver: Receiver
        public mutating func next() async throws -> Message? {
            do {
                return try await receiver.get()
            } catch is ChannelError {
                return nil
            }
        }
    }
    public func makeAsyncIterator() -> AsyncIterator { AsyncIterator(receiver: self) }
}

extension Receiver: CustomStringConvertible {
    public var description: String { "Receiver(\(router.contextID), \(handle))" }
}
