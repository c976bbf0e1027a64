import Glibc
import Testing
import TestSupport
import MitogenLib
@testable import MitogenSys
@testable import MitogenWire
@testable import MitogenCore
@testable import MitogenMaster

/// Shutting contexts down: many at once.
@Suite(.serialized) struct ShutdownTests {
    /// 200 contexts shut down together: streams close while writes to them
    /// are still queued, and no stream may register, write or close a
    /// descriptor in the wrong order (the broker once trapped in
    /// `epoll_ctl(ADD)` with EBADF here).
    @Test func twoHundredContextsShutDownAtOnce() throws {
        try withTestRouter { router in
            let started = monotonicNow()
            var contexts: [Context] = []
            for i in 0..<200 { contexts.append(try router.local(name: "many.\(i)")) }
            let receivers = try contexts.map { try $0.callAsync("os.getpid") }
            for r in receivers { #expect(try r.get(timeout: 30).unpickle().intValue != nil) }
            let failedBefore = router.broker.failedRegistrations
            // Writes queued while the streams close: two threads spray 256 KiB
            // dead messages (dropped silently by the children) at every context.
            let all = contexts
            let spray = Message.dead(reason: String(repeating: "x", count: 256 << 10), handle: 4242)
            let sprayers = (0..<2).map { n in
                startThread(name: "spray.\(n)") {
                    let end = monotonicNow() + 40
                    while !all.allSatisfy(\.isDisconnected) && monotonicNow() < end {
                        for c in all where !c.isDisconnected { c.send(spray) }
                    }
                }
            }
            for c in contexts { try c.shutdown(wait: false) }
            #expect(waitUntil(timeout: 30) { all.allSatisfy(\.isDisconnected) })
            for t in sprayers { pthread_join(t, nil) }
            #expect(router.broker.failedRegistrations == failedBefore, "a closed descriptor was registered")
            // The master survived and still starts and calls contexts.
            let after = try router.local(name: "after")
            #expect(try after.callValue("os.getpid", timeout: 10).intValue != nil)
            print("200 contexts: started, called and shut down in \(monotonicNow() - started) s")
        }
    }
}
