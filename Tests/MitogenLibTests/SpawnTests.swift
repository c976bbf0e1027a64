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

@Suite struct SpawnTests {
    @Test func echoOnAPipe() throws {
        let result = try runCapturing(["/bin/sh", "-c", "echo hi"])
        #expect(result.output == "hi\n")
        #expect(result.status == .exited(0))
    }

    @Test func nameIsSearchedInPATH() throws {
        #expect(try runCapturing(["echo", "found"]).output == "found\n")
        #expect(try resolveExecutable("sh", environment: ["PATH=/nope:/bin"]) == "/bin/sh")
    }

    @Test func missingExecutableIsENOENTWithThePath() {
        #expect {
            _ = try runCapturing(["/nope/prog"])
        } throws: { error in
            let e = error as? SystemError
            return e?.errno == ENOENT && e?.path == "/nope/prog"
                && e?.description == "exec /nope/prog: No such file or directory (errno 2)"
        }
        #expect {
            _ = try runCapturing(["no-such-program-xyz"])
        } throws: { error in
            (error as? SystemError)?.description == "exec no-such-program-xyz: No such file or directory (errno 2)"
        }
    }

    @Test func nonExecutableFileIsEACCES() throws {
        #expect {
            _ = try runCapturing(["/etc/passwd"])
        } throws: { error in
            let e = error as? SystemError
            return e?.errno == EACCES && e?.operation == "exec /etc/passwd"
        }
    }

    @Test func missingWorkingDirectoryIsAChdirError() {
        #expect {
            _ = try runCapturing(["/bin/pwd"], workingDirectory: "/nope-dir")
        } throws: { error in
            let e = error as? SystemError
            return e?.errno == ENOENT && e?.operation == "chdir /nope-dir" && e?.path == "/nope-dir"
        }
    }

    @Test func workingDirectoryAndEnvironmentReachTheChild() throws {
        let result = try runCapturing(["/bin/sh", "-c", "pwd; echo \"$FOO\""], environment: ["FOO=bar baz"], workingDirectory: "/usr")
        #expect(result.output == "/usr\nbar baz\n")
    }

    @Test func stdinStdoutStderrAreWiredSeparately() throws {
        let (inR, inW) = try FileDescriptor.pipe()
        let (outR, outW) = try FileDescriptor.pipe()
        let (errR, errW) = try FileDescriptor.pipe()
        let pid = try spawnProcess(SpawnRequest(
            executable: "/bin/sh", argv: ["sh", "-c", "cat; echo oops >&2"], stdin: inR, stdout: outW, stderr: errW))
        inR.close(); outW.close(); errW.close()
        try inW.writeAll(Array("payload".utf8))
        inW.close()
        #expect(try readToEnd(outR) == Array("payload".utf8))
        #expect(try readToEnd(errR) == Array("oops\n".utf8))
        outR.close(); errR.close()
        #expect(try waitProcess(pid, block: true) == .exited(0))
    }

    @Test func onlyStdioIsInheritedEvenWithoutCloseOnExec() throws {
        let (leakR, leakW) = try FileDescriptor.pipe()
        defer { leakR.close(); leakW.close() }
        try leakR.setCloseOnExec(false)
        try leakW.setCloseOnExec(false)
        // ls itself opens the directory as fd 3.
        let result = try runCapturing(["/bin/ls", "/proc/self/fd"])
        #expect(result.output == "0\n1\n2\n3\n")
    }

    @Test func ignoredAndBlockedSignalsAreResetInTheChild() throws {
        let previous = signal(SIGUSR1, SIG_IGN)
        defer { signal(SIGUSR1, previous) }
        #expect(try runCapturing(["/bin/sh", "-c", "kill -USR1 $$; echo survived"]).status == .signaled(SIGUSR1))

        var block = sigset_t(), old = sigset_t()
        sigemptyset(&block)
        sigaddset(&block, SIGUSR2)
        pthread_sigmask(SIG_BLOCK, &block, &old)
        defer { pthread_sigmask(SIG_SETMASK, &old, nil) }
        #expect(try runCapturing(["/bin/sh", "-c", "kill -USR2 $$; echo survived"]).status == .signaled(SIGUSR2))
    }

    @Test func exitCodesAndSignalsAreReported() throws {
        #expect(try runCapturing(["/bin/sh", "-c", "exit 3"]).status == .exited(3))
        #expect(try runCapturing(["/bin/sh", "-c", "kill -9 $$"]).status == .signaled(9))
        #expect(ProcessStatus.signaled(9).returnCode == -9)
    }

    @Test func nonBlockingWaitThenSignal() throws {
        let null = try FileDescriptor.open("/dev/null", flags: O_RDWR)
        let pid = try spawnProcess(SpawnRequest(executable: "/bin/sleep", argv: ["sleep", "30"], stdin: null, stdout: null, stderr: null))
        null.close()
        #expect(try waitProcess(pid, block: false) == nil)
        #expect(sendSignal(SIGTERM, to: pid))
        #expect(try waitProcess(pid, block: true) == .signaled(SIGTERM))
        #expect(throws: SystemError("wait for pid \(pid)", errno: ECHILD)) { try waitProcess(pid, block: true) }
    }

    @Test func sendSignalToNoProcessIsFalse() {
        #expect(!sendSignal(0, to: 0x3fff_fff0))
    }

    @Test func ptySessionLeaderWithControllingTerminal() throws {
        let pty = try PseudoTerminal.open()
        try pty.setRaw()
        let pid = try spawnProcess(SpawnRequest(
            executable: "/bin/sh", argv: ["sh", "-c", "tty; ps -o sid= -p $$"],
            stdin: pty.slave, stdout: pty.slave, stderr: pty.slave,
            newSession: true, controllingTerminal: pty.slave))
        pty.slave.close()
        defer { pty.master.close() }
        let lines = String(decoding: try readToEnd(pty.master), as: UTF8.self).split(separator: "\n").map {
            $0.trimmingPrefix(while: { $0 == " " })
        }
        #expect(try waitProcess(pid, block: true) == .exited(0))
        #expect(lines.count == 2)
        #expect(lines.first.map(String.init) == pty.slavePath)
        #expect(lines.last.map(String.init) == "\(pid)")
    }

    @Test func bigInputThroughNonBlockingWriteAll() throws {
        let (inR, inW) = try FileDescriptor.pipe()
        let (outR, outW) = try FileDescriptor.pipe()
        let pid = try spawnProcess(SpawnRequest(executable: "wc", argv: ["wc", "-c"], stdin: inR, stdout: outW, stderr: outW))
        inR.close(); outW.close()
        try inW.setNonBlocking(true)
        try inW.writeAll([UInt8](repeating: 0x41, count: 1 << 20))
        inW.close()
        #expect(String(decoding: try readToEnd(outR), as: UTF8.self) == "1048576\n")
        outR.close()
        #expect(try waitProcess(pid, block: true) == .exited(0))
    }
}
