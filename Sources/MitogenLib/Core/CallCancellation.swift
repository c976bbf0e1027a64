import MitogenSys
import MitogenWire

/// How a call's deadline and a cancel travel (the caller's half; the
/// dispatcher in `MitogenCalls` is the other).
///
/// - A **deadline** rides in the CALL_FUNCTION message itself, as the
///   reserved keyword argument `__mitogen_timeout__` (seconds, relative:
///   the hosts' clocks need not agree, as gRPC's `grpc-timeout`). So it goes
///   through every hop untouched, and a call without a timeout is the same
///   frame Python Mitogen sends. The dispatcher strips it before the
///   function sees its arguments, starts the clock when the call arrives,
///   refuses the call if the time is up before it runs, and cancels it if
///   it is still running then.
/// - A **cancel** is an ordinary CALL_FUNCTION of the immediate builtin
///   `mitogen.cancel(handle, by)` sent to the context running the call: it
///   needs no new handle, passes every hop's routing and the same
///   parent-authority policy as the call, and names the call by the reply
///   handle the caller gave it, which the dispatcher matches together with
///   the sender's id (so one caller cannot cancel another's calls).
package enum CallWire {
    /// The reserved keyword argument that carries a call's timeout.
    package static let timeoutKey = "__mitogen_timeout__"
    /// The immediate builtin that cancels a call.
    package static let cancelFunction = "mitogen.cancel"
    /// Seconds a caller waits past a call's timeout for the context's own
    /// answer (the cancelled call's `CallError`) before giving up locally.
    package static let answerSlack = 1.0
    /// Seconds a cancel waits for the context to confirm (its `CallError`)
    /// before the waiter is released locally.
    package static let confirmGrace = 1.0
    /// The type of the `CallError` of a cancelled or refused call.
    package static let cancelledType = "mitogen.core.CancelledError"
    /// Timeouts from this many seconds up (about 31 years), and infinite
    /// ones, mean no deadline: no clock or timer has to hold them.
    package static let longestTimeout = 1e9

    /// A caller's or a message's timeout made safe to compute with: nil for
    /// none (nil, NaN, infinite, or `longestTimeout` and more), 0 for a
    /// negative one (refused at once).
    package static func normalized(_ timeout: Double?) -> Double? {
        guard let t = timeout, !t.isNaN, t < longestTimeout else { return nil }
        return max(0, t)
    }
}

extension CallError {
    /// True for a call that was cancelled (by a caller, an operator or its
    /// deadline) or refused because its deadline passed before it ran.
    public var isCancelled: Bool { type == CallWire.cancelledType }

    /// True for a call its deadline cancelled or refused.
    public var isDeadline: Bool { isCancelled && message.contains("its deadline") }
}

extension Router {
    /// Cancels a pending call of this router: the context running it gets a
    /// cancel and stops the work (a sleep wakes, a subprocess's process
    /// group is ended, a file transfer stops, a registered function sees
    /// `isCancelled`), then answers with a `CallError` of type
    /// `mitogen.core.CancelledError` that names `by` and how long the call
    /// ran. If that answer does not come within a second (the context is
    /// hung or cut off), the waiter gets the same kind of error locally.
    /// - Parameters:
    ///   - handle: the reply handle of the call (`PendingCall.handle`, or
    ///     the `handle` of the `Receiver` that `callAsync` returned).
    ///   - by: who cancels, for the error text (`"the operator"`).
    /// - Returns: false if no such call is pending.
    @discardableResult
    public func cancelCall(handle: UInt32, by: String = "the caller") -> Bool {
        guard let call = observer.pendingCalls.first(where: { $0.handle == handle }), hasHandler(handle) else { return false }
        let context = self.context(byID: call.contextID)
        let body = Value.tuple([
            .none, "mitogen", .none, "cancel", .tuple([.int(Int(handle)), .str(by)]), .kwargs(PyDict()),
        ])
        context.send(Message.pickled(body, handle: Handle.callFunction))
        let cancelledAt = monotonicNow()
        broker.after(CallWire.confirmGrace) { [self] in
            guard observer.pendingCalls.contains(where: { $0.handle == handle }), hasHandler(handle) else { return }
            let text = "\(CallWire.cancelledType): \(call.function) cancelled by \(by) after "
                + "\(formatSeconds(cancelledAt - call.since)) s (\(context.name ?? "context \(call.contextID)") "
                + "did not confirm within \(formatSeconds(CallWire.confirmGrace)) s)"
            var m = Message.pickled(.callError(text), dstID: contextID, handle: handle).from(call.contextID)
            m.routerRef = self
            route(m)
        }
        return true
    }
}

/// `1.25` for 1.2549: seconds with two decimals, without Foundation.
package func formatSeconds(_ seconds: Double) -> String {
    guard seconds.isFinite, abs(seconds) < 1e15 else { return "\(seconds)" }
    let hundredths = Int((abs(seconds) * 100).rounded())
    let frac = hundredths % 100
    return (seconds < 0 ? "-" : "") + "\(hundredths / 100)." + (frac < 10 ? "0" : "") + "\(frac)"
}
