import CMitogenSys
import Glibc
import Synchronization
public import MitogenCore
import MitogenSys
import MitogenWire

/// What a function running in a context may ask about where it runs: the
/// Swift form of Mitogen's `takes_econtext` / `takes_router`, plus the
/// call's deadline and whether it was cancelled.
///
/// Cancellation is cooperative: the dispatcher marks the call cancelled (the
/// caller cancelled it, or its deadline passed) and the function stops at its
/// next check. A function can poll ``isCancelled`` (or call
/// ``checkCancellation()``), install a handler with ``onCancel(_:)`` that
/// interrupts what it blocks in, sleep with ``sleep(_:)``, or add
/// ``cancellationFD`` to its `poll(2)` set. An `async` function registered
/// with `Functions.register` also sees `Task.isCancelled`. A function that
/// ignores all of these is left behind after a grace time so the context
/// can run its next call (see `Dispatcher`).
public final class CallContext: Sendable {
    /// The registered name being run, e.g. `"os.getpid"`.
    public let function: String
    /// Core's router (opaque at this layer; Core offers it typed).
    package let routerRef: (any AnyObject & Sendable)?
    /// Id of the context that sent the call.
    public let callerID: UInt32
    /// The call's timeout in seconds as the caller gave it, nil for none.
    public let timeout: Double?
    /// Monotonic time (`monotonicNow()`) the call arrived here.
    public let received: Double

    /// Who cancelled a call, and when.
    public struct Cancellation: Sendable, Equatable {
        /// Who or what cancelled it, e.g. `"the operator"`, `"its deadline (timeout 2 s)"`.
        public var by: String
        /// Monotonic time of the cancel.
        public var at: Double
        /// True when the call's own deadline passed.
        public var byDeadline: Bool
    }

    /// What the call waits on now, for `mitogen.inflight`.
    package enum Waiting: Sendable, Equatable {
        case process(pid: Int32)
        case descriptor(fd: Int32, reading: Bool)
    }

    private struct State {
        var cancellation: Cancellation?
        var handlers: [@Sendable () -> Void] = []
        var eventFD: Int32 = -1
        var waiting: [Waiting] = []
    }
    private let state = Lock(State())

    package init(
        function: String, routerRef: (any AnyObject & Sendable)?, callerID: UInt32, timeout: Double? = nil,
        received: Double = monotonicNow()
    ) {
        self.function = function
        self.routerRef = routerRef
        self.callerID = callerID
        self.timeout = timeout
        self.received = received
    }

    deinit {
        let fd = state.withLock { $0.eventFD }
        if fd >= 0 { close(fd) }
    }

    /// Monotonic time the call must be done by, nil for none.
    public var deadline: Double? { timeout.map { received + $0 } }

    /// True once the call was cancelled (by its caller or its deadline).
    public var isCancelled: Bool { state.withLock { $0.cancellation != nil } }

    /// Who cancelled the call and when, nil while it is not cancelled.
    public var cancellation: Cancellation? { state.withLock { $0.cancellation } }

    /// Throws `mitogen.core.CancelledError` if the call was cancelled.
    public func checkCancellation() throws {
        if let c = cancellation { throw PyException("mitogen.core.CancelledError", "cancelled by \(c.by)") }
    }

    /// Runs `handler` once when the call is cancelled (on the thread that
    /// cancels it: keep it short, e.g. a `kill` or a `shutdown(2)`), or at
    /// once if it already was.
    public func onCancel(_ handler: @escaping @Sendable () -> Void) {
        let now = state.withLock { s -> Bool in
            if s.cancellation != nil { return true }
            s.handlers.append(handler)
            return false
        }
        if now { handler() }
    }

    /// Sleeps `seconds`, waking early if the call is cancelled.
    /// - Returns: false if it woke because of a cancel.
    @discardableResult
    public func sleep(_ seconds: Double) -> Bool {
        let end = monotonicNow() + max(0, seconds)
        var entry = pollfd(fd: cancellationFD, events: Int16(POLLIN), revents: 0)
        while true {
            if isCancelled { return false }
            let left = end - monotonicNow()
            if left <= 0 { return true }
            _ = poll(&entry, 1, Int32(min(left * 1000 + 1, 60_000)))
        }
    }

    /// A descriptor that becomes readable once the call is cancelled, for a
    /// function's own `poll(2)` set: a blocking read or write that polls it
    /// ends on cancel. Owned by this context; do not close or read it.
    public var cancellationFD: Int32 {
        state.withLock { s in
            if s.eventFD < 0 {
                s.eventFD = eventfd(s.cancellation == nil ? 0 : 1, Int32(EFD_CLOEXEC | EFD_NONBLOCK))
            }
            return s.eventFD
        }
    }

    /// Marks the call cancelled and runs its handlers; false if it already was.
    @discardableResult
    package func cancel(by: String, byDeadline: Bool = false) -> Bool {
        let taken = state.withLock { s -> (handlers: [@Sendable () -> Void], fd: Int32)? in
            guard s.cancellation == nil else { return nil }
            s.cancellation = Cancellation(by: by, at: monotonicNow(), byDeadline: byDeadline)
            defer { s.handlers.removeAll() }
            return (s.handlers, s.eventFD)
        }
        guard let taken else { return false }
        if taken.fd >= 0 {
            var one: UInt64 = 1
            _ = write(taken.fd, &one, 8)
        }
        for h in taken.handlers { h() }
        return true
    }

    // MARK: What it waits on

    /// Notes that the call waits on a process (its pid, for
    /// `mitogen.inflight`) until `doneWaiting` with the same value.
    package func noteWaiting(_ what: Waiting) { state.withLock { $0.waiting.append(what) } }

    package func doneWaiting(_ what: Waiting) {
        state.withLock { s in
            if let i = s.waiting.lastIndex(of: what) { s.waiting.remove(at: i) }
        }
    }

    package var waiting: [Waiting] { state.withLock { $0.waiting } }
}

extension CallContext {
    /// The router of the context running the function (the seed's `takes_router`).
    public var router: Router? { routerRef as? Router }

    /// The context that made the call (the seed's `takes_econtext` gives the
    /// running context; in Swift a function reaches it through `router`).
    public var caller: Context? { router?.context(byID: callerID) }
}
