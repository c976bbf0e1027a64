import Foundation
import Testing
import MitogenLib
import MitogenSys
import TestSupport
@testable import ConsoleModel

/// The pending call's detail pane: "what is it stuck on?" (issue 16).
@Suite struct CallDetailTests {
    @Test func linesNameTheProcessItsStateAndWaitChannel() {
        let answer: Value = .dict(PyDict([
            ("calls", .list([
                .dict(PyDict([
                    ("function", "subprocess.check_output"), ("args", "['sleep', '600']"), ("caller", 0), ("handle", 1001),
                    ("running", .bool(true)), ("running_for", .float(12.25)), ("timeout", .float(30)), ("deadline_in", .float(17.75)),
                    ("waits", .list([.dict(PyDict([
                        ("what", "process"), ("pid", 4242), ("state", "S"), ("state_name", "sleeping"), ("wchan", "do_wait"),
                        ("cmdline", .list(["sh", "-c", "sleep 600 | cat"])),
                        ("children", .list([.dict(PyDict([("pid", 4243), ("state", "S"), ("state_name", "sleeping"), ("wchan", "hrtimer_nanosleep"), ("cmdline", .list(["sleep", "600"]))]))])),
                    ]))])),
                ])),
                .dict(PyDict([("function", "os.getpid"), ("args", ""), ("caller", 0), ("handle", 1002), ("running", .bool(false))])),
            ])),
            ("queue", .dict(PyDict([("waiting", 1), ("oldest_age", .float(3.5))]))),
            ("log", .list(["info mitogen: hello"])),
        ]))
        let text = CallDetail.lines(from: answer, handle: 1001, callerID: 0).map(\.text)
        #expect(text.first == "subprocess.check_output(['sleep', '600'])  running for 12.3s, deadline in 17.8s")
        #expect(text.contains("  process pid 4242 sleeping (S) wchan do_wait: sh -c sleep 600 | cat"))
        #expect(text.contains("    └ child pid 4243 sleeping (S) wchan hrtimer_nanosleep: sleep 600"))
        #expect(text.contains("queue: 1 waiting, oldest 3.5s"))
        #expect(text.contains("  other: os.getpid()  queued"))
        #expect(text.contains("  info mitogen: hello"))
        // Another caller's call with the same handle is not ours; junk is reported, not trusted.
        #expect(CallDetail.lines(from: answer, handle: 1001, callerID: 7).first?.kind == .warning)
        #expect(CallDetail.lines(from: .list([1, 2]), handle: 1, callerID: 0).first?.text.hasPrefix("unexpected answer") == true)
        // Numbers no clock shows are left out, never a trap.
        let odd: Value = .dict(PyDict([("calls", .list([.dict(PyDict([
            ("function", "f"), ("caller", 0), ("handle", 1), ("running", .bool(true)),
            ("running_for", .float(.nan)), ("deadline_in", .float(1e300)), ("age", .float(-.infinity)),
        ]))]))]))
        #expect(CallDetail.lines(from: odd, handle: 1, callerID: 0).first?.text == "f()  running, no deadline")
    }
}

@Suite struct CallTimeoutCommandTests {
    @Test func timeoutTakesSecondsOrOff() throws {
        #expect(try CommandParser.parse("timeout 2.5") == .timeout(2.5))
        #expect(try CommandParser.parse("ti off") == .timeout(nil))
        #expect(try CommandParser.parse("t light") == .theme("light"))  // "t" still means theme
        for bad in ["timeout", "timeout 0", "timeout -1", "timeout nan", "timeout inf", "timeout soon"] {
            #expect(throws: CommandError.self, "\(bad)") { try CommandParser.parse(bad) }
        }
    }
}

@Suite(.serialized, .enabled(if: FileManager.default.isExecutableFile(atPath: TmuxDriver.binary) && FileManager.default.isExecutableFile(atPath: "/usr/bin/tmux")))
struct CallDetailTmuxTests {
    /// Pids whose `/proc/<pid>/cmdline` is exactly `argv`.
    static func pids(withArgv argv: [String]) -> [Int32] {
        let wanted = Array(argv.joined(separator: "\0").utf8) + [0]
        guard let entries = try? FileManager.default.contentsOfDirectory(atPath: "/proc") else { return [] }
        return entries.compactMap { Int32($0) }.filter { (try? readWholeFile("/proc/\($0)/cmdline")) == wanted }
    }

    @Test func theDetailPaneShowsTheSleepingSubprocessAndRefreshes() throws {
        let tag = "600.\(UInt32.random(in: 100_000...999_999))"
        let t = try TmuxDriver(width: 160, height: 50)
        defer {
            for pid in Self.pids(withArgv: ["sleep", tag]) { kill(pid, SIGKILL) }
            t.close()
        }
        t.waitFor("connected")
        t.command("call subprocess.check_output(['sleep', '\(tag)'])")
        t.keys("4")
        t.waitFor("Pending (1)")
        t.keys("Enter")
        t.waitFor("DETAIL call")
        var pid: Int32 = 0
        #expect(waitUntil { pid = Self.pids(withArgv: ["sleep", tag]).first ?? 0; return pid > 0 })
        // What /proc says, as the test reads it: the pane must show the same.
        let wchan = String(decoding: try readWholeFile("/proc/\(pid)/wchan"), as: UTF8.self)
        #expect(!wchan.isEmpty)
        t.waitFor("process pid \(pid) sleeping (S) wchan \(wchan): sleep \(tag)")
        // Refreshed while open: the running time moves on.
        let first = t.screen().split(separator: "\n").first { $0.contains("running for") }.map(String.init) ?? ""
        t.waitUntil("the detail to refresh") { s in
            s.split(separator: "\n").contains { $0.contains("running for") && String($0) != first }
        }
        // Enter closes it; d cancels the call, and the sleep is gone.
        t.keys("Enter")
        t.waitGone("DETAIL call")
        t.keys("d")
        t.waitFor("Pending (0)")
        #expect(waitUntil { Self.pids(withArgv: ["sleep", tag]).isEmpty })
        t.quitCleanly()
    }

    @Test func aContextsDefaultDeadlineCancelsItsCalls() throws {
        let t = try TmuxDriver(width: 160, height: 50)
        defer { t.close() }
        t.waitFor("connected")
        t.command("timeout 0.5")
        t.waitFor("now have a 0.5 s deadline")
        t.command("call time.sleep(600)")
        t.waitFor("time.sleep cancelled by its deadline (timeout 0.50 s)")
        t.command("timeout off")
        t.waitFor("have no deadline")
        t.quitCleanly()
    }
}

extension TmuxDriver {
    /// Types `text` on the console's command line (`:`) and runs it.
    func command(_ text: String) {
        keys(":")
        type(text)
        keys("Enter")
    }
}
