import Glibc
import Testing
import TestSupport
import MitogenLib
@testable import MitogenSys
@testable import MitogenCore
@testable import MitogenMaster

/// The fork server is one process shared by every router of this master: when
/// it dies, the next `fork()` reaps it and starts a new one.
@Suite(.serialized) struct ForkServerRecoveryTests {
    /// The state letter of `/proc/<pid>/stat` (`R`, `S`, `Z`, ...), nil when the pid is gone.
    static func processState(_ pid: pid_t) -> Character? {
        guard let bytes = try? readWholeFile("/proc/\(pid)/stat") else { return nil }
        let text = String(decoding: bytes, as: UTF8.self)
        guard let close = text.lastIndex(of: ")"), text.distance(from: close, to: text.endIndex) > 2 else { return nil }
        return text[text.index(close, offsetBy: 2)]
    }

    @Test func killedForkServerIsReapedAndReplaced() throws {
        try withTestRouter { router in
            let first = try router.fork()
            #expect(try first.callValue("mitogen.echo", args: ["before"]) == "before")
            let old = try #require(ForkServer.runningPID, "no fork server after a fork()")
            #expect(sendSignal(SIGKILL, to: old))
            // Dead means a zombie (unreaped) or gone; kill(pid, 0) cannot tell.
            #expect(waitUntil { Self.processState(old) == "Z" || Self.processState(old) == nil })

            let second = try router.fork()
            let pid: Int = try second.call("os.getpid")
            #expect(pid > 0 && pid != Int(getpid()))
            #expect(try second.callValue("mitogen.echo", args: ["after"]) == "after")
            let replacement = try #require(ForkServer.runningPID)
            #expect(replacement != old)
            let state = Self.processState(old)
            #expect(state == nil || state != "Z", "the killed fork server \(old) is left a zombie")
            // The context forked before the kill is not the server's to lose.
            #expect(try first.callValue("mitogen.echo", args: ["still"]) == "still")
        }
    }

    /// Killed just before a request (the kill may land mid-request): the
    /// request is retried once with fresh descriptors on a new server.
    @Test func forkRightAfterTheServerIsKilledSucceeds() throws {
        try withTestRouter { router in
            _ = try router.fork()
            for round in 0..<5 {
                let old = try #require(ForkServer.runningPID)
                #expect(sendSignal(SIGKILL, to: old))
                let context = try router.fork()
                #expect(try context.callValue("mitogen.echo", args: [.int(round)]) == .int(round))
                #expect(waitUntil { Self.processState(old) == nil }, "fork server \(old) left as a zombie")
                try context.shutdown(wait: true, timeout: 10)
            }
        }
    }
}
