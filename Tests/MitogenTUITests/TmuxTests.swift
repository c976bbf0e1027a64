import Foundation
import Testing
import MitogenLib
import MitogenSys
import TestSupport
@testable import ConsoleModel

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

    @Test func consoleExitsWhenItsTerminalDies() throws {
        // The console on a bare PTY with SIGHUP blocked (as under a parent that
        // blocks it): when the terminal goes, only the dead descriptor can tell
        // it to quit, and it must not spin.
        let pty = try PseudoTerminal.open()
        let master = pty.master.rawValue
        let slavePath = pty.slavePath
        pty.slave.close()
        var ws = winsize(ws_row: 24, ws_col: 80, ws_xpixel: 0, ws_ypixel: 0)
        _ = ioctl(master, UInt(TIOCSWINSZ), &ws)
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        for fd in Int32(0)...2 { posix_spawn_file_actions_addopen(&actions, fd, slavePath, O_RDWR, 0) }
        var attrs = posix_spawnattr_t()
        posix_spawnattr_init(&attrs)
        var mask = sigset_t()
        sigemptyset(&mask)
        sigaddset(&mask, SIGHUP)
        posix_spawnattr_setsigmask(&attrs, &mask)
        // No new session, so the PTY is not its controlling terminal and no
        // SIGHUP can come when it closes; SIGHUP is blocked on top of that.
        posix_spawnattr_setflags(&attrs, Int16(POSIX_SPAWN_SETSIGMASK))
        var pid: pid_t = 0
        let argv: [UnsafeMutablePointer<CChar>?] = [strdup(TmuxDriver.binary), nil]
        let envStrings: [String] = ["TERM=xterm", "LANG=C.UTF-8", "MITOGEN_TUI_STDERR=/tmp/mitogen-tui-pty-test.\(getpid()).stderr", "PATH=/usr/bin:/bin"]
        var env: [UnsafeMutablePointer<CChar>?] = envStrings.map { (text: String) in strdup(text) }
        env.append(nil)
        #expect(posix_spawn(&pid, TmuxDriver.binary, &actions, &attrs, argv, env) == 0)
        // Wait until it has drawn its screen, then take the terminal away.
        var seen = ""
        var buf = [UInt8](repeating: 0, count: 65536)
        let deadline = Date().addingTimeInterval(10)
        while !seen.contains("(id 1)"), Date() < deadline {
            var p = pollfd(fd: master, events: Int16(POLLIN), revents: 0)
            if poll(&p, 1, 100) > 0 {
                let n = read(master, &buf, buf.count)
                if n > 0 { seen += String(decoding: buf[0..<n], as: UTF8.self) }
            }
        }
        #expect(seen.contains("(id 1)"))  // the status line says the local context opened
        close(master)
        var status: Int32 = 0
        var exited = false
        let end = Date().addingTimeInterval(5)
        while Date() < end {
            if waitpid(pid, &status, WNOHANG) == pid { exited = true; break }
            usleep(20_000)
        }
        #expect(exited, "the console kept running after its terminal died")
        if !exited { kill(pid, SIGKILL); waitpid(pid, &status, 0) }
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
        t.type("call time.sleep(600)")
        t.keys("Enter", "4")
        t.waitFor("time.sleep(600)")
        t.waitUntil("the call to age") { $0.contains("time.sleep(600)") && $0.contains(" 1s ") }
        t.waitFor("slow")
        t.waitFor("STUCK")
        t.waitFor("(1 stuck)")
        // Ask the target what it is doing.
        t.keys("i")
        t.waitFor("time.sleep(600)  running")
        t.keys("4", "d")
        t.waitFor("cancelling call")
        t.waitFor("Pending (0)")
        t.keys("5")
        // The context stopped the work and said so; it runs the next call at once.
        t.waitFor("time.sleep cancelled by the operator after")
        t.keys(":")
        t.type("call os.getpid()")
        t.keys("Enter")
        t.waitUntil("the next call to answer") { $0.contains("os.getpid()") && !$0.contains("os.getpid()  running") }
        t.keys("1", "i")
        t.waitFor("(nothing running)")
        t.quitCleanly()
    }

    /// `:timeout` with contexts marked sets their deadline, and a call on many
    /// honours it (it used to wait the fixed 60 s).
    @Test func timeoutOnMarkedContextsBoundsTheirCallOnMany() throws {
        let t = try TmuxDriver(width: 140, height: 40)
        defer { t.close() }
        t.waitFor("connected")
        t.command("open local?name=m1; local?name=m2")
        guard t.waitFor("opened 2 targets, all marked", timeout: 30) != nil else { return }
        t.command("timeout 1")
        t.waitFor("calls to 2 marked contexts now have a 1.0 s deadline")
        t.command("call time.sleep(30)")
        guard let s = t.waitFor("2/2 done, 2 failed", timeout: 10) else { return }
        #expect(s.range(of: "m1 +error", options: .regularExpression) != nil, "\(s)")
        t.keys("Escape")
        t.waitGone("ELAPSED")
        t.quitCleanly(allowingStderrNotice: true)
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
        t.keys("Enter")
        // Log lines from each context: `mitogen.log` runs in the selected
        // context, the only row the tree filter leaves.
        t.keys(":")
        t.type("call mitogen.log('needle from alpha')")
        t.keys("Enter", ":")
        t.type("call mitogen.log('hay from alpha', 30)")
        t.keys("Enter", "/", "C-u")
        t.type("bra")
        t.waitUntil("the tree filter on bravo") { $0.contains("filter:'bra'") && !$0.contains("alpha  ") }
        t.keys("Enter", ":")
        t.type("call mitogen.log('hay from bravo')")
        t.keys("Enter", "3")
        let all = ["needle from alpha", "hay from alpha", "hay from bravo"]
        /// Waits until the logs pane shows exactly the lines of `all` in `shown`.
        func waitForLogs(_ what: String, showing shown: Set<String>) {
            t.waitUntil(what) { s in all.allSatisfy { s.contains($0) == shown.contains($0) } }
        }
        waitForLogs("every log line", showing: Set(all))
        // Text filter: keeps the matching line, hides the others.
        t.keys("/")
        t.type("needle")
        t.keys("Enter")
        t.waitFor("filter:'needle'")
        waitForLogs("only the matching line", showing: ["needle from alpha"])
        t.keys("u")
        t.waitGone("filter:'needle'")
        waitForLogs("every line after clearing", showing: Set(all))
        // Context filter: only the selected context's (bravo's) lines.
        t.keys("c")
        t.waitFor("ctx:")
        waitForLogs("only bravo's line", showing: ["hay from bravo"])
        t.keys("u")
        waitForLogs("every line again", showing: Set(all))
        // Level filter: warning+ keeps the one warning.
        t.keys("l", "l")
        t.waitFor("level:warning+")
        waitForLogs("only the warning", showing: ["hay from alpha"])
        t.keys("l")
        t.waitFor("level:error+")
        waitForLogs("no line at error+", showing: [])
        t.quitCleanly(allowingStderrNotice: true)
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

    /// `:open local -> sudo` whose sudo (a stub that checks its argv, prompts,
    /// reads the password and hangs) never lets it through: the via-started
    /// row is in the tree under the first local with its stage while the
    /// intermediary waits, then shows the error.
    @Test func aHangingViaConnectShowsItsStageThenTheErrorOnItsRow() throws {
        let dir = NSTemporaryDirectory() + "via-tui-\(getpid())"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let stub = try writeSudoStub(in: dir, then: "exec sleep 60")
        let t = try TmuxDriver(width: 400, height: 30, env: ["VIA_PW": "typed-to-the-stub"])
        defer { t.close() }
        t.waitFor("connected")
        t.keys(":")
        t.type("open local -> sudo:root?sudo_path=\(stub)&password=env:VIA_PW&connect_timeout=3")
        t.keys("Enter")
        func row(_ s: String) -> Substring? {
            s.split(separator: "\n").first { $0.contains("└─ ") && $0.contains(".sudo.root") && $0.contains(" sudo ") }
        }
        t.waitUntil("the pending via row with its stage", timeout: 20) { s in row(s)?.contains("authenticating") == true }
        let failed = t.waitUntil("the error on the row", timeout: 20) { s in
            row(s)?.contains("failed: Connection timed out.") == true
        }
        // The whole text on the status line (the console is wide enough for it).
        let lines = failed?.split(separator: "\n") ?? []
        #expect(lines.dropLast().last?.contains("Connection timed out. (after 3.0 s, while authenticating)") == true, "\(failed ?? "")")
        t.quitCleanly(allowingStderrNotice: true)
    }
}
