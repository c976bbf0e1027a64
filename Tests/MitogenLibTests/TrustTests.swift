import Glibc
import Testing
import TestSupport
import MitogenLib
@testable import MitogenSys
@testable import MitogenCore
@testable import MitogenMaster

/// The trust model against a compromised child: `mitogen-hostile-child` is the
/// normal child plus `evil.*` functions that forge messages through the
/// public API. Whatever it sends, it must not reach its siblings with
/// someone else's authority, take over routes, or exhaust the master.
@Suite(.serialized) struct TrustTests {
    @Test func aChildCannotClaimTheMastersIDAndCallASiblingAsTheMaster() throws {
        try withHostileRouter { router in
            let sibling = try router.local(name: "sibling")
            let evil = try router.local(name: "evil")
            let dir = makeTempDirectory()
            let marker = dir + "/planted"
            try evil.callValue("evil.add_route", args: [0, "master"], timeout: 10)
            try evil.callValue("evil.add_route", args: [.int(Int(sibling.contextID)), "sibling"], timeout: 10)
            // A call round trip after each claim: the master has handled them.
            _ = try evil.callValue("os.getpid", timeout: 10)
            #expect(router.routeTable()[0] == nil)
            #expect(router.streamByID(sibling.contextID)?.name == "sibling")
            try evil.callValue("evil.call_as", args: [.int(Int(sibling.contextID)), 0, "files.write", .list([.str(marker), "x"])], timeout: 10)
            _ = try sibling.callValue("os.getpid", timeout: 10)
            _ = try evil.callValue("os.getpid", timeout: 10)
            #expect(access(marker, F_OK) != 0, "the sibling ran a call forged with the master's authority")
        }
    }

    @Test func aChildCannotClaimIDsThatWereNeverAllocatedToIt() throws {
        try withHostileRouter { router in
            let evil = try router.local(name: "evil")
            let next = evil.contextID + 1
            try evil.callValue("evil.add_route", args: [.int(Int(next)), "future"], timeout: 10)
            _ = try evil.callValue("os.getpid", timeout: 10)
            #expect(router.routeTable()[next] == nil)
            // The id goes to the next context, which answers through its own stream.
            let later = try router.local(name: "later")
            #expect(later.contextID == next)
            #expect(try later.callValue("os.getpid", timeout: 10).intValue != nil)
            #expect(router.streamByID(next)?.name == "later")
        }
    }

    @Test func aChildUnderAnIntermediaryCannotTakeOverItsParentsRoutes() throws {
        try withHostileRouter { router in
            let hop = try router.local(name: "hop")
            let evil = try router.local(name: "evil", via: hop)
            try evil.callValue("evil.add_route", args: [0, "master"], timeout: 10)
            try evil.callValue("evil.add_route", args: [.int(Int(hop.contextID)), "hop"], timeout: 10)
            _ = try evil.callValue("os.getpid", timeout: 10)
            let routes = try #require(try hop.callValue("mitogen.routes", timeout: 10).dictValue)
            #expect(routes[0] == nil)
            #expect(routes[.int(Int(hop.contextID))] == nil)
            // The hop still answers the master: replies to 0 go up, not to evil.
            #expect(try hop.callValue("os.getpid", timeout: 10).intValue != nil)
            #expect(try evil.callValue("os.getpid", timeout: 10).intValue != nil)
        }
    }

    @Test func idAllocationIsBoundedPerSubtreeAndNeverWraps() throws {
        try withHostileRouter { router in
            let evil = try router.local(name: "evil")
            let blocks = ParentState.maxIDsPerSubtree / Int(ParentState.idBlockSize)
            let answer = try evil.callValue("evil.allocate", args: [.int(blocks + 10)], timeout: 120)
            guard case .tuple(let pair) = answer, pair.count == 2 else { Issue.record("reply \(answer)"); return }
            // The child's own id counts against its quota: one block less.
            #expect(pair[0].intValue == blocks - 1)
            #expect(pair[1].stringValue?.contains("refused by policy") == true)
            // The master is unharmed and still hands out ids.
            let other = try router.local(name: "other")
            #expect(try other.callValue("os.getpid", timeout: 10).intValue != nil)
        }
    }

    // MARK: File transfer only to the callee

    @Test func putFileRefusesASenderThatIsNotTheCallee() throws {
        try withHostileRouter { router in
            let sibling = try router.local(name: "sibling")
            let evil = try router.local(name: "evil")
            try evil.callValue("evil.hijack_put", args: [.int(Int(sibling.contextID)), .int(Int(Handle.shutdown))], timeout: 10)
            let dir = makeTempDirectory()
            let source = dir + "/source"
            #expect(system("head -c 300000 /dev/zero > '\(source)'") == 0)
            let toSibling = try #require(router.streamByID(sibling.contextID))
            let before = toSibling.counters.messagesOut
            let error = #expect(throws: StreamError.self) { try evil.putFile(source, to: dir + "/dest") }
            #expect(error?.message.contains("putFile") == true)
            #expect(error?.message.contains("Sender") == true)
            // Nothing went to the sibling, which still answers.
            #expect(toSibling.counters.messagesOut == before)
            #expect(try sibling.callValue("os.getpid", timeout: 10).intValue != nil)
            #expect(!sibling.isDisconnected)
        }
    }

    @Test func fakeSSHRefusesAStdinSenderThatIsNotTheCallee() throws {
        try withHostileRouter { router in
            let sibling = try router.local(name: "sibling")
            let evil = try router.local(name: "evil")
            try evil.callValue("evil.hijack_exec", args: [.int(Int(sibling.contextID)), .int(Int(Handle.shutdown))], timeout: 10)
            let toSibling = try #require(router.streamByID(sibling.contextID))
            let before = toSibling.counters.messagesOut
            let status = try FakeSSH.run(
                dest: evil, router: router, args: ["/bin/sh", "-c", "printf abc | ssh anyhost cat"], deadline: 30)
            #expect(status != 0)
            #expect(toSibling.counters.messagesOut == before)
            #expect(try sibling.callValue("os.getpid", timeout: 10).intValue != nil)
            #expect(!sibling.isDisconnected)
        }
    }

    // MARK: Memory a child can make the master spend

    /// 300k messages from a child that reads nothing, each wanting a reply:
    /// to an unroutable id (each makes a dead reply: 18 MB in all) or to the
    /// child itself (each is forwarded back: 38 MB). The master must stop
    /// queueing for it (bounds: 8 MiB queued, 12 MiB of RSS growth) and keep
    /// serving its other children.
    @Test(arguments: ["unroutable", "itself"])
    func aFloodOfRefusedMessagesDoesNotGrowTheMastersMemory(to target: String) throws {
        try withHostileRouter { router in
            let sibling = try router.local(name: "sibling")
            let evil = try router.local(name: "evil")
            let fromEvil = try #require(router.streamByID(evil.contextID))
            let count = 300_000
            let before = residentKiB()
            let started = monotonicNow()
            let dst = target == "itself" ? Int(evil.contextID) : 0xFFFF_FF00
            let flood = try evil.callAsyncValue("evil.flood", args: [.int(dst), .int(count)])
            defer { flood.close() }
            // Until the master has read it all, or read nothing more for 1.5 s.
            var seen = fromEvil.counters.messagesIn
            var quietSince = monotonicNow()
            while monotonicNow() - quietSince < 1.5 && monotonicNow() - started < 60 {
                usleep(50_000)
                let now = fromEvil.counters.messagesIn
                if now >= UInt64(count) { break }
                if now != seen { (seen, quietSince) = (now, monotonicNow()) }
            }
            let grown = residentKiB() - before
            let counters = fromEvil.counters
            print("flood to \(target): read \(counters.messagesIn) messages in \(monotonicNow() - started) s, RSS +\(grown) KiB, queued \(counters.queuedBytes) bytes, dropped \(counters.droppedMessages)")
            if !underSanitizer {  // its allocator keeps freed blocks resident
                #expect(grown < 12 << 10, "the master's RSS grew by \(grown) KiB")
            }
            #expect(counters.queuedBytes <= 8 << 20, "\(counters.queuedBytes) bytes queued for a child that reads nothing")
            #expect(try sibling.callValue("os.getpid", timeout: 10).intValue != nil)
        }
    }

    @Test func aChildCannotGrowTheRouteTableWithoutBound() throws {
        try withHostileRouter { router in
            let evil = try router.local(name: "evil")
            let blocks = Stream.maxRoutes / Int(ParentState.idBlockSize) + 4
            let sent = try evil.callValue("evil.claim_routes", args: [.int(blocks)], timeout: 120).intValue ?? 0
            #expect(sent == blocks * Int(ParentState.idBlockSize))
            _ = try evil.callValue("os.getpid", timeout: 30)
            let viaEvil = router.routeTable().values.filter { $0 == "evil" }.count
            #expect(viaEvil <= Stream.maxRoutes + 1, "its own route and at most maxRoutes claimed")
            // The master still starts and routes to new contexts.
            let later = try router.local(name: "later")
            #expect(try later.callValue("os.getpid", timeout: 10).intValue != nil)
        }
    }
}
