import MitogenCore
import Synchronization
import MitogenSys
import MitogenWire

/// Deadlines and cancels of the dispatcher's calls.
///
/// A queued call that is cancelled, or whose deadline passes, leaves the
/// queue and is answered at once. A running call is marked cancelled in its
/// `CallContext` (its handlers run: a sleep wakes, a subprocess group is
/// signalled) and answers with a `CancelledError` when it returns. If it
/// has not returned `abandonGrace` seconds after the cancel (a function that
/// ignores cancellation), it is answered anyway and left to finish on its
/// thread, whose result is then dropped, while a new thread runs the queue:
/// a cancel frees the context within a second whatever the function does.
extension Dispatcher {
    /// Seconds a cancelled call has to return before it is left behind.
    package static let abandonGrace = 0.5

    /// Cancels the call `callerID` made with reply handle `replyTo`.
    /// - Returns: false if no such call is queued or running here.
    package func cancel(callerID: UInt32, replyTo: UInt32, by: String) -> Bool {
        let match: (DispatchedCall, queued: Bool)? = state.withLock { q in
            let isIt = { (c: DispatchedCall) in c.message.srcID == callerID && c.message.replyTo == replyTo }
            if let i = q.waiting.firstIndex(where: isIt) { return (q.waiting.remove(at: i), true) }
            if let r = q.running, isIt(r) { return (r, false) }
            return nil
        }
        guard let (call, queued) = match else { return false }
        if queued {
            if call.claimAnswer() {
                let waited = monotonicNow() - call.context.received
                answer(call.message, .callError(Self.traced(
                    "\(CallWire.cancelledType): \(call.name) cancelled by \(by) before it ran (it waited \(formatSeconds(waited)) s in the queue)",
                    function: call.name)))
            }
        } else {
            cancelRunning(call, by: by, byDeadline: false)
        }
        return true
    }

    /// Makes sure a timer fires by `deadline`. One timer serves every call:
    /// it is armed for the nearest deadline and, when it fires, handles the
    /// calls whose time is up and re-arms for the next, so a stream of quick
    /// calls with long timeouts costs no timer each.
    func watchDeadline(_ deadline: Double) {
        let arm = state.withLock { q -> Bool in
            if let armed = q.armedDeadline, armed <= deadline { return false }
            q.armedDeadline = deadline
            return true
        }
        guard arm else { return }
        router.broker.after(max(0, deadline - monotonicNow())) { [self] in deadlineTimerFired(armedFor: deadline) }
    }

    private func deadlineTimerFired(armedFor armed: Double) {
        let now = monotonicNow()
        let (expired, next) = state.withLock { q -> ([DispatchedCall], Double?) in
            if q.armedDeadline == armed { q.armedDeadline = nil }
            let calls = (q.running.map { [$0] } ?? []) + q.waiting
            let expired = calls.filter { ($0.context.deadline ?? .infinity) <= now && !$0.context.isCancelled }
            let next = calls.compactMap(\.context.deadline).filter { $0 > now }.min()
            return (expired, next)
        }
        for call in expired { deadlinePassed(call) }
        if let next { watchDeadline(next) }
    }

    /// `call`'s deadline passed: refuse it if still queued, cancel it if running.
    func deadlinePassed(_ call: DispatchedCall) {
        let queued = state.withLock { q -> Bool? in
            if let i = q.waiting.firstIndex(where: { $0 === call }) {
                q.waiting.remove(at: i)
                return true
            }
            return q.running === call ? false : nil
        }
        guard let queued else { return }  // already done
        if queued {
            if call.claimAnswer() {
                answer(call.message, .callError(refusal(call, waited: monotonicNow() - call.context.received)))
            }
        } else {
            cancelRunning(call, by: "its deadline (timeout \(formatSeconds(call.context.timeout ?? 0)) s)", byDeadline: true)
        }
    }

    private func cancelRunning(_ call: DispatchedCall, by: String, byDeadline: Bool) {
        guard call.context.cancel(by: by, byDeadline: byDeadline) else { return }
        logDebug("cancelling \(call.name) (running \(formatSeconds(monotonicNow() - (call.started ?? call.context.received))) s): cancelled by \(by)")
        router.broker.after(Self.abandonGrace) { [self] in leaveBehindIfStuck(call) }
    }

    /// Answers a cancelled call that did not return, and hands the queue to a new thread.
    private func leaveBehindIfStuck(_ call: DispatchedCall) {
        let handover = state.withLock { q -> (next: DispatchedCall?, epoch: UInt64)? in
            guard q.running === call else { return nil }  // it returned in time
            q.epoch &+= 1
            if q.waiting.isEmpty || q.closed {
                q.running = nil
                return (nil, q.epoch)
            }
            q.running = q.waiting.removeFirst()
            return (q.running, q.epoch)
        }
        guard let handover else { return }
        logWarning("\(call.name) did not stop within \(formatSeconds(Self.abandonGrace)) s of its cancel: left to finish on its thread; its result will be dropped")
        if call.claimAnswer(), let c = call.context.cancellation {
            answer(call.message, .callError(cancelText(call, c, note: " (it did not stop within \(formatSeconds(Self.abandonGrace)) s, so it was left behind)")))
        }
        if let next = handover.next {
            startThread(name: "mitogen.call") { [self] in drive(from: next, epoch: handover.epoch) }
        }
    }

    /// The `CancelledError` text of a cancelled call, with its trace line.
    func cancelText(_ call: DispatchedCall, _ c: CallContext.Cancellation, note: String = "") -> String {
        let ran = c.at - (call.started ?? call.context.received)
        return Self.traced(
            "\(CallWire.cancelledType): \(call.name) cancelled by \(c.by) after \(formatSeconds(ran)) s running\(note)", function: call.name)
    }

    /// The `CancelledError` text of a call refused because its deadline passed before it ran.
    func refusal(_ call: DispatchedCall, waited: Double) -> String {
        Self.traced(
            "\(CallWire.cancelledType): \(call.name) refused: its deadline (timeout \(formatSeconds(call.context.timeout ?? 0)) s) "
                + "passed before it ran (it waited \(formatSeconds(waited)) s in the queue)", function: call.name)
    }
}
