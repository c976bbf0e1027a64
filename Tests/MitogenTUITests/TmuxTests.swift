import Foundation
import Testing
@testable import MitogenTUI

/// End-to-end: the real binary in tmux (DESIGN §8). Serialized: each test
/// starts a console and a local context, and the machine has 2 cores.
@Suite(.serialized, .enabled(if: FileManager.default.isExecutableFile(atPath: TmuxDriver.binary) && FileManager.default.isExecutableFile(atPath: "/usr/bin/tmux")))
struct TmuxTests {
    @Test(arguments: [(80, 24, "tmux-256color"), (200, 60, "xterm")])
    func startShowsTheLocalContextAndQuitLeavesTheTerminalClean(size: (Int, Int, String)) throws {
        let t = try TmuxDriver(width: size.0, height: size.1, term: size.2)
        defer { t.close() }
        guard let s = t.waitFor("connected") else { return }
        #expect(s.contains("local."))
        #expect(s.split(separator: "\n").first?.contains("mitogen-tui") == true)
        #expect(s.split(separator: "\n").last?.contains("F1Help") == true)
        // The quit confirmation defaults to No.
        t.keys("q")
        t.waitFor("Quit mitogen-tui?")
        t.keys("Enter")
        t.waitGone("Quit mitogen-tui?")
        #expect(!t.isDead)
        t.quitCleanly()
    }

    @Test func noColourTerminalUsesASCIIAndStillWorks() throws {
        let t = try TmuxDriver(term: "vt100", lang: "C", env: ["NO_COLOR": "1"])
        defer { t.close() }
        guard let s = t.waitFor("connected") else { return }
        #expect(s.contains("- 1 Contexts"))  // ASCII rule, not ─
        #expect(!s.contains("─"))
        t.quitCleanly()
    }

    @Test func callOsGetpidShowsTheChildPid() throws {
        let t = try TmuxDriver(width: 200, height: 60)
        defer { t.close() }
        t.waitFor("connected")
        guard let pid = t.pid(ofRowContaining: "local.") else {
            Issue.record("no pid on the tree row:\n\(t.screen())")
            return
        }
        t.keys("c")
        t.waitFor("call on local.")
        t.type("os.getpid()")
        t.keys("Enter")
        t.waitFor("= \(pid)")
        // The same through the command line, with history.
        t.keys(":")
        t.type("call os.getppid()")
        t.keys("Enter")
        t.waitFor("os.getppid()")
        t.waitUntil("two results") { s in s.split(separator: "\n").filter { $0.hasPrefix("  = ") }.count == 2 }
        t.quitCleanly()
    }

    @Test func aSlowCallIsPendingAgingStuckAndCancelled() throws {
        let t = try TmuxDriver(width: 120, height: 40, args: ["--slow-after", "1", "--stuck-after", "3"])
        defer { t.close() }
        t.waitFor("connected")
        t.keys(":")
        t.type("call time.sleep(30)")
        t.keys("Enter", "4")
        t.waitFor("time.sleep(30)")
        t.waitUntil("the call to age") { $0.contains("time.sleep(30)") && $0.contains(" 1s ") }
        t.waitFor("slow")
        t.waitFor("STUCK")
        t.waitFor("(1 stuck)")
        // Ask the target what it is doing.
        t.keys("i")
        t.waitFor("time.sleep(30)  running")
        t.keys("4", "d")
        t.waitFor("cancelled call")
        t.waitFor("Pending (0)")
        t.keys("5")
        t.waitFor("call cancelled by the operator")
        t.quitCleanly()
    }

    @Test func sigkillOfAChildShowsItGoneAndErrorsItsCalls() throws {
        let t = try TmuxDriver(width: 120, height: 40)
        defer { t.close() }
        t.waitFor("connected")
        guard let pid = t.pid(ofRowContaining: "local.") else {
            Issue.record("no pid:\n\(t.screen())")
            return
        }
        t.keys(":")
        t.type("call time.sleep(30)")
        t.keys("Enter")
        t.waitFor("Pending (1)")
        kill(pid, SIGKILL)
        t.waitUntil("the context to go failed or gone") { s in
            s.split(separator: "\n").contains { $0.contains("local.\(pid)") && ($0.contains("gone") || $0.contains("failed")) }
        }
        t.waitFor("Pending (0)")
        t.waitUntil("the call to fail") { $0.contains("time.sleep(30)") && $0.contains("  ! ") }
        t.quitCleanly()
    }

    @Test func shutdownAsksNamingTheTargetAndDefaultsToNo() throws {
        let t = try TmuxDriver(width: 120, height: 40, args: ["local", "fork"])
        defer { t.close() }
        t.waitUntil("two contexts") { $0.contains("2 live / 2 contexts") }
        t.keys("g")  // first row
        t.keys("X")
        guard let dialog = t.waitFor("Shut down a subtree") else { return }
        #expect(dialog.contains("Shut down context '"))
        t.keys("Enter")  // No
        t.waitGone("Shut down a subtree")
        #expect(t.screen().contains("2 live / 2 contexts"))
        t.keys("X")
        t.waitFor("Shut down a subtree")
        t.keys("y")
        t.waitFor("1 live / 2 contexts")
        t.waitFor("gone")
        t.quitCleanly()
    }

    @Test func readOnlyHidesAndRefusesChanges() throws {
        let t = try TmuxDriver(width: 120, height: 30, args: ["--read-only"])
        defer { t.close() }
        guard let s = t.waitFor("connected") else { return }
        #expect(s.contains("READ-ONLY"))
        #expect(!s.contains("Shutdown") && !s.contains("F4Call"))
        t.keys("x")
        t.waitFor("read-only: that action is disabled")
        t.keys(":")
        t.type("call os.getpid()")
        t.keys("Enter")
        t.waitFor("read-only: that command is disabled")
        t.quitCleanly()
    }

    @Test func filtersTreeAndLogs() throws {
        let t = try TmuxDriver(width: 160, height: 50, args: ["local?name=alpha", "local?name=bravo"])
        defer { t.close() }
        t.waitUntil("both contexts") { $0.contains("alpha") && $0.contains("bravo") && $0.contains("2 live") }
        t.keys("/")
        t.type("alp")
        t.waitUntil("the tree filter") { $0.contains("filter:'alp'") && !$0.contains("bravo  ") }
        t.keys("Enter", "3")
        // No builtin makes a child log on demand yet, so this checks the
        // filter controls; the filtering itself is unit-tested (RendererTests).
        t.keys("/")
        t.type("zzz-no-such-line")
        t.keys("Enter")
        t.waitFor("filter:'zzz-no-such-line'")
        t.keys("c")
        t.waitFor("ctx:")
        t.keys("u")
        t.waitGone("filter:'zzz-no-such-line'")
        t.keys("l", "l", "l")
        t.waitFor("level:error+")
        t.quitCleanly()
    }

    @Test func resizeRedrawsAtTheNewSize() throws {
        let t = try TmuxDriver(width: 80, height: 24)
        defer { t.close() }
        t.waitFor("connected")
        for (w, h) in [(120, 40), (60, 16), (200, 60)] {
            t.resize(w, h)
            t.waitUntil("a \(w)x\(h) frame") { s in
                let lines = s.split(separator: "\n", omittingEmptySubsequences: false)
                return lines.count >= h && lines[h - 1].hasPrefix("F1Help") && lines[0].contains("mitogen-tui")
                    && lines[0].count <= w
            }
        }
        t.quitCleanly()
    }

    @Test func helpOverlayListsEveryKey() throws {
        let t = try TmuxDriver(width: 200, height: 60)
        defer { t.close() }
        t.waitFor("connected")
        t.keys("F1")
        guard var seen = t.waitFor("Help: keys") else { return }
        for _ in 0..<4 {
            t.keys("PageDown")
            usleep(100_000)
            seen += t.screen()
        }
        for a in ActionTable.all {
            #expect(seen.contains(a.label), "help lacks \(a.label)")
            #expect(seen.contains(a.keys.map(\.description).joined(separator: " ")), "help lacks keys of \(a.id)")
        }
        t.keys("Escape")
        t.waitGone("Help: keys")
        t.quitCleanly()
    }

    @Test func openLocalToLocalFromTheCommandLineHangsUnderTheFirst() throws {
        let t = try TmuxDriver(width: 120, height: 40)
        defer { t.close() }
        t.waitFor("connected")
        t.keys(":")
        t.type("open local -> local")
        t.keys("Enter")
        // Three contexts: the first local, the new local, and its child under it.
        t.waitUntil("the chained context in the tree", timeout: 20) { s in
            s.contains("3 live / 3 contexts") && s.contains("└─ ")
        }
        t.quitCleanly()
    }
}
