import Testing

import MitogenLib
import MitogenSys
import TestSupport

/// The fan-out engine with local contexts: results in target order, one
/// slow call and one failed connect never hold up the rest.
@Suite struct FleetRunTests {
    @Test func slowAndFailedTargetsEndOnTheirOwn() throws {
        try runWithRouter { router in
            let targets = try FleetSpec.expand((1...6).map { "local?name=l\($0)" } + ["local -> su:nosuchuser%20x", "local?name=l1 -> local?name=inner"])
            let tree = FleetTree(targets: targets)
            // l1 is shared by its own target and inner's.
            #expect(tree.nodes.count == 9)
            let calls = [FleetCall(function: "os.getpid"), FleetCall(function: "time.sleep", args: [.float(0.01)])]
            let start = monotonicNow()
            let results = router.fanOut(tree, calls: calls, options: FleetOptions(forks: 4, callTimeout: 5))
            #expect(results.map(\.label) == targets.map(\.label))
            let pids = results.prefix(6).compactMap { r -> Int? in
                if case .ok(.int(let pid))? = r.calls.first?.outcome { return pid }
                return nil
            }
            #expect(Set(pids).count == 6)
            #expect(results[6].connectError != nil)
            #expect(results[7].succeeded, "\(results[7])")
            #expect(monotonicNow() - start < 20)

            // One call that outlives its timeout fails alone.
            let slow = FleetTree(targets: try FleetSpec.expand((1...3).map { "local?name=s\($0)" }))
            let out = router.fanOut(slow, calls: [FleetCall(function: "time.sleep", args: [.float(0)])], options: FleetOptions(callTimeout: 5))
            #expect(out.allSatisfy { $0.succeeded })
            let stuck = router.fanOut(
                FleetTree(targets: [slow.targets[0]]), calls: [FleetCall(function: "time.sleep", args: [.float(30)])],
                options: FleetOptions(callTimeout: 0.5))
            if case .failed(let message)? = stuck.first?.calls.first?.outcome {
                // The deadline travels with the call: the host itself cancels it.
                #expect(message.hasPrefix("time.sleep: mitogen.core.CancelledError: time.sleep cancelled by its deadline (timeout 0.50 s)"), "\(message)")
            } else {
                Issue.record("expected a timeout: \(stuck)")
            }
        }
    }
}
