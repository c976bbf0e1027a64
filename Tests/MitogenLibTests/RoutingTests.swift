import Glibc
import Testing
import TestSupport
import MitogenLib
@testable import MitogenSys
@testable import MitogenWire
@testable import MitogenCore
@testable import MitogenCalls
@testable import MitogenMaster
@testable import MitogenChild

/// Contexts of contexts: via chains, id allocation, routes, policies,
/// unidirectional mode, and what happens when a hop dies.
@Suite(.serialized) struct RoutingTests {
    @Test func threeHopChainAnswersCallsAndEachHopIsTheParentOfTheNext() throws {
        try withTestRouter { router in
            let a = try router.local(name: "a")
            let b = try router.local(via: a)
            let c = try router.local(via: b)
            let pids = try [a, b, c].map { try $0.callValue("os.getpid").intValue! }
            #expect(Set(pids).count == 3)
            #expect(try b.callValue("os.getppid").intValue == pids[0])
            #expect(try c.callValue("os.getppid").intValue == pids[1])
            #expect(c.name?.hasPrefix("a.local.") == true)
            // Ids: a from the master's counter, b and c from a block a got with ALLOCATE_ID.
            #expect(a.contextID == 1 && b.contextID >= 2 && c.contextID > b.contextID)
            // Every ancestor routes to every descendant.
            #expect(Set(router.routeTable().keys).isSuperset(of: [a.contextID, b.contextID, c.contextID]))
            let aRoutes = try a.callValue("mitogen.routes").dictValue!
            #expect(aRoutes[.int(Int(b.contextID))] != nil && aRoutes[.int(Int(c.contextID))] != nil)
            // The chain syntax does the same.
            let d = try router.connect(chain: ChainSpec.parse("local -> local -> fork"))
            #expect(try d.callValue("os.getpid").intValue != nil)
        }
    }

    @Test func hopsServeTheChildBinaryThemselves() throws {
        let cache = makeTempDirectory("mitogen-cache")
        defer { _ = system("rm -rf '\(cache)'") }
        try withTestRouter { router in
            router.setChildEnvironment("XDG_CACHE_HOME", cache)
            let a = try router.local()
            // a's children inherit a's environment, so b starts with a cold cache too,
            // yet nothing flows through the master: a uploads its own executable.
            let before = router.snapshot().streams.first { $0.contextID == a.contextID }!.counters.bytesOut
            let b = try router.local(name: "b", via: a)
            _ = try b.callValue("os.getpid")
            let after = router.snapshot().streams.first { $0.contextID == a.contextID }!.counters.bytesOut
            #expect(after - before < 10_000)  // a few calls, not a 10 MB binary
            // Whatever b needed came from a: b runs the same executable, by hash.
            let exeA: String = try a.call("os.readlink", "/proc/self/exe")
            let exeB: String = try b.call("os.readlink", "/proc/self/exe")
            #expect(exeA.split(separator: "/").last == exeB.split(separator: "/").last)
        }
    }

    /// A tree of 20 contexts, 3 levels: 4 under the master, 4 under each of those.
    func buildTree(_ router: Router) throws -> [Context] {
        var all: [Context] = []
        for i in 0..<4 {
            let top = try router.fork(name: "t\(i)")
            all.append(top)
            for j in 0..<4 { all.append(try router.fork(via: top, name: "t\(i).\(j)")) }
        }
        return all
    }

    @Test func everyContextCallsEveryOtherInBidirectionalMode() throws {
        try withTestRouter { router in
            let tree = try buildTree(router)
            #expect(tree.count == 20)
            var ok = 0, refusedByPolicy = 0
            for caller in tree {
                let results = try tree.filter { $0 != caller }.map { callee -> Receiver in
                    try caller.callAsyncValue(
                        "mitogen.call_context", args: [.int(Int(callee.contextID)), "os.getpid", .tuple([]), 5])
                }
                for r in results {
                    do {
                        _ = try r.get(timeout: 20).unpickle()
                        ok += 1
                    } catch let e as CallError {
                        #expect(e.message == "refused by policy", "\(e)")
                        refusedByPolicy += 1
                    }
                }
            }
            // Only a parent may call its children (parent authority); everything else
            // is routed but refused by the callee's policy, never lost.
            #expect(ok == 16)
            #expect(ok + refusedByPolicy == 20 * 19)
        }
    }

    @Test func unidirectionalModeRefusesForwardingBetweenBranches() throws {
        let router = Router(unidirectional: true)
        defer { router.shutdown(); try? router.join(timeout: 15) }
        let tree = try buildTree(router)
        var prevented = 0, ok = 0, refusedByPolicy = 0
        for caller in tree {
            for callee in tree where callee != caller {
                do {
                    _ = try caller.callValue(
                        "mitogen.call_context", args: [.int(Int(callee.contextID)), "os.getpid", .tuple([]), 5], timeout: 20)
                    ok += 1
                } catch let e as CallError where e.message.hasPrefix("routing mode prevents forward of message from context") {
                    prevented += 1
                } catch let e as CallError where e.message == "refused by policy" {
                    refusedByPolicy += 1
                }
            }
        }
        // Parents still call their own children; children reach their parent (which
        // refuses the call by policy); everything between branches, siblings
        // included, is stopped by the router before it is delivered.
        #expect(ok == 16)
        #expect(refusedByPolicy == 16)
        #expect(prevented == 20 * 19 - 32)
    }

    @Test func killingTheMiddleHopFailsWaitersBelowItAndSparesTheRest() throws {
        try withTestRouter { router in
            let a = try router.local(name: "a")
            let b = try router.local(via: a)
            let c = try router.local(via: b)
            let other = try router.local(name: "other")
            let bPid = Int32(try b.callValue("os.getpid").intValue!)
            let pendingC = try c.callAsync("time.sleep", 30)
            let pendingB = try b.callAsync("time.sleep", 30)
            kill(bPid, SIGKILL)
            let t0 = monotonicNow()
            #expect(throws: ChannelError.self) { try pendingC.get(timeout: 5) }
            #expect(throws: ChannelError.self) { try pendingB.get(timeout: 5) }
            #expect(monotonicNow() - t0 < 1.0)
            // The master, the first hop and an unrelated branch still work.
            #expect(try a.callValue("os.getpid").intValue != nil)
            #expect(try other.callValue("os.getpid").intValue != nil)
            // Routes to the lost subtree are gone everywhere, and the tree shows it.
            #expect(waitUntil {
                router.routeTable()[c.contextID] == nil && router.routeTable()[b.contextID] == nil
            })
            let aRoutes = try a.callValue("mitogen.routes").dictValue!
            #expect(aRoutes[.int(Int(b.contextID))] == nil && aRoutes[.int(Int(c.contextID))] == nil)
            let states = router.snapshot().contexts
            #expect(states.first { $0.id == c.contextID }?.state == .gone)
            #expect(states.first { $0.id == b.contextID }?.state == .gone)
            #expect(c.isDisconnected && b.isDisconnected && !a.isDisconnected)
            #expect(throws: ChannelError.self) { try c.callValue("os.getpid", timeout: 5) }
        }
    }

    @Test func aParentCutsItsChildOnRequest() throws {
        try withTestRouter { router in
            let a = try router.local()
            let b = try router.local(via: a)
            let pending = try b.callAsync("time.sleep", 30)
            #expect(try a.callValue("mitogen.disconnect", args: [.int(Int(b.contextID))]) == true)
            #expect(throws: ChannelError.self) { try pending.get(timeout: 5) }
            #expect(waitUntil { b.isDisconnected })
            #expect(try a.callValue("os.getpid").intValue != nil)
        }
    }

    @Test func aPolicyRefusingAHandlerSendsADeadReplyAndLogs() throws {
        try withTestRouter { router in
            let child = try router.local()
            let refused = try Receiver(router: router, policy: { _, _ in false })
            // The child sends to our refused handle and waits for a reply: it must get
            // "refused by policy", not silence.
            let e = #expect(throws: CallError.self) {
                try child.callValue(
                    "mitogen.call_context", args: [0, "no.matter", .tuple([]), 5], timeout: 10)
            }
            // Calls to the master itself find no handler ("invalid handle").
            #expect(e?.message == "invalid handle")
            let msg = Message.pickled("x", dstID: 0, handle: refused.handle)
            let reply = try Receiver(router: router, persist: false)
            var m = msg
            m.replyTo = reply.handle
            m.srcID = 0
            m.authID = 0
            router.route(m)
            let dead = #expect(throws: ChannelError.self) { try reply.get(timeout: 5) }
            #expect(dead?.reason == "refused by policy")
            #expect(refused.isEmpty)
        }
    }
}
