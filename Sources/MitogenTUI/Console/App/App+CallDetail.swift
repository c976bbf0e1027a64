import MitogenLib
import MitogenSys
import ConsoleModel

/// Hung calls in the console (issue 16): `:timeout`, the per-context
/// default deadline of calls made from here, and the detail pane of the
/// selected pending call: opened and closed with
/// Enter in the pending pane, it follows the selection and asks the context
/// running the call (`mitogen.inflight_detail`, an immediate builtin that
/// answers while the call hangs) once a second while it is open.
extension App {
    func toggleCallDetail() {
        if state.callDetail != nil {
            state.callDetail = nil
            return
        }
        guard let call = selectedPending else { return setStatus("no pending call selected", error: true) }
        state.callDetail = CallDetail(handle: call.handle, contextID: call.contextID)
        refreshCallDetailIfDue()
    }

    /// Follows the selected pending call and asks again when due (from the
    /// run loop, at least once a second).
    func refreshCallDetailIfDue() {
        guard var detail = state.callDetail else { return }
        if let call = selectedPending, call.handle != detail.handle {
            detail = CallDetail(handle: call.handle, contextID: call.contextID)
        }
        let now = monotonicNow()
        guard detail.isDue(at: now) else {
            state.callDetail = detail
            return
        }
        detail.asking = true
        state.callDetail = detail
        let context = router.context(byID: detail.contextID)
        let (handle, callerID, wake) = (detail.handle, router.contextID, self.wake)
        runDetached {
            let lines: [CallDetail.DetailLine]
            do {
                let answer = try context.callValue("mitogen.inflight_detail", timeout: 5)
                lines = CallDetail.lines(from: answer, handle: handle, callerID: callerID)
            } catch {
                lines = [CallDetail.DetailLine("cannot ask \(context.name ?? "the context"): \(error)", .warning)]
            }
            wake.post(.callDetail(handle: handle, lines: lines))
        }
    }

    /// `:timeout`: the console's calls to the marked contexts (or, with none
    /// marked, the selected one) carry this deadline, calls on many included.
    func setCallTimeout(_ seconds: Double?) {
        let marked = snapshot.contexts.filter { state.fleet.marked.contains($0.id) }.map(\.id)
        if !marked.isEmpty {
            for id in marked { state.callTimeouts[id] = seconds }
            return setStatus(seconds.map { "calls to \(marked.count) marked contexts now have a \($0) s deadline" }
                ?? "calls to \(marked.count) marked contexts have no deadline")
        }
        guard let id = state.selectedID, let info = snapshot.context(id) else { return setStatus("select a context first", error: true) }
        state.callTimeouts[id] = seconds
        setStatus(seconds.map { "calls to \(info.name) now have a \($0) s deadline" } ?? "calls to \(info.name) have no deadline")
    }

    /// An answer for the detail pane arrived.
    func callDetailArrived(handle: UInt32, lines: [CallDetail.DetailLine]) {
        guard var detail = state.callDetail, detail.handle == handle else { return }
        detail.lines = lines
        detail.fetchedAt = monotonicNow()
        detail.asking = false
        state.callDetail = detail
    }
}
