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

/// Registers the catalog once for the whole test process.
private let catalogRegistered: Bool = {
    Builtins.registerAll()
    return true
}()

/// Calls a registered builtin the way Core will: by name, with a context.
@discardableResult
func callBuiltin(_ name: String, _ args: [Value] = [], _ kwargs: PyDict = PyDict()) throws -> Value {
    _ = catalogRegistered
    let entry = try #require(Functions.lookup(name), "\(name) is not registered")
    return try entry.body(args, kwargs, CallContext(function: name, routerRef: nil, callerID: 0))
}

/// The `"type: message"` a failing builtin call raises, or nil if it did not raise.
func raisedText(_ name: String, _ args: [Value] = [], _ kwargs: PyDict = PyDict()) throws -> String? {
    do {
        try callBuiltin(name, args, kwargs)
        return nil
    } catch let e as PyException {
        return e.description
    }
}

/// A fresh directory under /tmp, removed (with its files) by `cleanup`.
struct TempDirectory {
    let path: String
    init() throws {
        var template = Array("/tmp/mitogen-builtins-XXXXXX".utf8CString)
        let made = template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) }
        path = String(cString: try #require(made))
    }
    func cleanup() { _ = try? runCapturing(["/bin/rm", "-rf", path]) }
}

private let python3Available = systemPython() != nil

@Suite struct BuiltinsTests {
    // MARK: os

    @Test func processIdentity() throws {
        #expect(try callBuiltin("os.getpid") == .int(Int(getpid())))
        #expect(try callBuiltin("os.getppid") == .int(Int(getppid())))
        #expect(try callBuiltin("os.getuid") == .int(Int(getuid())))
        #expect(try callBuiltin("os.geteuid") == .int(Int(geteuid())))
        #expect(try callBuiltin("os.getgid") == .int(Int(getgid())))
    }

    @Test func listdirStatAndPathPredicates() throws {
        let dir = try TempDirectory()
        defer { dir.cleanup() }
        #expect(try callBuiltin("os.listdir", [.str(dir.path)]) == .list([]))
        for name in ["b", "a", "c"] { try callBuiltin("files.write", [.str("\(dir.path)/\(name)"), .bytes([1, 2, 3, 4, 5])]) }
        try callBuiltin("os.mkdir", [.str("\(dir.path)/sub")], ["mode": 0o750])
        let names = try #require(try callBuiltin("os.listdir", [.str(dir.path)]).sequenceValue).compactMap(\.stringValue)
        #expect(names.sorted() == ["a", "b", "c", "sub"])

        try callBuiltin("os.chmod", [.str("\(dir.path)/a"), 0o640])
        let st = try #require(try callBuiltin("os.stat", [.str("\(dir.path)/a")]).dictValue)
        var native = stat()
        #expect(stat("\(dir.path)/a", &native) == 0)
        #expect(st["st_size"] == 5)
        #expect(st["st_mode"] == .int(0o100640))
        #expect(st["st_ino"] == .int(Int(native.st_ino)))
        #expect(st["st_mtime"] == .float(Double(native.st_mtim.tv_sec) + Double(native.st_mtim.tv_nsec) * 1e-9))
        #expect(try #require(try callBuiltin("os.stat", [.str("\(dir.path)/sub")]).dictValue)["st_mode"] == .int(0o40750 & ~Int(try currentUmask())))

        #expect(symlink("a", "\(dir.path)/link") == 0)
        #expect(try callBuiltin("os.readlink", [.str("\(dir.path)/link")]) == "a")
        let lst = try #require(try callBuiltin("os.lstat", [.str("\(dir.path)/link")]).dictValue)
        #expect(lst["st_mode"]?.intValue.map { $0 & Int(S_IFMT) } == Int(S_IFLNK))

        #expect(try callBuiltin("os.path.exists", [.str("\(dir.path)/link")]) == true)
        #expect(try callBuiltin("os.path.isfile", [.str("\(dir.path)/link")]) == true)
        #expect(try callBuiltin("os.path.isdir", [.str("\(dir.path)/sub")]) == true)
        #expect(try callBuiltin("os.path.isdir", [.str("\(dir.path)/a")]) == false)
        #expect(try callBuiltin("os.path.exists", ["/nope/x"]) == false)
    }

    @Test func renameRemoveMakedirsRmdir() throws {
        let dir = try TempDirectory()
        defer { dir.cleanup() }
        try callBuiltin("files.write", [.str("\(dir.path)/x"), "hi"])
        try callBuiltin("os.rename", [.str("\(dir.path)/x"), .str("\(dir.path)/y")])
        #expect(try callBuiltin("os.listdir", [.str(dir.path)]) == ["y"])
        try callBuiltin("os.unlink", [.str("\(dir.path)/y")])
        try callBuiltin("os.makedirs", [.str("\(dir.path)/p/q/r/")])
        #expect(try callBuiltin("os.path.isdir", [.str("\(dir.path)/p/q/r")]) == true)
        try callBuiltin("os.makedirs", [.str("\(dir.path)/p/q")], ["exist_ok": true])
        #expect(try raisedText("os.makedirs", [.str("\(dir.path)/p/q")]) == "builtins.FileExistsError: [Errno 17] File exists: '\(dir.path)/p/q'")
        try callBuiltin("os.rmdir", [.str("\(dir.path)/p/q/r")])
        #expect(try callBuiltin("os.listdir", [.str("\(dir.path)/p/q")]) == [])
    }

    @Test func cwdAndEnvironment() throws {
        let cwd = try #require(try callBuiltin("os.getcwd").stringValue)
        var buffer = [CChar](repeating: 0, count: 4096)
        #expect(cwd == String(cString: getcwd(&buffer, buffer.count)))
        let environ = try #require(try callBuiltin("os.environ").dictValue)
        #expect(environ["PATH"] == .str(String(cString: getenv("PATH"))))
        #expect(try callBuiltin("os.getenv", ["PATH"]) == environ["PATH"])
        #expect(try callBuiltin("os.getenv", ["MITOGEN_SURELY_UNSET"], ["default": "d"]) == "d")
        #expect(try callBuiltin("os.getenv", ["MITOGEN_SURELY_UNSET"]) == Value.none)
    }

    @Test func killDeliversSignals() throws {
        let null = try FileDescriptor.open("/dev/null", flags: O_RDWR)
        let pid = try spawnProcess(SpawnRequest(executable: "/bin/sleep", argv: ["sleep", "30"], stdin: null, stdout: null, stderr: null))
        null.close()
        try callBuiltin("os.kill", [.int(Int(pid)), .int(Int(SIGTERM))])
        #expect(try waitProcess(pid, block: true) == .signaled(SIGTERM))
    }

    // MARK: Argument binding

    @Test func argumentErrorsUsePythonWording() throws {
        #expect(try raisedText("os.chdir") == "builtins.TypeError: os.chdir() missing required argument: 'path'")
        #expect(try raisedText("os.chdir", [5]) == "builtins.TypeError: os.chdir() argument 'path': expected str, bytes or os.PathLike object, got int")
        #expect(try raisedText("os.getenv", [5]) == "builtins.TypeError: os.getenv() argument 'key': expected str, got int")
        #expect(try raisedText("os.listdir", ["/", "/"]) == "builtins.TypeError: os.listdir() takes at most 1 positional argument (2 given)")
        #expect(try raisedText("os.listdir", [], ["paht": "/"]) == "builtins.TypeError: os.listdir() got an unexpected keyword argument 'paht'")
        #expect(try raisedText("os.mkdir", ["/x"], ["path": "/y"]) == "builtins.TypeError: os.mkdir() got multiple values for argument 'path'")
        #expect(try callBuiltin("os.listdir", [], ["path": "/proc/self/fdinfo"]).sequenceValue?.isEmpty == false)
    }

    // MARK: subprocess

    @Test func checkOutputBasics() throws {
        #expect(try callBuiltin("subprocess.check_output", [["echo", "hi"]]) == .bytes(Array("hi\n".utf8)))
        #expect(try callBuiltin("subprocess.check_output", ["echo $((1+2)) $0"], ["shell": true]) == .bytes(Array("3 /bin/sh\n".utf8)))
        #expect(try callBuiltin("subprocess.check_output", [["sh", "-c", "echo out; echo err >&2"]], ["stderr": -2]) == .bytes(Array("out\nerr\n".utf8)))
        #expect(try callBuiltin("subprocess.check_output", [["pwd"]], ["cwd": "/usr"]) == .bytes(Array("/usr\n".utf8)))
        #expect(try callBuiltin("subprocess.check_output", [["sh", "-c", "echo \"$X\""]], ["env": ["X": "1 2", "PATH": "/bin"]]) == .bytes(Array("1 2\n".utf8)))
        #expect(try raisedText("subprocess.check_output", [["false"]]) == "subprocess.CalledProcessError: Command '['false']' returned non-zero exit status 1.")
        #expect(try raisedText("subprocess.check_output", [["sh", "-c", "kill -9 $$"]]) == "subprocess.CalledProcessError: Command '['sh', '-c', 'kill -9 $$']' died with <Signals.SIGKILL: 9>.")
    }

    @Test func bigOutputIsIntact() throws {
        let dir = try TempDirectory()
        defer { dir.cleanup() }
        let pattern = (0..<10_000_000).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ $0 >> 13) }
        try callBuiltin("files.write", [.str("\(dir.path)/big"), .bytes(pattern)])
        let out = try callBuiltin("subprocess.check_output", [["cat", .str("\(dir.path)/big")]])
        #expect(out.bytesValue?.count == pattern.count)
        #expect(out == .bytes(pattern))
        let head = try callBuiltin("subprocess.check_output", [["head", "-c", "10000000", "/dev/zero"]])
        #expect(head.bytesValue?.count == 10_000_000)
    }

    @Test func inputIsFedWhileOutputsDrain() throws {
        let input = (0..<5_000_000).map { UInt8(truncatingIfNeeded: $0 % 251) }
        #expect(try callBuiltin("subprocess.check_output", [["cat"]], ["input": .bytes(input)]) == .bytes(input))
        // A program filling stderr before reading stdin would deadlock a sequential reader.
        let result = try #require(try callBuiltin(
            "subprocess.run", [["sh", "-c", "head -c 3000000 /dev/zero >&2; wc -c"]],
            ["input": .bytes(input), "capture_output": true]).dictValue)
        #expect(result["stdout"] == .bytes(Array("5000000\n".utf8)))
        #expect(result["stderr"]?.bytesValue?.count == 3_000_000)
        #expect(result["returncode"] == 0)
        // A program that never reads its stdin: the input is dropped (EPIPE), no hang.
        #expect(try callBuiltin("subprocess.check_output", [["true"]], ["input": .bytes(input)]) == .bytes([]))
    }

    @Test func callAndRunResults() throws {
        #expect(try callBuiltin("subprocess.call", [["sh", "-c", "exit 4"]]) == 4)
        #expect(try callBuiltin("subprocess.call", [["sh", "-c", "kill -9 $$"]]) == -9)
        let run = try #require(try callBuiltin("subprocess.run", [["sh", "-c", "echo o; exit 2"]], ["stdout": -1]).dictValue)
        #expect(run["args"] == ["sh", "-c", "echo o; exit 2"])
        #expect(run["returncode"] == 2)
        #expect(run["stdout"] == .bytes(Array("o\n".utf8)))
        #expect(run["stderr"] == Value.none)
        #expect(try raisedText("subprocess.run", ["exit 3"], ["shell": true, "check": true]) == "subprocess.CalledProcessError: Command 'exit 3' returned non-zero exit status 3.")
        #expect(try raisedText("subprocess.run", [["true"]], ["capture_output": true, "stdout": -1]) == "builtins.ValueError: stdout and stderr arguments may not be used with capture_output.")
    }

    @Test func timeoutKillsTheProgram() throws {
        let start = monotonicSeconds()
        #expect(try raisedText("subprocess.run", [["sleep", "5"]], ["timeout": 0.3]) == "subprocess.TimeoutExpired: Command '['sleep', '5']' timed out after 0.3 seconds")
        #expect(monotonicSeconds() - start < 2)
        // A program that closes its output but keeps running is still bounded.
        #expect(try raisedText("subprocess.check_output", [["sh", "-c", "exec >/dev/null; sleep 5"]], ["timeout": 1]) == "subprocess.TimeoutExpired: Command '['sh', '-c', 'exec >/dev/null; sleep 5']' timed out after 1 seconds")
        #expect(monotonicSeconds() - start < 4)
    }

    // MARK: time, system, files, mitogen

    @Test func timeFunctions() throws {
        let before = monotonicSeconds()
        try callBuiltin("time.sleep", [0.05])
        let slept = monotonicSeconds() - before
        #expect(slept >= 0.05 && slept < 1)
        let now = try callBuiltin("time.time")
        guard case .float(let t) = now else { Issue.record("time.time returned \(now)"); return }
        #expect(abs(t - Double(time(nil))) < 2)
        guard case .float(let m1) = try callBuiltin("time.monotonic"), case .float(let m2) = try callBuiltin("time.monotonic") else {
            Issue.record("time.monotonic is not a float"); return
        }
        #expect(m2 >= m1)
    }

    @Test func hostPlatformAndUsers() throws {
        let uname = try runCapturing(["uname", "-snrvm"]).output
        let fields = try #require(try callBuiltin("platform.uname").sequenceValue).compactMap(\.stringValue)
        #expect(fields.joined(separator: " ") + "\n" == uname)
        #expect(try callBuiltin("socket.gethostname") == .str(fields[1]))
        #expect(try callBuiltin("platform.system") == "Linux")
        #expect(try callBuiltin("platform.machine") == .str(try runCapturing(["uname", "-m"]).output.trimmingSuffix("\n")))
        let root = try callBuiltin("pwd.getpwuid", [0])
        #expect(root.sequenceValue?.prefix(4) == ["root", "x", 0, 0])
        #expect(root.sequenceValue?.count == 7)
    }

    @Test func diskUsageMatchesDf() throws {
        let usage = try #require(try callBuiltin("shutil.disk_usage", ["/"]).sequenceValue)
        let df = try runCapturing(["df", "-B1", "--output=size,avail", "/"]).output
        let numbers = df.split(separator: "\n")[1].split(separator: " ").compactMap { Int($0) }
        #expect(usage.count == 3)
        #expect(usage[0] == .int(numbers[0]))
        let free = try #require(usage[2].intValue)
        #expect(abs(free - numbers[1]) < 64 << 20)  // other writers may move it a little
    }

    @Test func filesWriteReadAppend() throws {
        let dir = try TempDirectory()
        defer { dir.cleanup() }
        let path = "\(dir.path)/f"
        #expect(try callBuiltin("files.write", [.str(path), .bytes([0, 1, 2])], ["mode": 0o600]) == 3)
        #expect(try callBuiltin("files.read", [.str(path)]) == .bytes([0, 1, 2]))
        #expect(try callBuiltin("os.stat", [.str(path)]).dictValue?["st_mode"] == .int(0o100600))
        #expect(try callBuiltin("files.write", [.str(path), "héllo"]) == 6)
        #expect(try callBuiltin("files.append", [.str(path), "!"]) == 1)
        #expect(try callBuiltin("files.read", [.str(path)]) == .bytes(Array("héllo!".utf8)))
        #expect(try callBuiltin("os.listdir", [.str(dir.path)]) == ["f"])  // no temp file left behind

        let big = "\(dir.path)/big"
        let fd = try FileDescriptor.open(big, flags: O_WRONLY | O_CREAT)
        #expect(ftruncate(fd.rawValue, off_t(64 << 20) + 1) == 0)
        fd.close()
        #expect(try raisedText("files.read", [.str(big)]) == "builtins.ValueError: files.read: '\(big)' is 67108865 bytes, over the 64 MiB limit of files.read; stream it with files.get")
    }

    @Test func mitogenHelpers() throws {
        #expect(try callBuiltin("mitogen.echo", [["a": 1]]) == ["a": 1])
        #expect(try callBuiltin("mitogen.echo", [1, "two"]) == .tuple([1, "two"]))
        let functions = try #require(try callBuiltin("mitogen.functions").sequenceValue)
        let getpid = functions.first { $0.dictValue?["name"] == "os.getpid" }
        #expect(getpid?.dictValue?["signature"] == "() -> int")
        #expect(functions.count >= 40)
        #expect(try raisedText("mitogen.raise", ["ValueError", "boom"]) == "builtins.ValueError: boom")
        #expect(try raisedText("mitogen.raise", ["mitogen.core.StreamError", "gone"]) == "mitogen.core.StreamError: gone")
    }

    // MARK: CPython as the oracle for error texts

    /// Each case: our call, and the Python expression that should fail the same way.
    static let errorCases: [(function: String, args: [Value], kwargs: PyDict, python: String)] = [
        ("os.listdir", ["/nope"], [:], "os.listdir('/nope')"),
        ("os.listdir", ["/etc/passwd"], [:], "os.listdir('/etc/passwd')"),
        ("os.stat", ["/nope"], [:], "os.stat('/nope')"),
        ("os.lstat", ["/no'pe"], [:], "os.lstat(\"/no'pe\")"),
        ("os.remove", ["/tmp"], [:], "os.remove('/tmp')"),
        ("os.unlink", ["/nope"], [:], "os.unlink('/nope')"),
        ("os.rmdir", ["/nope"], [:], "os.rmdir('/nope')"),
        ("os.mkdir", ["/tmp"], [:], "os.mkdir('/tmp')"),
        ("os.mkdir", ["/nope/a"], [:], "os.mkdir('/nope/a')"),
        ("os.makedirs", ["/tmp"], [:], "os.makedirs('/tmp')"),
        ("os.makedirs", ["/etc/passwd/x"], ["exist_ok": true], "os.makedirs('/etc/passwd/x', exist_ok=True)"),
        ("os.rename", ["/nope/a", "/nope/b"], [:], "os.rename('/nope/a', '/nope/b')"),
        ("os.chdir", ["/etc/passwd"], [:], "os.chdir('/etc/passwd')"),
        ("os.chmod", ["/nope"], ["mode": 0o644], "os.chmod('/nope', mode=0o644)"),
        ("os.readlink", ["/etc/passwd"], [:], "os.readlink('/etc/passwd')"),
        ("os.kill", [0x3fff_fff0, 0], [:], "os.kill(0x3ffffff0, 0)"),
        ("files.read", ["/tmp"], [:], "open('/tmp', 'rb').read()"),
        ("files.read", ["/nope"], [:], "open('/nope', 'rb').read()"),
        ("files.append", ["/nope/x", "a"], [:], "open('/nope/x', 'ab')"),
        ("subprocess.check_output", [["false"]], [:], "subprocess.check_output(['false'])"),
        ("subprocess.check_output", ["exit 3"], ["shell": true], "subprocess.check_output('exit 3', shell=True)"),
        ("subprocess.check_output", [["sh", "-c", "kill -TERM $$"]], [:], "subprocess.check_output(['sh', '-c', 'kill -TERM $$'])"),
        ("subprocess.check_output", [["nope-xyz"]], [:], "subprocess.check_output(['nope-xyz'])"),
        ("subprocess.check_output", [["/nope/x"]], [:], "subprocess.check_output(['/nope/x'])"),
        ("subprocess.check_output", [["/etc/passwd"]], [:], "subprocess.check_output(['/etc/passwd'])"),
        ("subprocess.check_output", [["ls"]], ["cwd": "/nope"], "subprocess.check_output(['ls'], cwd='/nope')"),
        ("subprocess.call", [["nope-xyz"]], [:], "subprocess.call(['nope-xyz'])"),
        ("pwd.getpwuid", [12345], [:], "pwd.getpwuid(12345)"),
        ("time.sleep", [-1], [:], "time.sleep(-1)"),
        ("shutil.disk_usage", ["/nope"], [:], "shutil.disk_usage('/nope')"),
    ]

    @Test(.enabled(if: python3Available, "needs python3 as the oracle"))
    func errorTextsMatchCPython() throws {
        var script = "import os, subprocess, pwd, time, shutil\n"
        for c in Self.errorCases {
            script += "try:\n    \(c.python)\n    print('no exception')\n"
            script += "except Exception as e:\n    print(type(e).__module__ + '.' + type(e).__name__ + ': ' + str(e))\n"
        }
        let python = try runCapturing(["python3", "-c", script])
        #expect(python.status == .exited(0))
        let expected = python.output.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        try #require(expected.count == Self.errorCases.count + 1, "python printed: \(python.output)")
        for (c, want) in zip(Self.errorCases, expected) {
            let got = try raisedText(c.function, c.args, c.kwargs) ?? "no exception"
            #expect(got == want, "\(c.python)")
        }
    }
}

/// The process umask, read from /proc without changing it (umask(2) would
/// race with other tests creating files).
private func currentUmask() throws -> mode_t {
    let status = String(decoding: try BuiltinFiles.readWhole("/proc/self/status"), as: UTF8.self)
    let line = try #require(status.split(separator: "\n").first { $0.hasPrefix("Umask:") })
    return try #require(mode_t(line.dropFirst(6).trimmingPrefix(while: { $0 == "\t" || $0 == " " }), radix: 8))
}

extension String {
    fileprivate func trimmingSuffix(_ suffix: String) -> String {
        hasSuffix(suffix) ? String(dropLast(suffix.count)) : self
    }
}
