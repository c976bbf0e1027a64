import Dispatch
import Glibc
import Testing
import TestSupport
@testable import MitogenSys
@testable import MitogenWire
@testable import MitogenCalls

/// A subprocess timeout ends the whole process group the program started, not
/// just the program: a shell pipeline leaves nothing running.
@Suite(.serialized) struct SubprocessGroupTests {
    /// Pids whose `/proc/<pid>/cmdline` is exactly `argv`.
    static func pids(withArgv argv: [String]) -> [pid_t] {
        let wanted = Array(argv.joined(separator: "\0").utf8) + [0]
        guard let entries = try? listDirectory("/proc") else { return [] }
        return entries.compactMap { pid_t($0) }.filter { pid in
            (try? readWholeFile("/proc/\(pid)/cmdline")) == wanted
        }
    }

    /// The parent pid (field 4 of `/proc/<pid>/stat`), nil when the pid is gone.
    static func parent(of pid: pid_t) -> pid_t? {
        guard let bytes = try? readWholeFile("/proc/\(pid)/stat") else { return nil }
        let text = String(decoding: bytes, as: UTF8.self)
        guard let close = text.lastIndex(of: ")") else { return nil }
        let fields = text[text.index(after: close)...].split(separator: " ")
        return fields.count > 1 ? pid_t(fields[1]) : nil
    }

    /// Pids whose parent is `pid`.
    static func children(of pid: pid_t) -> [pid_t] {
        guard let entries = try? listDirectory("/proc") else { return [] }
        return entries.compactMap { pid_t($0) }.filter { parent(of: $0) == pid }
    }

    /// Runs `subprocess.check_output(["sh", "-c", script(tag)], timeout=…)` on
    /// another thread, records the shell's pipeline members (`sleep <tag>` and
    /// its siblings) while it runs, and returns them with the raised text.
    func runPipeline(_ script: (String) -> String, timeout: Double) throws -> (members: [pid_t], raised: String?, tag: String, seconds: Double) {
        var rng = SystemRandomNumberGenerator()
        let tag = "600.\(UInt32.random(in: 100_000...999_999, using: &rng))"
        let command = script(tag)
        let result = Box()
        let done = DispatchSemaphore(value: 0)
        let start = monotonicNow()
        DispatchQueue.global().async {
            result.raised = Result { try raisedText("subprocess.check_output", [.list(["sh", "-c", .str(command)])], ["timeout": .float(timeout)]) }
            result.seconds = monotonicNow() - start
            done.signal()
        }
        var members: [pid_t] = []
        _ = waitUntil(timeout: timeout * 0.8) {
            guard let sleeper = Self.pids(withArgv: ["sleep", tag]).first, let shell = Self.parent(of: sleeper) else { return false }
            members = Self.children(of: shell)
            return members.count == 2
        }
        done.wait()
        return (members, try result.raised?.get(), tag, result.seconds)
    }

    /// Long enough to see the pipeline's members under a loaded machine (the
    /// observation window is 80 % of it; 1 s missed them under CI's load).
    static let timeout = 3.0

    @Test func timeoutKillsTheWholePipeline() throws {
        let run = try runPipeline({ "sleep \($0) | cat" }, timeout: Self.timeout)
        defer { for pid in Self.pids(withArgv: ["sleep", run.tag]) { _ = sendSignal(SIGKILL, to: pid) } }
        #expect(run.members.count == 2, "did not see the pipeline's sleep and cat while it ran")
        #expect(run.raised == "subprocess.TimeoutExpired: Command '['sh', '-c', 'sleep \(run.tag) | cat']' timed out after \(Self.timeout) seconds")
        // Both members are gone once the error is raised (SIGKILL is sent by
        // then; give the kernel a moment to finish them).
        #expect(waitUntil(timeout: 1) { run.members.allSatisfy { !processAlive($0) } },
                "pipeline members still running after the timeout: \(run.members.filter { processAlive($0) })")
        #expect(Self.pids(withArgv: ["sleep", run.tag]).isEmpty)
        #expect(run.seconds < Self.timeout + 2)
    }

    /// A group that ignores SIGTERM is killed with SIGKILL after the grace time.
    @Test func groupIgnoringSigtermIsKilled() throws {
        let run = try runPipeline({ "trap '' TERM; sleep \($0) | cat" }, timeout: Self.timeout)
        defer { for pid in Self.pids(withArgv: ["sleep", run.tag]) { _ = sendSignal(SIGKILL, to: pid) } }
        #expect(run.members.count == 2, "did not see the pipeline's sleep and cat while it ran")
        #expect(run.raised?.hasPrefix("subprocess.TimeoutExpired: ") == true, "\(run.raised ?? "no error")")
        #expect(waitUntil(timeout: 1) { run.members.allSatisfy { !processAlive($0) } },
                "pipeline members still running after the timeout: \(run.members.filter { processAlive($0) })")
        #expect(run.seconds >= Self.timeout + SubprocessRunner.terminationGrace * 0.9, "SIGKILL came before the grace ended")
        #expect(run.seconds < Self.timeout + SubprocessRunner.terminationGrace + 1.5)
    }
}

/// The result of the call, handed from the worker thread.
private final class Box: @unchecked Sendable {
    // @unchecked: written by the worker before `done.signal()`, read after `done.wait()`.
    var raised: Result<String?, any Error>?
    var seconds: Double = 0
}
