import Foundation
import Glibc
import Testing

/// Drives the real `mitogen-tui` binary in a detached tmux session on a
/// private socket (`-L`): send keys, capture the pane, wait for patterns
/// with a timeout (polling every 50 ms, never a bare sleep). The session's
/// server is killed by `close()` (call it in a `defer`).
final class TmuxDriver {
    static let binary = repoRoot + "/.build/debug/mitogen-tui"
    nonisolated(unsafe) private static var counter = 0

    let socket: String
    let stderrPath: String

    /// Starts `mitogen-tui ARGS` in a `width`x`height` pane with `TERM=term`.
    /// When the binary ends the pane stays (`remain-on-exit`) and tmux shows
    /// `Pane is dead (status N, ...)`.
    init(width: Int = 80, height: Int = 24, term: String = "tmux-256color", lang: String = "C.UTF-8",
         env: [String: String] = [:], args: [String] = []) throws {
        Self.counter += 1
        socket = "mtui-\(getpid())-\(Self.counter)"
        stderrPath = NSTemporaryDirectory() + socket + ".stderr"
        let conf = NSTemporaryDirectory() + socket + ".conf"
        try "set -g remain-on-exit on\nset -g status off\nset -g history-limit 100\n".write(toFile: conf, atomically: true, encoding: .utf8)
        let quoted = ([Self.binary] + args).map { "'" + $0.replacingOccurrences(of: "'", with: "'\\''") + "'" }.joined(separator: " ")
        var command = ["-L", socket, "-f", conf, "new-session", "-d", "-s", "T", "-x", "\(width)", "-y", "\(height)",
                       "-e", "TERM=\(term)", "-e", "LANG=\(lang)", "-e", "LC_ALL=\(lang)", "-e", "MITOGEN_TUI_STDERR=\(stderrPath)"]
        for (k, v) in env { command += ["-e", "\(k)=\(v)"] }
        command.append(quoted)
        try tmux(command, output: false)
    }

    func close() {
        _ = try? tmux(["-L", socket, "kill-server"], output: false)
    }

    /// Runs tmux with posix_spawn and waits for it. The child gets an
    /// empty signal mask and default handlers: the test process blocks most
    /// signals in its threads, and a tmux server inheriting that mask ignores
    /// SIGTERM and never reaps its panes (Foundation's Process passes the
    /// mask on, and its client then lingers as a zombie). Without `output`,
    /// stdout is /dev/null: a command that starts the server must not hand
    /// it our pipe (we would never see EOF).
    @discardableResult
    func tmux(_ args: [String], output: Bool = true) throws -> String {
        var fds: [Int32] = [-1, -1]
        if output { guard pipe(&fds) == 0 else { throw POSIXError(.EMFILE) } }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0)
        if output {
            posix_spawn_file_actions_adddup2(&actions, fds[1], 1)
            posix_spawn_file_actions_addclose(&actions, fds[0])
            posix_spawn_file_actions_addclose(&actions, fds[1])
        } else {
            posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
        }
        var attrs = posix_spawnattr_t()
        posix_spawnattr_init(&attrs)
        defer { posix_spawnattr_destroy(&attrs) }
        var empty = sigset_t()
        sigemptyset(&empty)
        var defaults = sigset_t()
        sigfillset(&defaults)
        sigdelset(&defaults, SIGKILL)
        sigdelset(&defaults, SIGSTOP)
        posix_spawnattr_setsigmask(&attrs, &empty)
        posix_spawnattr_setsigdefault(&attrs, &defaults)
        posix_spawnattr_setflags(&attrs, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))
        let argv = (["tmux"] + args).map { strdup($0) } + [nil]
        defer { for a in argv { free(a) } }
        var pid: pid_t = 0
        let rc = posix_spawn(&pid, "/usr/bin/tmux", &actions, &attrs, argv, environ)
        if output { Glibc.close(fds[1]) }
        guard rc == 0 else {
            if output { Glibc.close(fds[0]) }
            throw POSIXError(POSIXErrorCode(rawValue: rc) ?? .EIO)
        }
        var data = [UInt8]()
        if output {
            var buffer = [UInt8](repeating: 0, count: 65536)
            while true {
                let n = read(fds[0], &buffer, buffer.count)
                if n < 0 && errno == EINTR { continue }
                if n <= 0 { break }
                data += buffer[0..<n]
            }
            Glibc.close(fds[0])
        }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        return String(decoding: data, as: UTF8.self)
    }

    /// The visible screen as text.
    func screen() -> String { (try? tmux(["-L", socket, "capture-pane", "-p", "-t", "T"])) ?? "" }

    /// Sends tmux key names (`Enter`, `F1`, `q`, `C-c`).
    func keys(_ names: String...) { _ = try? tmux(["-L", socket, "send-keys", "-t", "T"] + names) }

    /// Types text literally.
    func type(_ text: String) { _ = try? tmux(["-L", socket, "send-keys", "-t", "T", "-l", text]) }

    func resize(_ width: Int, _ height: Int) {
        _ = try? tmux(["-L", socket, "resize-window", "-t", "T", "-x", "\(width)", "-y", "\(height)"])
    }

    /// Waits until the screen satisfies `predicate`; records an issue with the
    /// screen if it does not within `timeout` seconds.
    @discardableResult
    func waitUntil(_ what: String, timeout: Double = 10, sourceLocation: SourceLocation = #_sourceLocation,
                   _ predicate: (String) -> Bool) -> String? {
        let deadline = Date().addingTimeInterval(timeout)
        var last = ""
        while Date() < deadline {
            last = screen()
            if predicate(last) { return last }
            usleep(50_000)
        }
        Issue.record("timed out after \(timeout)s waiting for \(what); screen:\n\(last)", sourceLocation: sourceLocation)
        return nil
    }

    /// Waits for `text` to show anywhere on the screen.
    @discardableResult
    func waitFor(_ text: String, timeout: Double = 10, sourceLocation: SourceLocation = #_sourceLocation) -> String? {
        waitUntil("'\(text)'", timeout: timeout, sourceLocation: sourceLocation) { $0.contains(text) }
    }

    /// Waits for `text` to be gone from the screen.
    @discardableResult
    func waitGone(_ text: String, timeout: Double = 10, sourceLocation: SourceLocation = #_sourceLocation) -> String? {
        waitUntil("'\(text)' to go", timeout: timeout, sourceLocation: sourceLocation) { !$0.contains(text) }
    }

    /// True once the binary has ended (the pane stays: `remain-on-exit`).
    var isDead: Bool { ((try? tmux(["-L", socket, "display", "-p", "-t", "T", "#{pane_dead}"])) ?? "").hasPrefix("1") }

    /// Quits (confirming if asked) and checks that the process ends and the
    /// screen is left clean (curses restored the terminal). With
    /// `allowingStderrNotice`, the console's closing line that names its
    /// stderr file is no leftover: a test whose contexts log expects it, as the
    /// master also writes every drained log line to swift-log on stderr.
    func quitCleanly(allowingStderrNotice: Bool = false, sourceLocation: SourceLocation = #_sourceLocation) {
        keys("q")
        guard let s = waitUntil("the quit dialog or exit", sourceLocation: sourceLocation, { $0.contains("Quit mitogen-tui?") || self.isDead }) else { return }
        if s.contains("Quit mitogen-tui?") { keys("y") }
        guard waitUntil("the process to end", timeout: 15, sourceLocation: sourceLocation, { _ in self.isDead }) != nil else { return }
        let end = screen()
        let leftovers = end.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }.filter {
            !$0.isEmpty && !$0.hasPrefix("Pane is dead")
                && !(allowingStderrNotice && $0.hasPrefix("mitogen-tui: ") && $0.contains(" bytes of stderr output while the console ran are in "))
        }
        #expect(leftovers.isEmpty, "terminal not clean after quit:\n\(end)", sourceLocation: sourceLocation)
    }

    /// The pid shown on the tree row whose name contains `name`.
    func pid(ofRowContaining name: String) -> Int32? {
        for line in screen().split(separator: "\n") where line.contains(name) {
            let cols = line.split(separator: " ")
            if let i = cols.firstIndex(where: { $0 == "local" || $0 == "fork" }), i + 2 < cols.count { return Int32(cols[i + 2]) }
        }
        return nil
    }
}
