import MitogenLib
import MitogenSys

/// Figures of issue 16 (hung calls), same run as the call RTT:
/// - `cancel_to_next_call_ms_median`: a `time.sleep(600)` runs; from
///   `router.cancelCall` to the answer of the next `os.getpid` on the same
///   context (the cancel travels, the sleep wakes, the context is free).
/// - `call_rtt_deadline_us_median` beside `call_rtt_plain_us_median`: the
///   cost of carrying a deadline (a reserved kwarg plus a timer on each
///   side), the two kinds interleaved call by call so drift hits both alike.
extension Bench {
    func cancellation(_ out: inout JSONObject, child: Context) throws {
        let router = child.router
        let reps = quick ? 3 : 30
        var cancels: [Double] = []
        for _ in 0..<reps {
            let hung = try child.callAsync("time.sleep", 600)
            // Wait until it runs there, so the cancel reaches a running call.
            let deadline = monotonicNow() + 5
            while monotonicNow() < deadline {
                let calls = try child.callValue("mitogen.inflight", timeout: 5).sequenceValue ?? []
                if calls.contains(where: { $0.dictValue?["function"] == "time.sleep" }) { break }
            }
            let t = monotonicNow()
            router.cancelCall(handle: hung.handle, by: "mitogen-bench")
            try child.callValue("os.getpid", timeout: 5)
            cancels.append((monotonicNow() - t) * 1000)
            _ = try? hung.get(timeout: 5)
            hung.close()
        }
        out["cancel_to_next_call_ms_median"] = .number(median(cancels))
        out["cancel_to_next_call_reps"] = .number(Double(reps))

        let callReps = quick ? 200 : 20_000
        var plain: [Double] = [], withDeadline: [Double] = []
        plain.reserveCapacity(callReps)
        withDeadline.reserveCapacity(callReps)
        for _ in 0..<callReps {
            var t = monotonicNow()
            try child.callValue("mitogen.echo", args: [.none])
            plain.append((monotonicNow() - t) * 1e6)
            t = monotonicNow()
            try child.callValue("mitogen.echo", args: [.none], timeout: 60)
            withDeadline.append((monotonicNow() - t) * 1e6)
        }
        out["call_rtt_plain_us_median"] = .number(median(plain))
        out["call_rtt_deadline_us_median"] = .number(median(withDeadline))
    }
}
