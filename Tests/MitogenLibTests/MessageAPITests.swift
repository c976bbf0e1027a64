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
