import Glibc
import Testing
import TestSupport
import MitogenLib
@testable import MitogenSys
@testable import MitogenWire
@testable import MitogenCore
@testable import MitogenMaster

/// Shutting contexts down: many at once, and ones that cannot answer.
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
                startJoinableThread(name: "spray.\(n)") {
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

    @Test func shutdownOfAStoppedContextEndsWithinItsTimeout() throws {
        try withTestRouter { router in
            let stopped = try router.local(name: "stopped")
            let other = try router.local(name: "other")
            let pid = Int32(try #require(try stopped.callValue("os.getpid").intValue))
            kill(pid, SIGSTOP)
            defer { kill(pid, SIGKILL) }
            let started = monotonicNow()
            try stopped.shutdown(wait: true, timeout: 2)
            let took = monotonicNow() - started
            print("shutdown of a stopped context took \(took) s")
            #expect(took < 3)
            #expect(stopped.isDisconnected)
            // Gone and reaped: no zombie left.
            #expect(waitUntil(timeout: 3) { kill(pid, 0) != 0 && errno == ESRCH }, "pid \(pid) is still there")
            #expect(try other.callValue("os.getpid", timeout: 10).intValue != nil)
        }
    }

    @Test func aStoppedContextsCallsTimeOutWhileASiblingAnswers() throws {
        try withTestRouter { router in
            let stopped = try router.local(name: "stopped")
            let sibling = try router.local(name: "sibling")
            let pid = Int32(try #require(try stopped.callValue("os.getpid").intValue))
            kill(pid, SIGSTOP)
            defer { kill(pid, SIGKILL) }
            let started = monotonicNow()
            #expect(throws: TimeoutError.self) { try stopped.callValue("os.getpid", timeout: 1) }
            #expect(monotonicNow() - started < 2.5)
            #expect(try sibling.callValue("os.getpid", timeout: 10).intValue != nil)
            #expect(router.observer.pendingCalls.isEmpty)
        }
    }
}
