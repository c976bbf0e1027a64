import Foundation
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
    /// The command line prints `EXIT=<status>` when the binary ends (the pane
    /// stays: `remain-on-exit`).
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
        command.append("\(quoted); echo EXIT=$?")
        _ = try tmux(command)
    }

    func close() {
        _ = try? tmux(["-L", socket, "kill-server"])
    }

    @discardableResult
    func tmux(_ args: [String]) throws -> String {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/tmux")
        p.arguments = args
        let out = Pipe()
        p.standardOutput = out
        p.standardError = FileHandle.nullDevice
        try p.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
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

    /// Quits (confirming if asked) and checks the exit status and that the
    /// screen is clean: nothing left but the EXIT line.
    func quitCleanly(sourceLocation: SourceLocation = #_sourceLocation) {
        keys("q")
        guard let s = waitUntil("the quit dialog or exit", sourceLocation: sourceLocation, { $0.contains("Quit mitogen-tui?") || $0.contains("EXIT=") }) else { return }
        if s.contains("Quit mitogen-tui?") { keys("y") }
        guard let end = waitFor("EXIT=", timeout: 15, sourceLocation: sourceLocation) else { return }
        let leftovers = end.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        #expect(leftovers == ["EXIT=0"], "terminal not clean after quit:\n\(end)", sourceLocation: sourceLocation)
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
