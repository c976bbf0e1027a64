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

/// Real child processes: start, call, errors, chains, streams, death, shutdown.
@Suite(.serialized) struct LocalContextTests {
    @Test func callsGetpidInARealChildNamedInPs() throws {
        try withTestRouter { router in
            let child = try router.local(remoteName: "pstest")
            let pid: Int = try child.call("os.getpid")
            #expect(pid != Int(getpid()) && pid > 0)
            let cmdline = try readWholeFile("/proc/\(pid)/cmdline")
            #expect(String(decoding: cmdline.prefix { $0 != 0 }, as: UTF8.self) == "mitogen:pstest")
            // Its parent is the master.
            let ppid: Int = try child.call("os.getppid")
            #expect(ppid == Int(getpid()))
        }
    }

    @Test func argumentsAndResultsRoundTrip() throws {
        try withTestRouter { router in
            let child = try router.local()
            let echoed: [String: [Int]] = try child.call("mitogen.echo", ["a": [1, 2, 3]])
            #expect(echoed == ["a": [1, 2, 3]])
            let big = Value.bigInt(LargeInt(decimal: "123456789012345678901234567890")!)
            #expect(try child.callValue("mitogen.echo", args: [big]) == big)
            let out = try child.callValue("subprocess.check_output", args: [["echo", "hi"]])
            #expect(out == .bytes(Array("hi\n".utf8)))
        }
    }

    @Test func remoteErrorsArriveAsCallErrorWithTrace() throws {
        try withTestRouter { router in
            let child = try router.local()
            let error = #expect(throws: CallError.self) { try child.callValue("os.listdir", args: ["/nonexistent-dir"]) }
            #expect(error?.type == "builtins.FileNotFoundError")
            #expect(error?.message == "[Errno 2] No such file or directory: '/nonexistent-dir'")
            #expect(error?.trace.contains("in os.listdir") == true)
            let unknown = #expect(throws: CallError.self) { try child.callValue("no.such_function") }
            #expect(unknown?.type == "builtins.AttributeError")
        }
    }

    @Test func pipelinedChainIsPoisonedByAFailedNoReplyCallUntilReset() throws {
        try withTestRouter { router in
            let child = try router.local()
            let chain = CallChain(child, pipelined: true)
            try chain.callNoReply("os.remove", "/nonexistent-file-for-chain")
            let poisoned = #expect(throws: CallError.self) { try chain.callValue("os.getpid", args: []) }
            #expect(poisoned?.type == "builtins.FileNotFoundError")
            // Every later call of the chain fails the same way, without running.
            #expect(throws: CallError.self) { try chain.callValue("os.getpid", args: []) }
            chain.reset()
            let pid = try chain.callValue("os.getpid", args: [])
            #expect(pid.intValue != nil)
            // The default chain is not pipelined: a failed no-reply call does not poison it.
            try child.callNoReply("os.remove", "/nonexistent-file-for-chain")
            #expect(try child.callValue("os.getpid").intValue != nil)
        }
    }

    @Test func selectGathersCallsFromManyChildren() throws {
        try withTestRouter { router in
            let children = try (0..<5).map { _ in try router.local() }
            let receivers = try children.map { try $0.callAsync("os.getpid") }
            let pids = try Select.all(receivers).compactMap(\.intValue)
            #expect(Set(pids).count == 5)
            // Iteration over a oneshot Select ends after every receiver answered.
            let select = try Select(try children.map { try $0.callAsync("time.time") })
            var count = 0
            for msg in select {
                #expect(msg.receiver != nil)
                count += 1
            }
            #expect(count == 5)
            #expect(throws: SelectError.self) { try select.get() }
        }
    }

    @Test func bigFilesStreamBothWaysIntact() throws {
        try withTestRouter { router in
            let child = try router.local()
            let dir = makeTempDirectory()
            defer { _ = try? child.callValue("subprocess.call", args: [["rm", "-rf", .str(dir)]]) }
            var bytes = [UInt8](repeating: 0, count: 3 * 1024 * 1024 + 17)
            var x: UInt32 = 12345
            for i in bytes.indices {
                x = x &* 1_103_515_245 &+ 12345
                bytes[i] = UInt8(truncatingIfNeeded: x >> 16)
            }
            let src = dir + "/src.bin"
            let f = fopen(src, "w")!
            fwrite(bytes, 1, bytes.count, f)
            fclose(f)
            #expect(try child.putFile(src, to: dir + "/remote.bin") == bytes.count)
            #expect(try child.getFile(dir + "/remote.bin", to: dir + "/back.bin") == bytes.count)
            #expect(try readWholeFile(dir + "/back.bin") == bytes)
            let sums = try child.callValue("subprocess.check_output", args: [["sha256sum", .str(src), .str(dir + "/back.bin")]])
            let lines = String(decoding: sums.bytesValue ?? [], as: UTF8.self).split(separator: "\n")
            #expect(lines.count == 2 && lines[0].prefix(64) == lines[1].prefix(64))
        }
    }

    @Test func childKilledMidCallWakesTheWaiterQuickly() throws {
        try withTestRouter { router in
            let child = try router.local()
            let pid = Int32(try child.callValue("os.getpid").intValue!)
            let pending = try child.callAsync("time.sleep", 30)
            #expect(router.observer.pendingCalls.contains { $0.function == "time.sleep" })
            kill(pid, SIGKILL)
            let start = monotonicNow()
            let error = #expect(throws: ChannelError.self) { try pending.get(timeout: 5) }
            #expect(monotonicNow() - start < 1.0)
            #expect(error?.reason == "the respondent Context has disconnected")
            #expect(child.isDisconnected)
            // Later calls fail at once instead of hanging.
            #expect(throws: ChannelError.self) { try child.callValue("os.getpid", timeout: 5) }
        }
    }

    @Test func shutdownEndsPendingCallsAndTheProcess() throws {
        try withTestRouter { router in
            let child = try router.local()
            let pid = Int32(try child.callValue("os.getpid").intValue!)
            let pending = try child.callAsync("time.sleep", 30)
            let start = monotonicNow()
            try child.shutdown(wait: true, timeout: 10)
            #expect(monotonicNow() - start < 3.0)
            #expect(throws: ChannelError.self) { try pending.get(timeout: 5) }
            #expect(waitUntil { !processAlive(pid) })
        }
    }

    @Test func logsFromTheChildDrainToTheMasterWithItsName() throws {
        try withTestRouter { router in
            let child = try router.local(name: "logger-child")
            try child.callValue("mitogen.log", args: ["hello from the child", 30])
            #expect(waitUntil {
                router.observer.logs().records.contains {
                    $0.message == "hello from the child" && $0.contextName == "logger-child" && $0.level == 30
                }
            })
        }
    }

    @Test func invalidHandleAndClosedReceiverGiveMitogensTexts() throws {
        try withTestRouter { router in
            let child = try router.local()
            let error = #expect(throws: ChannelError.self) {
                try child.sendAwait(Message.pickled(.none, handle: 4321), deadline: 5)
            }
            #expect(error?.reason == "invalid handle")
            let receiver = try Receiver(router: router)
            receiver.close()
            let closed = #expect(throws: ChannelError.self) { try receiver.get(timeout: 1) }
            #expect(closed?.reason == "the Receiver has been closed")
        }
    }

    @Test func inflightAnswersWhileACallHangs() throws {
        try withTestRouter { router in
            let child = try router.local()
            let pending = try child.callAsync("time.sleep", 5)
            _ = pending
            #expect(waitUntil(timeout: 2) {
                let calls = (try? child.callValue("mitogen.inflight", timeout: 2))?.sequenceValue ?? []
                return calls.contains { $0.dictValue?["function"] == "time.sleep" }
            })
        }
    }
}
