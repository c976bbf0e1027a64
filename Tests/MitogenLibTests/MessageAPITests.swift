import Glibc
import Testing
import TestSupport
import MitogenLib
@testable import MitogenCore

/// The seed's promises about messages and calls that a Swift programmer
/// relies on: `route` stamps an unset source, a policy refusal is a `CallError`.
@Suite struct MessageAPITests {
    @Test func aChildsRouteOfAPlainMessageReachesTheMaster() throws {
        try withHostileRouter { router in
            let child = try router.local(name: "plain")
            let receiver = try Receiver(router: router)
            defer { receiver.close() }
            try child.callValue("test.route_plain", args: [.int(Int(receiver.handle)), "hello"], timeout: 10)
            let msg = try receiver.get(timeout: 5)
            #expect(try msg.unpickle() == "hello")
            #expect(msg.srcID == child.contextID && msg.authID == child.contextID)
        }
    }

    @Test func loggingToAFileInsideAChildDoesNotKillIt() throws {
        try withHostileRouter { router in
            let child = try router.local(name: "logs")
            let path = makeTempDirectory() + "/child.log"
            try child.callValue("test.log_to_file", args: [.str(path)], timeout: 10)
            #expect(try child.callValue("os.getpid", timeout: 10).intValue != nil)
        }
    }

    @Test func iteratingASelectSurfacesAMemberThatDied() throws {
        try withTestRouter { router in
            let fast = try (0..<2).map { try router.local(name: "fast\($0)") }
            let doomed = try router.local(name: "doomed")
            let pid = try #require(try doomed.callValue("os.getpid", timeout: 10).intValue.flatMap { Int32(exactly: $0) })
            let select = try Select(try fast.map { try $0.callAsyncValue("os.getpid", args: []) }
                + [try doomed.callAsyncValue("time.sleep", args: [30])])
            usleep(200_000)
            kill(pid, SIGKILL)
            var answers = 0, deaths: [String] = []
            for msg in select {
                do { _ = try msg.unpickle(); answers += 1 } catch let e as ChannelError { deaths.append(e.reason) }
            }
            #expect(answers == 2)
            #expect(deaths == ["the respondent Context has disconnected"])
        }
    }

    @Test func aCallTypedAsValueCompilesAndAnUntypedOneIsDiscardable() throws {
        try withTestRouter { router in
            let child = try router.local()
            let usage: Value = try child.call("shutil.disk_usage", "/")
            #expect(usage.sequenceValue?.count == 3)
            try child.call("os.getpid")  // result ignored: the Value overload
        }
    }

    @Test func aPolicyRefusalIsACallError() throws {
        try withTestRouter { router in
            try router.addHandler(handle: Handle.callFunction, policy: { _, _ in false }) { _ in }
            #expect {
                _ = try router.context(byID: router.contextID).callValue("os.getpid", args: [], timeout: 5)
            } throws: { error in
                (error as? CallError)?.message == "refused by policy"
            }
        }
    }
}
