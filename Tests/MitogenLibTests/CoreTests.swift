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

/// Latch, Receiver, Select and Channel semantics, in one process and against a real child.
@Suite struct CoreTests {
    /// A blocking call spins for its reply only while the context's recent
    /// replies came within the spin: a remote context's caller sleeps at once.
    @Test func replySpinFollowsTheContextsReplyTimes() throws {
        try withTestRouter { router in
            let ctx = router.context(byID: 4242)
            #expect(ctx.replySpin == CallChain.replySpin)  // nothing known yet
            for _ in 0..<20 { ctx.noteReplyTime(40e-6) }
            #expect(ctx.replySpin == CallChain.replySpin)
            for _ in 0..<20 { ctx.noteReplyTime(300e-6) }
            #expect(ctx.replySpin == 0)
            for _ in 0..<20 { ctx.noteReplyTime(30e-6) }
            #expect(ctx.replySpin == CallChain.replySpin)
            ctx.noteReplyTime(1e9)  // absurd samples are capped, not overflowed
            #expect(ctx.replySpin == 0)
        }
    }

    @Test func latchFollowsMitogensRules() throws {
        let latch = Latch<Int>()
        #expect(throws: TimeoutError.self) { try latch.get(block: false) }
        let t0 = monotonicNow()
        #expect(throws: TimeoutError.self) { try latch.get(timeout: 0.05) }
        #expect(monotonicNow() - t0 >= 0.045)
        try latch.put(1)
        try latch.put(2)
        #expect(try latch.get() == 1)
        #expect(try latch.get() == 2)
        // close() wakes a sleeper with LatchError, and later puts fail. The
        // close waits until the thread is really asleep in get(), and the
        // sleeper reports how long it slept: woken, not timed out.
        let woke = Latch<Double>()
        startThread(name: "sleeper") {
            let started = monotonicNow()
            do { _ = try latch.get(timeout: 5) } catch is LatchError { try? woke.put(monotonicNow() - started) } catch {}
        }
        #expect(waitUntil { latch.sleeperCount == 1 })
        usleep(50_000)
        latch.close()
        let slept = try woke.get(timeout: 2)
        #expect(slept >= 0.045 && slept < 1.0)
        #expect(throws: LatchError.self) { try latch.put(3) }
        #expect(throws: LatchError.self) { try latch.get(block: false) }
    }

    @Test func latchAsyncWaitersGetItemsAndCancellation() async throws {
        let latch = Latch<String>()
        async let got = latch.value()
        try await Task.sleep(nanoseconds: 10_000_000)
        try latch.put("x")
        #expect(try await got == "x")
        let task = Task { try await latch.value() }
        try await Task.sleep(nanoseconds: 10_000_000)
        task.cancel()
        await #expect(throws: CancellationError.self) { try await task.value }
    }

    @Test func selectRefusesMisuseWithMitogensTexts() throws {
        let router = Router()
        defer { router.shutdown(); try? router.join(timeout: 10) }
        let r = try Receiver(router: router)
        let a = try Select([r])
        let e1 = #expect(throws: SelectError.self) { try Select([r]) }
        #expect(e1?.message == "Cannot add: Receiver is already owned by another Select")
        let outer = try Select(selects: [a])
        let e2 = #expect(throws: SelectError.self) { try a.add(outer) }
        #expect(e2?.message == "Adding this Select instance would create a Select cycle")
        let other = try Receiver(router: router)
        let e3 = #expect(throws: SelectError.self) { try a.remove(other) }
        #expect(e3?.message == "Instance is not a member of this Select")
        let empty = try Select()
        let e4 = #expect(throws: SelectError.self) { try empty.get(timeout: 0.1) }
        #expect(e4?.message == "Cannot get(), Select instance is empty")
        // A message to the inner receiver comes out of the outer Select.
        r.toSender().send(Value.str("through two selects"))
        let msg = try outer.get(timeout: 2)
        #expect(try msg.unpickle() == "through two selects")
        #expect(msg.receiver === r)
        a.close()
    }

    @Test func senderReceiverStreamAndCloseAgainstAChild() async throws {
        let router = Router()
        defer { router.shutdown(); try? router.join(timeout: 10) }
        let child = try router.local()
        // The child streams a file into our receiver; iteration ends at the None marker.
        let receiver = try Receiver(router: router)
        let call = try child.callAsyncValue(
            "files.get", args: ["/etc/passwd", .sender(contextID: 0, handle: receiver.handle)])
        var bytes: [UInt8] = []
        for try await msg in receiver {
            guard let chunk = try msg.unpickle().bytesValue else { break }
            bytes += chunk
        }
        #expect(try call.get(timeout: 5).unpickle().intValue == bytes.count)
        #expect(bytes == (try readWholeFile("/etc/passwd")))
        // Closing a Sender kills the channel with Mitogen's text.
        let r2 = try Receiver(router: router)
        r2.toSender().close()
        let e = #expect(throws: ChannelError.self) { try r2.get(timeout: 2) }
        #expect(e?.reason == "Sender was explicitly closed")
        // The async twins of call, sendAwait and shutdown.
        let pid: Int = try await child.call("os.getpid")
        #expect(pid > 0)
        let body = Value.tuple([.none, "mitogen", .none, "echo", .tuple(["async"]), .kwargs(PyDict())])
        #expect(try await child.sendAwait(Message.pickled(body, handle: Handle.callFunction)) == "async")
        try await child.shutdown()
        #expect(child.isDisconnected)
    }

    @Test func tooLargeMessagesGetADeadReplyNotSilence() throws {
        let router = Router(maxMessageSize: 1024)
        defer { router.shutdown(); try? router.join(timeout: 10) }
        let child = try router.local()
        let e = #expect(throws: ChannelError.self) {
            try child.callValue("mitogen.echo", args: [.bytes([UInt8](repeating: 1, count: 4096))], timeout: 5)
        }
        #expect(e?.reason == "message too large (max 1024 bytes)")
        #expect(try child.callValue("mitogen.echo", args: [1]) == 1)
    }

    @Test func castStripsCustomTypes() throws {
        let v: Value = .tuple([.blob([1]), .secret("s"), .kwargs(PyDict([("a", 1)]))])
        #expect(try cast(v) == .list([.bytes([1]), .str("s"), .dict(PyDict([("a", 1)]))]))
        #expect(throws: PyException.self) { try cast(Value.set([1])) }
    }
}

/// The snapshot API the console reads (DESIGN §7).
@Suite struct SnapshotTests {
    @Test func snapshotShowsContextsStreamsPendingAndCancelWorks() throws {
        try withTestRouter { router in
            let child = try router.local(name: "snap")
            let pid = try child.callValue("os.getpid").intValue!
            let pending = try child.callAsync("time.sleep", 30)
            let snap = router.snapshot()
            let info = try #require(snap.contexts.first { $0.id == child.contextID })
            #expect(info.name == "snap" && info.method == "local" && info.state == .connected && info.pid != nil)
            let stream = try #require(snap.streams.first { $0.contextID == child.contextID })
            #expect(stream.counters.messagesOut >= 2 && stream.counters.messagesIn >= 1 && stream.counters.bytesIn > 0)
            let call = try #require(snap.pendingCalls.first { $0.function == "time.sleep" })
            #expect(call.arguments == "30" && call.contextID == child.contextID)
            let t0 = monotonicNow()
            #expect(router.cancelCall(handle: call.handle, by: "the operator"))
            let e = #expect(throws: CallError.self) { try pending.get(timeout: 5).unpickle() }
            #expect(e?.isCancelled == true && e?.message.contains("cancelled by the operator after") == true)
            #expect(monotonicNow() - t0 < 0.5)
            _ = pid
            let generation = router.snapshot().generation
            kill(Int32(pid), SIGKILL)
            #expect(waitUntil { router.snapshot().contexts.first { $0.id == child.contextID }?.state == .gone })
            #expect(router.snapshot().generation != generation)
        }
    }

    @Test func disconnectCutsADirectChildAtOnce() throws {
        try withTestRouter { router in
            let child = try router.local()
            let grandchild = try router.local(via: child)
            let pid = Int32(try child.callValue("os.getpid").intValue!)
            let pending = try child.callAsync("time.sleep", 30)
            #expect(!router.disconnect(grandchild))  // not ours to cut
            #expect(router.disconnect(child))
            #expect(throws: ChannelError.self) { try pending.get(timeout: 5) }
            #expect(waitUntil { child.isDisconnected && grandchild.isDisconnected })
            #expect(waitUntil(timeout: 5) { !processAlive(pid) })  // the child sees EOF and exits
        }
    }

    @Test func secretsAreHiddenInPendingCalls() throws {
        try withTestRouter { router in
            let child = try router.local()
            // The sleep holds the echo in the queue, so it is surely pending when we look.
            let sleeping = try child.callAsync("time.sleep", 0.5)
            let r = try child.callAsyncValue("mitogen.echo", args: [.secret("hunter2"), .str("visible")])
            let text = router.snapshot().pendingCalls.map(\.arguments).joined(separator: " | ")
            _ = try r.get(timeout: 5)
            _ = try sleeping.get(timeout: 5)
            #expect(text.contains("[secret], 'visible'"))
            #expect(!text.contains("hunter2"))
        }
    }
}

/// A peer that sends garbage or an oversized frame is cut off, loudly, and
/// whoever waited on it is told.
@Suite struct BadPeerTests {
    func withFakePeer(_ body: (Router, Context, FileDescriptor) throws -> Void) throws {
        try withTestRouter { router in
            let (mine, theirs) = try FileDescriptor.socketPair()
            defer { theirs.close() }
            try mine.setNonBlocking(true)
            let ctx = router.context(byID: 77, name: "fake")
            let stream = Stream(name: "fake", remoteID: 77, broker: router.broker, rx: mine, tx: mine, privileged: false,
                                maxMessageSize: 1 << 20)
            router.register(ctx, stream: stream)
            try body(router, ctx, theirs)
        }
    }

    @Test func garbledFrameDisconnectsAndWakesWaiters() throws {
        try withFakePeer { router, ctx, peer in
            let pending = try ctx.callAsync("os.getpid")
            try peer.writeAll(Array("this is not a mitogen frame, not at all".utf8))
            let e = #expect(throws: ChannelError.self) { try pending.get(timeout: 5) }
            #expect(e?.reason == "the respondent Context has disconnected")
            #expect(waitUntil { ctx.isDisconnected })
        }
    }

    /// Found by the frame fuzzer (LeakSanitizer): the broker kept a removed
    /// side's handlers, which hold the stream that holds the side, so every
    /// disconnected child's stream (and its decoder buffer) leaked.
    @Test func aDisconnectedStreamIsFreed() throws {
        try withTestRouter { router in
            weak var gone: Stream?
            let ctx = router.context(byID: 78, name: "gone")
            try {
                let (mine, theirs) = try FileDescriptor.socketPair()
                try mine.setNonBlocking(true)
                let stream = Stream(name: "gone", remoteID: 78, broker: router.broker, rx: mine, tx: mine, privileged: false)
                gone = stream
                router.register(ctx, stream: stream)
                try theirs.writeAll(Array("not a frame, and more than a header's worth of it".utf8))
                theirs.close()
            }()
            #expect(waitUntil { ctx.isDisconnected })
            #expect(waitUntil { gone == nil }, "the stream outlived its disconnection")
        }
    }

    @Test func oversizedFrameDisconnects() throws {
        try withFakePeer { router, ctx, peer in
            let pending = try ctx.callAsync("os.getpid")
            var header: [UInt8] = []
            MessageHeader(encoding: .pickled, dstID: 0, srcID: 77, authID: 77, handle: 1000, replyTo: 0, length: 2 << 20)
                .write(to: &header)
            try peer.writeAll(header)
            #expect(throws: ChannelError.self) { try pending.get(timeout: 5) }
            #expect(waitUntil { ctx.isDisconnected })
        }
    }
}

/// Typed registration: Codable arguments and results (DESIGN §9).
@Suite struct TypedFunctionTests {
    struct ReportArgs: Codable { var path: String; var depth: Int? }
    struct Report: Codable, Equatable { var path: String; var entries: Int }

    @Test func codableArgumentsFromPositionalOrKeywordArguments() throws {
        Functions.register("test.report", signature: "(path: str, depth: int = None)") { (a: ReportArgs, _) -> Report in
            Report(path: a.path, entries: (a.depth ?? 0) * 2)
        }
        let body = try #require(Functions.lookup("test.report")).body
        let ctx = CallContext(function: "test.report", routerRef: nil, callerID: 0)
        let viaKwargs = try body([], PyDict([("path", "/etc"), ("depth", 3)]), ctx)
        #expect(viaKwargs == .dict(PyDict([("path", "/etc"), ("entries", 6)])))
        let viaDict = try body([.dict(PyDict([("path", "/x")]))], PyDict(), ctx)
        #expect(viaDict == .dict(PyDict([("path", "/x"), ("entries", 0)])))
        let e = #expect(throws: PyException.self) { try body([], PyDict([("depth", 1)]), ctx) }
        #expect(e?.type == "builtins.TypeError" && e?.message.contains("path") == true)
    }
}
