import Glibc
import Testing
import TestSupport
import MitogenLib
@testable import MitogenSys
@testable import MitogenWire
@testable import MitogenCore
@testable import MitogenCalls
@testable import MitogenMaster

/// Everything the master waits for ends, everything it records is finished,
/// and what a child sends it is bounded before it is kept or logged.
@Suite(.serialized) struct BoundsTests {
    private func pending(_ router: Router, _ context: Context) -> [PendingCall] {
        router.observer.pendingCalls.filter { $0.contextID == context.contextID }
    }

    // MARK: Pending calls are finished on every path

    @Test func callAsyncFinishesItsPendingRowOnReplyErrorAndClose() throws {
        try withTestRouter { router in
            let child = try router.local()
            let reply = try child.callAsync("os.getpid")
            _ = try reply.get(timeout: 10)
            #expect(waitUntil(timeout: 2) { pending(router, child).isEmpty })

            let failing = try child.callAsync("os.listdir", "/nonexistent-dir")
            #expect(throws: CallError.self) { try failing.get(timeout: 10).unpickle() }
            #expect(waitUntil(timeout: 2) { pending(router, child).isEmpty })

            let slow = try child.callAsync("time.sleep", 30)
            #expect(pending(router, child).count == 1)
            slow.close()
            #expect(pending(router, child).isEmpty)
        }
    }

    @Test func callAsyncFinishesItsPendingRowWhenTheContextDies() throws {
        try withTestRouter { router in
            let child = try router.local()
            let pid = try #require(try child.callValue("os.getpid").intValue)
            let slow = try child.callAsync("time.sleep", 30)
            #expect(pending(router, child).count == 1)
            kill(Int32(pid), SIGKILL)
            #expect(throws: ChannelError.self) { try slow.get(timeout: 10) }
            #expect(waitUntil(timeout: 2) { pending(router, child).isEmpty })
        }
    }

    @Test func fileTransfersAndFakeSSHFinishTheirPendingRows() throws {
        try withTestRouter { router in
            let child = try router.local()
            let dir = makeTempDirectory()
            defer { _ = system("rm -rf '\(dir)'") }
            #expect(system("head -c 300000 /dev/urandom > '\(dir)/a'") == 0)
            #expect(try child.putFile(dir + "/a", to: dir + "/b") == 300_000)
            #expect(try child.getFile(dir + "/b", to: dir + "/c") == 300_000)
            #expect(system("cmp '\(dir)/a' '\(dir)/c'") == 0)
            #expect(try FakeSSH.run(dest: child, router: router, args: ["/bin/sh", "-c", "ssh h true"], deadline: 30) == 0)
            #expect(waitUntil(timeout: 2) { pending(router, child).isEmpty }, "\(pending(router, child))")

            // A failing getFile ends (with the remote error) instead of waiting for chunks.
            let ended = finishes(within: 10) {
                let error = #expect(throws: CallError.self) { try child.getFile("/nonexistent-file", to: dir + "/d") }
                #expect(error?.type == "builtins.FileNotFoundError")
            }
            #expect(ended, "getFile of a missing file never returned")
            if !ended { router.disconnect(child) }
            #expect(access(dir + "/d", F_OK) != 0)
            #expect(waitUntil(timeout: 2) { pending(router, child).isEmpty }, "\(pending(router, child))")
        }
    }

    // MARK: receiveFile: idle timeout and size limit

    @Test func getFileGivesUpOnAContextThatStopsSending() throws {
        try withHostileRouter { router in
            let evil = try router.local(name: "evil")
            try evil.callValue("evil.hijack_get", args: ["stall"], timeout: 10)
            let dir = makeTempDirectory()
            defer { _ = system("rm -rf '\(dir)'") }
            let started = monotonicNow()
            let ended = finishes(within: 10) {
                #expect(throws: TimeoutError.self) { try evil.getFile("/etc/hostname", to: dir + "/x", idleTimeout: 1) }
            }
            #expect(ended, "getFile waited for ever")
            if !ended { router.disconnect(evil) }
            #expect(monotonicNow() - started < 5)
            #expect(try listDirectory(dir).isEmpty, "a temporary file was left behind")
            #expect(waitUntil(timeout: 2) { pending(router, evil).isEmpty })
        }
    }

    @Test func getFileRefusesMoreThanItsSizeLimit() throws {
        try withHostileRouter { router in
            let evil = try router.local(name: "evil")
            try evil.callValue("evil.hijack_get", args: ["endless"], timeout: 10)
            let dir = makeTempDirectory()
            defer { _ = system("rm -rf '\(dir)'") }
            let error = #expect(throws: StreamError.self) { try evil.getFile("/etc/hostname", to: dir + "/x", maxBytes: 1 << 20) }
            #expect(error?.message.contains("1048576") == true)
            #expect(try listDirectory(dir).isEmpty, "a partial file was left behind")
            // The context is still usable once its stream of chunks is over.
            #expect(try evil.callValue("os.getpid", timeout: 30).intValue != nil)
        }
    }

    // MARK: Flow control waits end

    @Test func aSenderToAStoppedContextStopsWaitingAfterTheStallTimeout() throws {
        try withTestRouter { router in
            let child = try router.local(name: "stopped")
            let pid = Int32(try #require(try child.callValue("os.getpid").intValue))
            let stream = try #require(router.streamByID(child.contextID))
            stream.drainStallTimeout = 1
            kill(pid, SIGSTOP)
            defer { kill(pid, SIGKILL) }
            let sender = Sender(context: child, handle: 4242)
            let chunk = [UInt8](repeating: 7, count: 1 << 20)
            let started = monotonicNow()
            let ended = finishes(within: 15) {
                for _ in 0..<7 { sender.sendBinary(chunk) }
            }
            #expect(ended, "a sender waited for ever on a stream that never drains")
            #expect(monotonicNow() - started < 10)
            #expect(stream.counters.queuedBytes <= UInt64(Stream.maxQueuedBytes) + UInt64(chunk.count))
        }
    }

    // MARK: What a child logs

    @Test func childLogTextIsSanitisedAndBounded() throws {
        try withTestRouter { router in
            let child = try router.local(name: "chatty")
            try child.callValue("mitogen.log", args: ["one\nFORGED 2026 master: ok\u{1b}[2J\u{7}\tend", 40])
            try child.callValue("mitogen.log", args: [.str(String(repeating: "x", count: 200_000)), 40])
            try child.callValue("mitogen.log", args: ["fine", 40, "evil\nlogger\u{1b}"])
            var records: [LogRecord] = []
            #expect(waitUntil(timeout: 5) {
                records = router.observer.logs().records.filter { $0.contextID == child.contextID && $0.level == 40 }
                return records.count == 3
            })
            guard records.count == 3 else { return }
            #expect(records[0].message == "one\\nFORGED 2026 master: ok\\x1b[2J\\x07\tend")
            // (Checked as Bools: a failure must not print 200 KB.)
            let long = records[1].message
            let bounded = long.utf8.count <= 64 << 10, marked = long.hasPrefix("xxxxxxxx") && long.hasSuffix(" more bytes]")
            #expect(bounded, "a record of \(long.utf8.count) bytes was kept")
            #expect(marked, "the cut record ends with \(String(long.suffix(40)).debugDescription)")
            #expect(records[2].logger == "evil\\nlogger\\x1b")
            for record in records {
                let raw = record.message.unicodeScalars.contains { $0.value < 0x20 && $0.value != 9 }
                #expect(!raw, "a control character reached the observer")
            }
        }
    }

    /// A receiver over its byte budget holds its context's stream: that
    /// context's other replies wait, and closing the receiver lets them through.
    @Test func anOverBudgetReceiverHoldsItsStreamUntilClosed() throws {
        try withTestRouter { router in
            let child = try router.local(name: "held")
            let data = try Receiver(router: router, maxQueuedBytes: 1 << 20)
            let stream = try child.callAsyncValue(
                "files.get", args: [.str("/dev/zero"), .sender(contextID: router.contextID, handle: data.handle), .int(8 << 20)])
            defer { stream.close() }
            #expect(waitUntil(timeout: 5) { (try? child.callValue("os.getpid", timeout: 0.3)) == nil })
            // The rest of the file then goes to a closed handle and is dropped.
            data.close()
            #expect(try child.callValue("os.getpid", timeout: 10).intValue != nil)
            #expect(try stream.get(timeout: 10).unpickle().intValue == 8 << 20)
        }
    }

    /// A child that logs in a loop gets its lines kept at a bounded rate,
    /// and the master says how many it dropped.
    @Test func aChildLoggingInALoopIsRateLimited() throws {
        try withHostileRouter { router in
            let child = try router.local(name: "chatty")
            let started = monotonicNow()
            try child.callValue("evil.log_flood", args: [30_000], timeout: 60)
            // The flood emptied the bucket: give it time for a few tokens, or
            // this line is (rightly) dropped too when the call answers fast.
            usleep(50_000)
            try child.callValue("mitogen.log", args: ["after the flood"], timeout: 10)
            let elapsed = monotonicNow() - started
            var records: [LogRecord] = []
            #expect(waitUntil(timeout: 5) {
                records = router.logs(limit: 100_000).0.filter { $0.contextID == child.contextID }
                return records.contains { $0.message == "after the flood" }
            })
            let kept = records.filter { $0.message.hasPrefix("flood line") }.count
            let allowed = Int(LogRateLimiter.burst + LogRateLimiter.linesPerSecond * elapsed)
            #expect(kept >= Int(LogRateLimiter.burst) && kept <= allowed, "kept \(kept) of 30000 in \(elapsed) s")
            // Each line let through after drops is preceded by their count.
            let reports = records.filter { $0.message.hasSuffix("log lines dropped: more than 1000 a second") }
            #expect(!reports.isEmpty)
            #expect(reports.compactMap { Int($0.message.prefix { $0.isNumber }) }.reduce(0, +) == 30_000 - kept)
        }
    }
}

/// The ids a child stream sent to: bounded, forgotten once dead, and past the
/// bound the stream hears of every loss instead of missing one.
@Suite struct EgressSetTests {
    @Test func deadIDsLeaveAndOverflowMeansEveryLossIsTold() {
        var set = EgressSet()
        let capacity = UInt32(EgressSet.capacity)
        set.note(7)
        var told = [set.takeLoss(7), set.takeLoss(7), set.takeLoss(8)]
        #expect(told == [true, false, false])  // told once, then forgotten; never named, never told
        for id in 0..<capacity { set.note(id) }
        set.note(5)  // already there: no overflow
        #expect(set.ids.count == EgressSet.capacity && !set.overflowed)
        told = [set.takeLoss(1)]  // a loss frees a place...
        set.note(capacity)  // ...that a new id takes
        #expect(told == [true] && !set.overflowed && set.ids.contains(capacity))
        set.note(capacity + 1)  // no room: from now on every loss is told
        told = [set.takeLoss(capacity + 1), set.takeLoss(4_000_000)]
        #expect(set.overflowed && told == [true, true])
    }
}
