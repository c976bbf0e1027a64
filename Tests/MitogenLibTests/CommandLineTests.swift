import Foundation
import Testing

/// `mitogen-tui call`, run as a user runs it: the built executable, its
/// stdout, stderr and exit status.
@Suite struct CommandLineTests {
    struct Run {
        var status: Int32
        var stdout: String
        var stderr: String
    }

    /// The executable next to the test bundle (both live in .build/<config>/).
    static let executable: URL = {
        var url = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        while !FileManager.default.fileExists(atPath: url.appendingPathComponent("mitogen-tui").path), url.path != "/" {
            url.deleteLastPathComponent()
        }
        return url.appendingPathComponent("mitogen-tui")
    }()

    func run(_ args: [String]) throws -> Run {
        let p = Process()
        p.executableURL = Self.executable
        p.arguments = args
        let out = Pipe(), err = Pipe()
        p.standardOutput = out
        p.standardError = err
        try p.run()
        let o = out.fileHandleForReading.readDataToEndOfFile()
        let e = err.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return Run(status: p.terminationStatus, stdout: String(decoding: o, as: UTF8.self), stderr: String(decoding: e, as: UTF8.self))
    }

    @Test func timeoutIsTheCallsDeadlineInTheContext() throws {
        let start = Date()
        let r = try run(["call", "--timeout", "0.5", "local", "time.sleep(600)"])
        #expect(r.status == 1)
        #expect(r.stderr.contains("time.sleep(600): mitogen.core.CancelledError: time.sleep cancelled by its deadline (timeout 0.50 s)"), "\(r.stderr)")
        #expect(Date().timeIntervalSince(start) < 10)
    }

    @Test func printsPythonLiteralsThatCPythonReadsBack() throws {
        let r = try run(["call", "local", "os.getpid()", #"mitogen.echo({"k": (1, 2.5, None, True)}, b"\x00\xff", "é")"#])
        #expect(r.status == 0, "stderr: \(r.stderr)")
        let lines = r.stdout.split(separator: "\n").map(String.init)
        #expect(lines.count == 2)
        #expect(Int(lines[0]) != nil && Int(lines[0]) != Int(getpid()))
        // CPython agrees on the value.
        let check = Process()
        check.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        check.arguments = ["python3", "-c", "import ast,sys; v = ast.literal_eval(sys.argv[1]); assert v == ({'k': (1, 2.5, None, True)}, b'\\x00\\xff', 'é'), v", lines[1]]
        try check.run()
        check.waitUntilExit()
        #expect(check.terminationStatus == 0, "CPython read back: \(lines[1])")
    }

    @Test func jsonModeAndFailuresExitNonZero() throws {
        let r = try run(["call", "--json", "local", "os.getcwd()", #"os.listdir("/nonexistent-dir")"#, "os.getpid()"])
        #expect(r.status == 1)
        let lines = r.stdout.split(separator: "\n")
        #expect(lines.count == 2)  // stops at the failed call
        let first = try JSONSerialization.jsonObject(with: Data(lines[0].utf8)) as? [String: Any]
        #expect(first?["function"] as? String == "os.getcwd")
        #expect(first?["result"] is String)
        #expect(first?["elapsed_us"] is Int)
        let second = try JSONSerialization.jsonObject(with: Data(lines[1].utf8)) as? [String: Any]
        #expect((second?["error"] as? String)?.hasPrefix("builtins.FileNotFoundError: [Errno 2]") == true)
    }

    @Test func badInputGetsAClearError() throws {
        let chain = try run(["call", "nosuchmethod", "os.getpid()"])
        #expect(chain.status != 0)
        #expect(chain.stderr.contains("nosuchmethod"))
        let expr = try run(["call", "local", "os.getpid("])
        #expect(expr.status != 0)
        #expect(expr.stderr.contains("column"))
        let password = try run(["call", "sudo:root?password=hunter2", "os.getpid()"])
        #expect(password.status != 0)
        #expect(!password.stderr.contains("hunter2"))
    }

    @Test func chainsOfLocalHopsRunTheCallAtTheEnd() throws {
        let r = try run(["call", "local -> local -> fork", "os.getppid()", "os.getpid()"])
        #expect(r.status == 0, "stderr: \(r.stderr)")
        let pids = r.stdout.split(separator: "\n").compactMap { Int($0) }
        #expect(pids.count == 2 && pids[0] != pids[1] && pids[0] != Int(getpid()))
        // A remote hop through the first one: ssh runs in the local context,
        // and its own words come back (port 1 refuses at once).
        let refused = try run(["call", "local -> ssh:127.0.0.1:1", "os.getpid()"])
        #expect(refused.status != 0)
        #expect(refused.stderr.contains("hop 2 (ssh:127.0.0.1:1)"), "stderr: \(refused.stderr)")
        #expect(refused.stderr.contains("Connection refused"), "stderr: \(refused.stderr)")
    }
}
