import Glibc
import Testing
import TestSupport
import MitogenLib
@testable import MitogenSys
@testable import MitogenWire
@testable import MitogenCore

/// Hung calls (issue 16): deadlines that travel, cancels that reach the
/// work, and a context that answers its next call at once afterwards. Real
/// children; `time.sleep(600)` stands for a call that hangs.
@Suite(.serialized) struct CancellationTests {
    /// The functions `mitogen.inflight` lists now.
    static func inflight(_ context: Context) throws -> [String] {
        try context.callValue("mitogen.inflight", timeout: 5).sequenceValue?.compactMap { $0.dictValue?["function"]?.stringValue } ?? []
    }

    /// Waits until `context` runs `function`.
    static func waitRunning(_ context: Context, _ function: String) -> Bool {
        waitUntil(timeout: 5) { (try? inflight(context))?.contains(function) == true }
    }

    /// Seconds an `os.getpid` takes on `context` now.
    static func nextCallSeconds(_ context: Context) throws -> Double {
        let t0 = monotonicNow()
        _ = try context.callValue("os.getpid", timeout: 5)
        return monotonicNow() - t0
    }

    @Test func apiCancelWakesASleepAndFreesTheContext() throws {
        try withTestRouter { router in
            let child = try router.local(name: "sleeper")
            let pending = try child.callAsync("time.sleep", 600)
            #expect(Self.waitRunning(child, "time.sleep"))
            let t0 = monotonicNow()
            #expect(router.cancelCall(handle: pending.handle, by: "the test"))
            let e = #expect(throws: CallError.self) { try pending.get(timeout: 5).unpickle() }
            #expect(e?.isCancelled == true && e?.isDeadline == false)
            #expect(e?.message.hasPrefix("time.sleep cancelled by the test after ") == true, "\(String(describing: e))")
            #expect(try Self.nextCallSeconds(child) < 1)
            #expect(monotonicNow() - t0 < 1)
            #expect(try Self.inflight(child).isEmpty)
            #expect(!router.cancelCall(handle: pending.handle))  // no longer pending
        }
    }

    @Test func aDeadlineCancelsARunningCallAndTheErrorSaysSo() throws {
        try withTestRouter { router in
            let child = try router.local()
            let t0 = monotonicNow()
            let e = #expect(throws: CallError.self) { try child.callValue("time.sleep", args: [600], timeout: 0.5) }
            let took = monotonicNow() - t0
            #expect(took >= 0.5 && took < 1.5)
            #expect(e?.isDeadline == true)
            #expect(e?.message.contains("cancelled by its deadline (timeout 0.50 s) after 0.5") == true, "\(String(describing: e))")
            #expect(try Self.nextCallSeconds(child) < 1)
            #expect(try Self.inflight(child).isEmpty)
        }
    }

    @Test func aDeadlinePassedInTheQueueRefusesTheCall() throws {
        try withTestRouter { router in
            let child = try router.local()
            let hung = try child.callAsync("time.sleep", 600)
            #expect(Self.waitRunning(child, "time.sleep"))
            let e = #expect(throws: CallError.self) { try child.callValue("os.getpid", timeout: 0.3) }
            #expect(e?.isDeadline == true)
            #expect(e?.message.contains("os.getpid refused: its deadline (timeout 0.30 s) passed before it ran") == true, "\(String(describing: e))")
            // A zero timeout is refused at once.
            let zero = #expect(throws: CallError.self) { try child.callValue("time.sleep", args: [600], timeout: 0) }
            #expect(zero?.message.contains("refused") == true)
            #expect(router.cancelCall(handle: hung.handle))
            #expect(throws: CallError.self) { try hung.get(timeout: 5).unpickle() }
        }
    }

    @Test func aQueuedCallCancelledNeverRuns() throws {
        try withTestRouter { router in
            let child = try router.local()
            let hung = try child.callAsync("time.sleep", 600)
            #expect(Self.waitRunning(child, "time.sleep"))
            let queued = try child.callAsync("os.getpid")
            #expect(waitUntil { (try? Self.inflight(child)) == ["time.sleep", "os.getpid"] })
            #expect(router.cancelCall(handle: queued.handle, by: "the test"))
            let e = #expect(throws: CallError.self) { try queued.get(timeout: 5).unpickle() }
            #expect(e?.message.contains("os.getpid cancelled by the test before it ran") == true, "\(String(describing: e))")
            #expect(try Self.inflight(child) == ["time.sleep"])
            #expect(router.cancelCall(handle: hung.handle))
            #expect(throws: CallError.self) { try hung.get(timeout: 5).unpickle() }
        }
    }

    @Test func aDeadlineTravelsThroughThreeHops() throws {
        try withTestRouter { router in
            let a = try router.local(name: "a")
            let b = try router.local(name: "b", via: a)
            let c = try router.local(name: "c", via: b)
            let cPid = try c.callValue("os.getpid").intValue ?? -1
            let e = #expect(throws: CallError.self) { try c.callValue("time.sleep", args: [600], timeout: 0.5) }
            #expect(e?.isDeadline == true)
            // The context that ran out of time is the last hop.
            #expect(e?.trace.contains("pid \(cPid))") == true, "\(String(describing: e))")
            #expect(try Self.nextCallSeconds(c) < 1)
            #expect(try Self.inflight(c).isEmpty)
            // b reports the context it started (c) and its connect stage.
            let started = try b.callValue("mitogen.inflight_detail", timeout: 5).dictValue?["contexts"]?.sequenceValue ?? []
            #expect(started.contains { $0.dictValue?["id"]?.intValue == Int(c.contextID) && $0.dictValue?["state"] == "connected" }, "\(started)")
        }
    }

    /// Async throughout: a blocking wait here would hold one of the few
    /// threads of the cooperative pool that the call's own task needs.
    @Test func taskCancellationCancelsTheCallInTheContext() async throws {
        let router = Router()
        defer {
            router.shutdown()
            try? router.join(timeout: 15)
        }
        let child = try router.local()
        func inflight() async throws -> [String] {
            try await child.callValue("mitogen.inflight", timeout: 5).sequenceValue?.compactMap { $0.dictValue?["function"]?.stringValue } ?? []
        }
        let task = Task { try await child.callValue("time.sleep", args: [600]) }
        var running = false
        for _ in 0..<400 where !running {
            running = try await inflight().contains("time.sleep")
            if !running { try await Task.sleep(nanoseconds: 50_000_000) }
        }
        #expect(running)
        task.cancel()
        let result = await task.result
        guard case .failure(let error as CallError) = result else {
            Issue.record("expected a CallError, got \(result)")
            return
        }
        #expect(error.isCancelled && error.message.contains("cancelled by Task cancellation after"), "\(error)")
        // Blocking from here on: the measured call must not wait for a
        // thread of the cooperative pool, which the other suites keep busy.
        #expect(try Self.nextCallSeconds(child) < 1)
        #expect(try Self.inflight(child).isEmpty)
    }

    @Test func aCancelledPipelineLeavesNoProcessBehind() throws {
        try withTestRouter { router in
            let child = try router.local()
            let pending = try child.callAsync("subprocess.check_output", ["sh", "-c", "sleep 600 | cat"])
            var pids: [Int32] = []
            #expect(waitUntil(timeout: 5) {
                // The shell and both members of its pipeline, from inflight's process tree.
                guard let calls = try? child.callValue("mitogen.inflight", timeout: 5).sequenceValue,
                    let waits = calls.first?.dictValue?["waits"]?.sequenceValue, let shell = waits.first?.dictValue
                else { return false }
                pids = Self.pids(in: .dict(shell))
                return pids.count >= 3
            })
            #expect(router.cancelCall(handle: pending.handle, by: "the test"))
            let e = #expect(throws: CallError.self) { try pending.get(timeout: 5).unpickle() }
            #expect(e?.isCancelled == true)
            for pid in pids {
                // Gone, or at most a zombie its new parent has not reaped yet
                // (a SIGKILL takes effect asynchronously: allow a moment).
                let state = { (try? readWholeFile("/proc/\(pid)/stat")).map { String(decoding: $0, as: UTF8.self) } }
                #expect(waitUntil(timeout: 2) { state() == nil || state()?.contains(") Z ") == true }, "pid \(pid) survived: \(state() ?? "")")
            }
            #expect(try Self.nextCallSeconds(child) < 1)
        }
    }

    @Test func aCancelledUploadStopsAndRemovesItsPartialFile() throws {
        try withTestRouter { router in
            let child = try router.local()
            let dir = "/tmp/mitogen-cancel-put-\(getpid())"
            mkdir(dir, 0o700)
            defer { for name in (try? listDirectory(dir)) ?? [] { unlink(dir + "/" + name) }; rmdir(dir) }
            // The master's half of files.put, by hand, so the upload can stop midway.
            let reply = try Receiver(router: router, persist: false, respondent: child)
            let call = try child.callAsyncValue(
                "files.put", args: [.str(dir + "/big"), .sender(contextID: router.contextID, handle: reply.handle), .int(0o644)])
            guard case .sender(_, let handle) = try reply.get(timeout: 5).unpickle() else {
                Issue.record("files.put did not answer with a Sender")
                return
            }
            Sender(context: child, handle: handle).send(.blob([UInt8](repeating: 7, count: 100_000)))
            #expect(waitUntil { ((try? listDirectory(dir)) ?? []).contains { $0.hasSuffix(".tmp") } })
            #expect(router.cancelCall(handle: call.handle, by: "the test"))
            let e = #expect(throws: CallError.self) { try call.get(timeout: 5).unpickle() }
            #expect(e?.isCancelled == true && e?.message.contains("files.put cancelled by the test") == true, "\(String(describing: e))")
            #expect(try listDirectory(dir).isEmpty)
            #expect(try Self.nextCallSeconds(child) < 1)
        }
    }

    @Test func inflightShowsWhatACallIsStuckOn() throws {
        try withTestRouter { router in
            let child = try router.local()
            try child.call("mitogen.log", "needle before the hang")
            let hung = try child.callAsync("subprocess.check_output", ["sleep", "600"], timeout: 30)
            let queued = try child.callAsync("os.getpid")
            var process: PyDict?
            #expect(waitUntil(timeout: 5) {
                let calls = (try? child.callValue("mitogen.inflight", timeout: 5))?.sequenceValue ?? []
                process = calls.first?.dictValue?["waits"]?.sequenceValue?.first?.dictValue
                return process?["wchan"] != nil
            })
            let p = try #require(process)
            let pid = try #require(p["pid"]?.intValue)
            // What /proc says about it, as the test reads it itself.
            let stat = String(decoding: try readWholeFile("/proc/\(pid)/stat"), as: UTF8.self)
            #expect(stat.contains("(sleep) S "))
            #expect(p["cmdline"] == .list(["sleep", "600"]) && p["state"] == "S" && p["state_name"] == "sleeping")
            let wchan = String(decoding: try readWholeFile("/proc/\(pid)/wchan"), as: UTF8.self)
            #expect(p["wchan"]?.stringValue == wchan && !wchan.isEmpty, "\(p)")
            let detail = try #require(try child.callValue("mitogen.inflight_detail", timeout: 5).dictValue)
            let calls = try #require(detail["calls"]?.sequenceValue)
            let running = try #require(calls.first?.dictValue)
            #expect(running["function"] == "subprocess.check_output" && running["running"] == .bool(true))
            #expect(running["timeout"] == .float(30) && Self.seconds(running["deadline_in"]) > 25)
            #expect(calls.count == 2 && calls[1].dictValue?["running"] == .bool(false))
            #expect(detail["queue"]?.dictValue?["waiting"] == .int(1))
            let log = detail["log"]?.sequenceValue?.compactMap(\.stringValue) ?? []
            #expect(log.contains { $0.contains("needle before the hang") }, "\(log)")
            #expect(router.cancelCall(handle: hung.handle))
            #expect(throws: CallError.self) { try hung.get(timeout: 5).unpickle() }
            #expect(try queued.get(timeout: 5).unpickle().intValue != nil)
        }
    }

    static func seconds(_ v: Value?) -> Double {
        if case .float(let f)? = v { return f }
        return -1
    }

    @Test func aCancelEndsABlockingReadOfACommandsOutput() throws {
        try withTestRouter { router in
            let child = try router.local()
            let out = try Receiver(router: router, respondent: child)
            defer { out.close() }
            let tag = "600.\(UInt32.random(in: 100_000...999_999))"
            let call = try child.callAsyncValue("fakessh.exec", args: [.str("exec sleep \(tag)"), .sender(contextID: 0, handle: out.handle)])
            var shell: PyDict?
            #expect(waitUntil(timeout: 5) {
                let calls = (try? child.callValue("mitogen.inflight", timeout: 5))?.sequenceValue ?? []
                shell = calls.first?.dictValue?["waits"]?.sequenceValue?.first?.dictValue
                return shell?["cmdline"] == .list(["sleep", .str(tag)])
            })
            // It blocks reading the command's stdout: inflight names the pipe.
            let waits = try child.callValue("mitogen.inflight", timeout: 5).sequenceValue?.first?.dictValue?["waits"]?.sequenceValue ?? []
            #expect(waits.contains { $0.dictValue?["kind"] == "pipe" && $0.dictValue?["what"] == "read" }, "\(waits)")
            let pid = try #require(shell?["pid"]?.intValue)
            #expect(router.cancelCall(handle: call.handle, by: "the test"))
            let e = #expect(throws: CallError.self) { try call.get(timeout: 5).unpickle() }
            #expect(e?.isCancelled == true && e?.message.contains("left behind") == false, "\(String(describing: e))")
            #expect(waitUntil { (try? readWholeFile("/proc/\(pid)/cmdline")) ?? [] != Array("sleep\0\(tag)\0".utf8) })
            #expect(try Self.nextCallSeconds(child) < 1)
        }
    }

    /// Every `pid` in an inflight process tree.
    static func pids(in process: Value) -> [Int32] {
        guard let d = process.dictValue, let pid = d["pid"]?.intValue else { return [] }
        return [Int32(pid)] + (d["children"]?.sequenceValue ?? []).flatMap { pids(in: $0) }
    }

    @Test func aSwiftFunctionPollingItsFlagStops() throws {
        try withHostileRouter { router in
            let child = try router.local()
            let pending = try child.callAsync("test.poll_cancel", kwargs: ["seconds": 600])
            #expect(Self.waitRunning(child, "test.poll_cancel"))
            #expect(router.cancelCall(handle: pending.handle, by: "the test"))
            let e = #expect(throws: CallError.self) { try pending.get(timeout: 5).unpickle() }
            #expect(e?.isCancelled == true)
            #expect(e?.message.contains("left behind") == false, "it stopped by itself: \(String(describing: e))")
            #expect(try Self.inflight(child).isEmpty)
        }
    }

    @Test func anAsyncSwiftFunctionSeesTaskCancellation() throws {
        try withHostileRouter { router in
            let child = try router.local()
            let e = #expect(throws: CallError.self) {
                try child.callValue("test.async_sleep", kwargs: PyDict([("seconds", 600)]), timeout: 0.3)
            }
            #expect(e?.isDeadline == true && e?.message.contains("left behind") == false, "\(String(describing: e))")
            #expect(try Self.nextCallSeconds(child) < 1)
        }
    }

    @Test func aFunctionIgnoringTheCancelIsLeftBehindAndTheQueueMovesOn() throws {
        try withHostileRouter { router in
            let child = try router.local()
            let stubborn = try child.callAsync("test.ignore_cancel", kwargs: ["seconds": 5])
            #expect(Self.waitRunning(child, "test.ignore_cancel"))
            let next = try child.callAsync("os.getpid")
            #expect(router.cancelCall(handle: stubborn.handle))
            let e = #expect(throws: CallError.self) { try stubborn.get(timeout: 5).unpickle() }
            #expect(e?.message.contains("left behind") == true, "\(String(describing: e))")
            #expect(try next.get(timeout: 2).unpickle().intValue != nil)
            #expect(try Self.nextCallSeconds(child) < 1)
        }
    }

    @Test func oddTimeoutsAreSafe() throws {
        try withTestRouter { router in
            let child = try router.local()
            // Infinite or enormous: no deadline. NaN: none either.
            #expect(try child.callValue("os.getpid", timeout: .infinity).intValue != nil)
            #expect(try child.callValue("os.getpid", timeout: 1e300).intValue != nil)
            #expect(try child.callValue("os.getpid", timeout: .nan).intValue != nil)
            // The reserved key as the context receives it, forged: never a crash.
            let key = "__mitogen_timeout__"
            let bad = #expect(throws: CallError.self) { try child.callValue("os.getpid", kwargs: PyDict([(key, "soon")])) }
            #expect(bad?.message.contains("\(key) must be a finite number of seconds") == true)
            #expect(throws: CallError.self) { try child.callValue("os.getpid", kwargs: PyDict([(key, .float(.nan))])) }
            #expect(try child.callValue("os.getpid", kwargs: PyDict([(key, .float(1e300))])).intValue != nil)
            #expect(try child.callValue("os.getpid", kwargs: PyDict([(key, .int(Int.max))])).intValue != nil)
            let negative = #expect(throws: CallError.self) { try child.callValue("os.getpid", kwargs: PyDict([(key, .int(-5))])) }
            #expect(negative?.isDeadline == true)
            // A cancel for a handle nobody uses, or a malformed one, changes nothing.
            #expect(try child.callValue("mitogen.cancel", args: [123_456]) == .bool(false))
            #expect(throws: CallError.self) { try child.callValue("mitogen.cancel", args: [-1]) }
            #expect(try Self.nextCallSeconds(child) < 1)
        }
    }

    @Test func typedCallsTakeKeywordArguments() throws {
        try withTestRouter { router in
            let child = try router.local()
            let code: Int = try child.call("subprocess.call", kwargs: ["args": ["sh", "-c", "exit 3"]])
            #expect(code == 3)
            let mixed: Int = try child.call("subprocess.call", ["sh", "-c", "exit 4"], kwargs: ["shell": false])
            #expect(mixed == 4)
            let receiver = try child.callAsync("subprocess.call", kwargs: ["args": ["true"]])
            #expect(try receiver.get(timeout: 5).unpickle() == .int(0))
            // callNoReply's keyword argument arrives: a bad one poisons the pipelined chain.
            let chain = CallChain(child, pipelined: true)
            try chain.callNoReply("time.sleep", kwargs: ["secs": "soon"])
            let e = #expect(throws: CallError.self) { try chain.callValue("os.getpid", args: []) }
            #expect(e?.message.contains("secs") == true, "\(String(describing: e))")
        }
    }

    @Test func aCallTypedValueCompiles() throws {
        try withTestRouter { router in
            let child = try router.local()
            let v: Value = try child.call("shutil.disk_usage", "/")
            #expect(v.dictValue?["total"]?.intValue ?? 0 > 0 || v.sequenceValue?.isEmpty == false, "\(v)")
            let w: Value = try child.call("os.getpid", timeout: 5)
            #expect(w.intValue != nil)
        }
    }
}
