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

func readOnce(_ fd: FileDescriptor, max: Int = 4096) throws -> IOResult {
    var chunk = [UInt8](repeating: 0, count: max)
    return try chunk.withUnsafeMutableBytes { try fd.read(into: $0) }
}

@Suite struct SysTests {
    @Test func errnoAndSystemErrorTexts() {
        #expect(Errno(rawValue: ENOENT).description == "No such file or directory")
        #expect(Errno(rawValue: EACCES).description == "Permission denied")
        let error = SystemError("exec /nope", errno: ENOENT, path: "/nope")
        #expect(error.description == "exec /nope: No such file or directory (errno 2)")
    }

    @Test func pipeMovesBytesThenReportsEOF() throws {
        let (r, w) = try FileDescriptor.pipe()
        defer { r.close() }
        #expect(try r.isCloseOnExec() && w.isCloseOnExec())
        try w.writeAll(Array("hello".utf8))
        w.close()
        #expect(try readOnce(r) == .bytes(5))
        #expect(try readOnce(r) == .eof)
    }

    @Test func emptyNonBlockingPipeWouldBlock() throws {
        let (r, w) = try FileDescriptor.pipe()
        defer { r.close(); w.close() }
        try r.setNonBlocking(true)
        #expect(try readOnce(r) == .wouldBlock)
        try r.setNonBlocking(false)
        #expect(fcntl(r.rawValue, F_GETFL) & O_NONBLOCK == 0)
    }

    @Test func fullNonBlockingPipeWouldBlockAndClosedReaderIsEOF() throws {
        signal(SIGPIPE, SIG_IGN)
        let (r, w) = try FileDescriptor.pipe()
        defer { w.close() }
        try w.setNonBlocking(true)
        let block = [UInt8](repeating: 7, count: 1 << 20)
        var sawWouldBlock = false
        for _ in 0..<4 where !sawWouldBlock {
            let result = try block.withUnsafeBytes { try w.write($0) }
            if result == .wouldBlock { sawWouldBlock = true }
        }
        #expect(sawWouldBlock)
        r.close()
        // A process forked by a concurrent test may hold the read end until it
        // execs (O_CLOEXEC closes it then), so "would block" may come first.
        var last = IOResult.wouldBlock
        for _ in 0..<200 where last == .wouldBlock {
            last = try block.withUnsafeBytes { try w.write($0) }
            if last == .wouldBlock { usleep(5000) }
        }
        #expect(last == .eof)
    }

    @Test func closeOnExecCanBeCleared() throws {
        let (a, b) = try FileDescriptor.socketPair()
        defer { a.close(); b.close() }
        #expect(try a.isCloseOnExec())
        try a.setCloseOnExec(false)
        #expect(try !a.isCloseOnExec())
        try a.writeAll([1, 2, 3])
        #expect(try readOnce(b) == .bytes(3))
    }

    @Test func openMissingFileNamesThePath() {
        #expect {
            _ = try FileDescriptor.open("/nope/x", flags: O_RDONLY)
        } throws: { error in
            let e = error as? SystemError
            return e?.errno == ENOENT && e?.path == "/nope/x"
                && e?.description == "open /nope/x: No such file or directory (errno 2)"
        }
    }

    @Test func doubleCloseTraps() async {
        await #expect(processExitsWith: .failure) {
            let (r, w) = try! FileDescriptor.pipe()
            w.close()
            r.close()
            r.close()
        }
    }

    @Test func ptyCookedTranslatesNewlineRawDoesNot() throws {
        let pty = try PseudoTerminal.open()
        defer { pty.close() }
        #expect(pty.slavePath.hasPrefix("/dev/pts/"))
        try pty.slave.writeAll(Array("a\n".utf8))
        #expect(try readBytes(pty.master, count: 3) == Array("a\r\n".utf8))
        try pty.setRaw()
        try pty.slave.writeAll(Array("b\n".utf8))
        #expect(try readBytes(pty.master, count: 2) == Array("b\n".utf8))
    }

    @Test func ptyEchoesUntilDisabled() throws {
        let pty = try PseudoTerminal.open()
        defer { pty.close() }
        try pty.master.writeAll(Array("x\n".utf8))
        #expect(try readBytes(pty.master, count: 3) == Array("x\r\n".utf8))  // the echo
        #expect(try readBytes(pty.slave, count: 2) == Array("x\n".utf8))
        try pty.disableEcho()
        try pty.master.writeAll(Array("pw\n".utf8))
        #expect(try readBytes(pty.slave, count: 3) == Array("pw\n".utf8))
        try pty.master.setNonBlocking(true)
        #expect(try readOnce(pty.master) == .wouldBlock)
    }

    /// Reads exactly `count` bytes (blocking), or fewer at end of stream.
    private func readBytes(_ fd: FileDescriptor, count: Int) throws -> [UInt8] {
        var result: [UInt8] = []
        while result.count < count {
            guard try fd.waitUntil(writable: false, timeoutMilliseconds: 2000) else { break }
            var chunk = [UInt8](repeating: 0, count: count - result.count)
            guard case .bytes(let n) = try chunk.withUnsafeMutableBytes({ try fd.read(into: $0) }) else { break }
            result += chunk[0..<n]
        }
        return result
    }
}
