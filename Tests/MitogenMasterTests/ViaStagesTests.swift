import Foundation
import Glibc
import MitogenLib
import Testing
import TestSupport

@testable import MitogenCore
@testable import MitogenMaster
@testable import MitogenSys

/// A context started `via` another shows in the master's tree while the
/// intermediary starts it: its stage as the hop reports it, then connected
/// with the same id, or failed with the error. The hop's `sudo` is a stub
/// (`sudo_path=`) that checks its argv, prompts, reads the password and then
/// hangs or goes on slowly, so the stages last long enough to be seen.
@Suite(.serialized, .enabled(if: access("/bin/sh", X_OK) == 0, "needs /bin/sh"))
struct ViaStagesTests {
    /// Runs `body` with a router and a sudo stub that ends with `then`.
    private func withSudoStub(then: String, _ body: (Router, String) throws -> Void) throws {
        let dir = makeTempDirectory("via-stages")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let stub = try writeSudoStub(in: dir, then: then)
        try withTestRouter { router in try body(router, stub) }
    }

    /// Connects `chain` (one hop) under `via` on a thread of its own.
    private func connectInBackground(_ router: Router, _ chain: String, via: Context) throws -> Latch<Result<UInt32, StreamError>> {
        let hop = try ChainSpec.parse(chain).hops[0]
        let done = Latch<Result<UInt32, StreamError>>()
        Thread.detachNewThread {
            do {
                let c = try router.connect(hop: hop, via: via, password: Secret("typed-to-the-stub"))
                try? done.put(.success(c.contextID))
            } catch {
                try? done.put(.failure(error as? StreamError ?? StreamError("\(error)")))
            }
        }
        return done
    }

    /// Every state the rows under a context go through, by id, as the
    /// observer publishes them (a repeated state once).
    private final class StateLog: Sendable {
        private let seen = Lock<[UInt32: [String]]>([:])

        init(_ router: Router, under parent: UInt32) {
            router.onChange { [observer = router.observer, self] in
                for row in observer.contexts where row.parentID == parent {
                    self.seen.withLock { s in
                        if s[row.id]?.last != row.state.description { s[row.id, default: []].append(row.state.description) }
                    }
                }
            }
        }

        func states(_ id: UInt32) -> [String] { seen.withLock { $0[id] } ?? [] }
    }

    /// Waits up to `timeout` s for a row under `parent` that `matches`.
    private func waitForRow(
        _ router: Router, under parent: UInt32, timeout: Double = 10, _ matches: (ContextInfo) -> Bool
    ) -> ContextInfo? {
        let end = monotonicNow() + timeout
        while monotonicNow() < end {
            if let row = router.observer.contexts.first(where: { $0.parentID == parent && matches($0) }) { return row }
            usleep(20_000)
        }
        return nil
    }

    @Test func aHangingViaConnectShowsItsStageThenTheError() throws {
        try withSudoStub(then: "exec sleep 60") { router, stub in
            let hop = try router.local(connectTimeout: 20)
            let started = monotonicNow()
            let done = try connectInBackground(router, "sudo:root?sudo_path=\(stub)&connect_timeout=3", via: hop)
            let pending = waitForRow(router, under: hop.contextID) { $0.state == .authenticating }
            #expect(pending?.method == "sudo")
            #expect(pending?.name == "\(hop.name ?? "").sudo.root")
            #expect(pending.map { $0.pid.map { $0 > 0 } ?? false } == true, "the stub's pid on the intermediary")
            // The connect has not answered yet: the row is there before the outcome.
            #expect(done.isEmpty)
            let outcome = try done.get(timeout: 15)
            guard case .failure(let error) = outcome else {
                Issue.record("the hanging stub connected: \(outcome)")
                return
            }
            #expect(error.kind == .timeout)
            #expect(monotonicNow() - started < 10)
            let pendingID = try #require(pending?.id)
            let row = try #require(router.observer.context(pendingID))
            guard case .failed(let text) = row.state else {
                Issue.record("the row was left \(row.state)")
                return
            }
            #expect(text == error.message)
            #expect(text.contains("Connection timed out. (after 3.0 s, while authenticating)"), "\(text)")
        }
    }

    /// Two hops deep (`local -> local -> sudo`): the master calls the second
    /// local, which reports the stages of the sudo it starts.
    @Test func aNestedViaConnectShowsItsStagesThenConnectedUnderTheSameID() throws {
        try withSudoStub(then: "sleep 1; exec \"$@\"") { router, stub in
            let first = try router.local(connectTimeout: 20)
            let second = try router.local(connectTimeout: 20, via: first)
            let seen = StateLog(router, under: second.contextID)
            let done = try connectInBackground(router, "sudo:root?sudo_path=\(stub)&connect_timeout=10", via: second)
            let pending = waitForRow(router, under: second.contextID) { $0.state == .authenticating }
            #expect(pending?.method == "sudo")
            #expect(done.isEmpty)
            let id = try done.get(timeout: 15).get()
            #expect(pending?.id == id)
            let row = try #require(router.observer.context(id))
            #expect(row.state == .connected)
            #expect(row.since == pending?.since)
            let states = seen.states(id)
            #expect(states.first == "authenticating" || states.first == "connecting", "\(states)")
            #expect(states.last == "connected", "\(states)")
            #expect(try router.context(byID: id).callValue("os.getuid", timeout: 10).intValue == 0)
        }
    }

    /// The hop's sudo runs the first stage where no cache has the child (a
    /// mount namespace with empty /tmp and /var/tmp, and XDG_CACHE_HOME in
    /// it), so the hop uploads its own binary: the master's row shows the
    /// upload's percentages between the password and the bootstrap.
    @Test(.enabled(if: getuid() == 0 && access("/usr/bin/unshare", X_OK) == 0, "needs root and unshare"))
    func aViaConnectThatUploadsShowsTheUploadPercentages() throws {
        let fresh = "exec unshare --mount sh -c 'mount -t tmpfs t /tmp && mount -t tmpfs t /var/tmp && XDG_CACHE_HOME=/tmp/c exec \"$@\"' sh \"$@\""
        try withSudoStub(then: fresh) { router, stub in
            let hop = try router.local(connectTimeout: 20)
            let seen = StateLog(router, under: hop.contextID)
            let done = try connectInBackground(router, "sudo:root?sudo_path=\(stub)&connect_timeout=20", via: hop)
            let id = try done.get(timeout: 25).get()
            let states = seen.states(id)
            let firstUpload = states.firstIndex { $0.hasPrefix("uploading ") }
            #expect(firstUpload != nil, "\(states)")
            #expect(states.firstIndex(of: "authenticating").map { $0 < (firstUpload ?? 0) } == true, "\(states)")
            #expect(states.suffix(2) == ["bootstrapping", "connected"], "\(states)")
            #expect(try #require(router.observer.context(id)).uploadedBytes > 0)
            #expect(try router.context(byID: id).callValue("os.getuid", timeout: 10).intValue == 0)
        }
    }

    /// What the master takes from a hop: only its own notes, each field checked.
    @Test func notesThatAreNotTheHopsOwnOrAreMalformedAreIgnored() throws {
        try withTestRouter { router in
            let hop = try router.local(connectTimeout: 20)
            let row = ViaStageRow(router: router, via: hop, method: "sudo", name: nil)
            func note(_ fields: [(String, Value)], auth: UInt32? = nil) -> Message {
                var m = Message.pickled(.dict(PyDict(fields)), handle: 99)
                m.srcID = hop.contextID
                m.authID = auth ?? hop.contextID
                return m
            }
            let before = router.observer.contexts
            // Its own id, known already; an id never granted to it; another's authority.
            row.receive(note([("id", .int(Int(hop.contextID))), ("name", "x"), ("stage", "connecting")]))
            row.receive(note([("id", .int(4_000_000)), ("name", "x"), ("stage", "connecting")]))
            row.receive(note([("id", .int(4_000_000)), ("name", "x"), ("stage", "connecting")], auth: 0))
            #expect(router.observer.contexts == before)
            #expect(row.id == nil)
            // Malformed fields.
            let bad: [[(String, Value)]] = [
                [("id", .int(-1)), ("name", "x"), ("stage", "connecting")],
                [("id", .int(1 << 40)), ("name", "x"), ("stage", "connecting")],
                [("id", .int(7)), ("name", .str(String(repeating: "n", count: 600))), ("stage", "connecting")],
                [("id", .int(7)), ("name", "x"), ("stage", "connected")],
                [("id", .int(7)), ("name", "x"), ("stage", "uploading"), ("sent", .int(Int.max)), ("total", .int(Int.max))],
                [("id", .int(7)), ("name", "x"), ("stage", "uploading"), ("sent", .int(5)), ("total", .int(4))],
                [("id", .int(7)), ("name", "x"), ("stage", "connecting"), ("pid", .int(-3))],
            ]
            for fields in bad { #expect(ViaStageNote.decode(.dict(PyDict(fields))) == nil) }
            let big = Message.pickled(.str(String(repeating: "z", count: 2000)), handle: 99).from(hop.contextID)
            row.receive(big)
            // A well-formed note decodes.
            let good = ViaStageNote.decode(.dict(PyDict([
                ("id", .int(7)), ("name", "sudo.root\u{1b}[2J"), ("pid", .int(12)), ("stage", "uploading"),
                ("sent", .int(50)), ("total", .int(200)),
            ])))
            #expect(good?.id == 7)
            #expect(good?.name.contains("\u{1b}") == false)
            #expect(good?.state == .uploading(sent: 50, total: 200))
            #expect(row.finish(failure: "x") == nil)

            // An id granted to the hop's subtree makes the row; then only that id, at most maxNotes, until finish.
            let granted: UInt32 = 3_000_000
            _ = try #require(router.streamByID(hop.contextID)).grantedIDs.withLock { $0.insert(granted..<(granted + 2)) }
            let live = ViaStageRow(router: router, via: hop, method: "sudo", name: nil)
            live.receive(note([("id", .int(Int(granted))), ("name", "sudo.root"), ("stage", "connecting")]))
            #expect(router.observer.context(granted)?.state == .connecting)
            #expect(router.observer.context(granted)?.parentID == hop.contextID)
            #expect(router.observer.context(granted)?.name == "\(hop.name ?? "").sudo.root")
            live.receive(note([("id", .int(Int(granted + 1))), ("name", "x"), ("stage", "connecting")]))
            #expect(router.observer.context(granted + 1) == nil)
            for _ in 0..<ViaStageNote.maxNotes {
                live.receive(note([("id", .int(Int(granted))), ("name", "x"), ("stage", "authenticating")]))
            }
            live.receive(note([("id", .int(Int(granted))), ("name", "x"), ("stage", "bootstrapping")]))
            #expect(router.observer.context(granted)?.state == .authenticating)
            #expect(live.finish(failure: "the error") == granted)
            live.receive(note([("id", .int(Int(granted))), ("name", "x"), ("stage", "connecting")]))
            #expect(router.observer.context(granted)?.state == .failed("the error"))
        }
    }
}
