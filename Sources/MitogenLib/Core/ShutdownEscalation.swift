import Glibc
import Synchronization
import MitogenSys
import MitogenWire

/// The forced end of `Context.shutdown`: what happens to a context that has
/// not disconnected some time after it was asked to.
extension Router {
    /// Seconds `Context.shutdown(wait: true)` waits beyond its timeout for
    /// the forced end (the cut stream) to be seen.
    static let shutdownSlack = 0.5
    /// Fractions of the timeout at which SIGTERM and SIGKILL are sent.
    static let shutdownTermAt = 0.5
    static let shutdownKillAt = 0.8

    /// One step of the forced end.
    private enum ShutdownStep {
        /// SIGTERM (and SIGCONT) to a direct child's process.
        case terminate
        /// SIGKILL to a direct child's process group, or the parent of an
        /// indirect one asked to cut it.
        case kill
        /// The stream to a direct child cut.
        case cut
    }

    /// Schedules the forced end of `context` over `timeout` seconds (see
    /// `Context.shutdown`); cancelled when it disconnects.
    func escalateShutdown(of context: Context, timeout: Double) {
        let steps: [(Double, ShutdownStep)] = [
            (timeout * Self.shutdownTermAt, .terminate), (timeout * Self.shutdownKillAt, .kill), (timeout, .cut),
        ]
        let timers = steps.map { delay, step in
            broker.after(delay) { [weak self] in self?.forceShutdown(step, of: context, after: delay) }
        }
        context.onDisconnect { for timer in timers { timer.cancel() } }
    }

    /// Runs `step` for `context` if it is still connected (broker thread).
    private func forceShutdown(_ step: ShutdownStep, of context: Context, after seconds: Double) {
        guard !context.isDisconnected else { return }
        let id = context.contextID
        let what = "shutdown of \(context): still connected after \(String(format: seconds))"
        // A direct child: its pid cannot have been reaped (and reused) while
        // its stream is connected, since the reaper starts at the disconnect,
        // on this same thread.
        if let stream = routes.withLock({ $0[id] }), stream.remoteID == id, !stream.isDisconnected {
            switch step {
            case .terminate:
                guard let pid = stream.pid else { return }
                logWarning("\(what): SIGTERM to pid \(pid)")
                sendSignal(SIGTERM, to: pid)
                sendSignal(SIGCONT, to: pid)
            case .kill:
                guard let pid = stream.pid else { return }
                logWarning("\(what): SIGKILL to the process group of pid \(pid)")
                sendSignal(SIGKILL, toGroupOf: pid)
            case .cut:
                logWarning("\(what): cutting its stream")
                stream.disconnect(reason: "shutdown did not end in \(String(format: seconds))")
            }
            return
        }
        guard step == .kill, let parentID = observer.contextTable.withLock({ $0[id]?.parentID }),
            parentID != contextID, !parentIDs.contains(parentID)
        else { return }
        logWarning("\(what): asking context \(parentID) to cut it")
        CallChain(self.context(byID: parentID)).callNoReplyValue("mitogen.disconnect", args: [.int(Int(id))])
    }
}

extension String {
    /// `seconds` as `"2 s"` or `"1.6 s"` (one decimal), for log lines.
    fileprivate init(format seconds: Double) {
        let tenths = Int((seconds * 10).rounded())
        self = tenths % 10 == 0 ? "\(tenths / 10) s" : "\(tenths / 10).\(tenths % 10) s"
    }
}
