import CMitogenSys
import Glibc
import Synchronization
import MitogenCalls
public import MitogenCore
import MitogenSys
import MitogenWire

/// Runs a local program with an `ssh` replacement on its `PATH` whose
/// remote commands run in a context instead (the seed's `mitogen.fakessh`).
///
/// `FakeSSH.run(dest: ctx, router: r, args: ["rsync", "-a", "-e", "ssh", "src/", "x:/dst/"])`
/// runs rsync here; when it starts `ssh x rsync --server ...`, the fake ssh
/// (`mitogen-child --mitogen-fakessh`) connects back to this process over a
/// private unix socket, and the command runs in `ctx` with its stdin, stdout,
/// stderr and exit status tunnelled through the context's stream. The host
/// name and ssh options are ignored: every invocation goes to `dest`.
///
/// Socket protocol (local only): the relay sends its argv (`u32` count, then
/// `u32` length + bytes each, little-endian), then its stdin bytes and a
/// half-close; this side answers frames `[kind u8][length u32][bytes]`,
/// kind 1 stdout, 2 stderr, 3 exit status (`i32`).
public enum FakeSSH {
    /// Runs `args` to completion and returns its exit status (128 + signal
    /// number if a signal killed it).
    ///
    /// The program shares this process's standard output and error, and
    /// reads `stdin`: by default this process's standard input, as Mitogen's
    /// `subprocess.call` does, so `FakeSSH.run(... ["sh", "-c", "ssh h 'cat > f'"])`
    /// copies what the caller pipes in to `f` in `dest`.
    /// - Parameters:
    ///   - deadline: seconds after which the program is killed (SIGKILL).
    ///   - stdin: the descriptor the program reads as its standard input;
    ///     nil gives it `/dev/null` (for a caller whose own input must not be
    ///     consumed, e.g. an interactive console).
    /// - Throws: `StreamError` if the program cannot start.
    public static func run(
        dest: Context, router: Router, args: [String], deadline: Double? = nil, stdin: Int32? = 0
    ) throws -> Int32 {
        guard !args.isEmpty else { throw StreamError("fakessh.run: no program given") }
        let dir = makeTemporaryDirectory(prefix: "mitogen-fakessh")
        defer { _ = removeTree(dir) }
        let socketPath = dir + "/sock"
        let listener = try UnixListener(path: socketPath)
        defer { listener.close() }
        let relay = Mitogen.isMaster ? try ChildBinary.locate() : ownExecutablePath() ?? "/proc/self/exe"
        let script = "#!/bin/sh\nexec '\(relay)' --mitogen-fakessh '\(socketPath)' \"$@\"\n"
        try writeExecutable(dir + "/ssh", script)

        var env = currentEnvironment().filter { !$0.hasPrefix("PATH=") }
        let path = environmentValue("PATH") ?? "/usr/bin:/bin"
        env.append("PATH=\(dir):\(path)")
        let devnull = try FileDescriptor.open("/dev/null", flags: O_RDONLY)
        defer { devnull.close() }
        let input = stdin.map { FileDescriptor(rawValue: $0) } ?? devnull
        let pid: pid_t
        do {
            pid = try spawnProcess(
                SpawnRequest(
                    executable: args[0], argv: args, environment: env, stdin: input,
                    stdout: FileDescriptor(rawValue: 1), stderr: FileDescriptor(rawValue: 2)))
        } catch {
            throw StreamError("fakessh.run: cannot start \(args[0]): \(error)")
        }
        let stop = Atomic<Bool>(false)
        let acceptor = startJoinableThread(name: "fakessh.accept") {
            while !stop.load(ordering: .acquiring) {
                guard let conn = listener.accept(timeoutMS: 100) else { continue }
                startThread(name: "fakessh.conn") { serve(conn, dest: dest, router: router) }
            }
        }
        let end = deadline.map { monotonicNow() + $0 }
        var status: ProcessStatus?
        while status == nil {
            status = try? waitProcess(pid, block: false)
            if status == nil {
                if let end, monotonicNow() > end {
                    _ = sendSignal(SIGKILL, to: pid)
                    status = try? waitProcess(pid, block: true)
                    break
                }
                usleep(2_000)
            }
        }
        stop.store(true, ordering: .releasing)
        pthread_join(acceptor, nil)
        switch status {
        case .exited(let code)?: return code
        case .signaled(let sig)?: return 128 + sig
        case nil: return 255
        }
    }

    /// Splits an ssh command line into the remote command (options and the
    /// host dropped), joined by spaces as ssh does.
    static func remoteCommand(_ argv: [String]) -> String {
        let withValue: Set<Character> = ["B", "b", "c", "D", "E", "e", "F", "I", "i", "J", "L", "l", "m", "O", "o", "p", "Q", "R", "S", "W", "w"]
        var i = 0
        scan: while i < argv.count, argv[i].hasPrefix("-"), argv[i] != "--" {
            // In "-vp22" the value starts after p; in "-vp 22" it is the next word.
            let opt = Array(argv[i].dropFirst())
            for (k, c) in opt.enumerated() where withValue.contains(c) {
                i += k == opt.count - 1 ? 2 : 1
                continue scan
            }
            i += 1
        }
        if i < argv.count, argv[i] == "--" { i += 1 }
        i += 1  // the host
        return argv.dropFirst(i).joined(separator: " ")
    }

    /// One ssh invocation: its command runs in `dest`, bytes flow both ways.
    private static func serve(_ conn: Int32, dest: Context, router: Router) {
        defer { Glibc.close(conn) }
        guard let argv = readArgv(conn) else { return }
        let command = remoteCommand(argv)
        do {
            let out = try Receiver(router: router, respondent: dest)
            defer { out.close() }
            let call = try dest.callAsyncValue(
                "fakessh.exec", args: [.str(command), .sender(contextID: router.contextID, handle: out.handle)])
            defer { call.close() }
            let first = try out.get(timeout: 30).unpickle()
            guard case .sender(let cid, let handle) = first else {
                throw StreamError("fakessh: \(dest) did not answer with a Sender for stdin but \(first.displayText)")
            }
            // Only the callee may receive the stdin this process pumps with
            // its own authority: never a sibling's handle (its SHUTDOWN, say).
            guard cid == dest.contextID else {
                throw StreamError(
                    "fakessh: refused to send stdin to Sender(\(cid), \(handle)): only a Sender of the callee, context \(dest.contextID), may receive it")
            }
            let stdin = Sender(context: dest, handle: handle)
            let pump = startJoinableThread(name: "fakessh.stdin") {
                while let chunk = try? FileDescriptor(rawValue: conn).read(upTo: FileDescriptor.pipeChunkSize), !chunk.isEmpty {
                    stdin.send(.blob(chunk))
                }
                stdin.send(.none)
            }
            while true {
                let value = try out.get().unpickle()
                guard case .tuple(let t) = value, t.count == 2, let bytes = t[1].bytesValue,
                    let kind = t[0].intValue.flatMap({ UInt8(exactly: $0) }), kind == 1 || kind == 2
                else { break }
                writeFrame(conn, kind: kind, bytes)
            }
            let code = try call.get().unpickle().intValue ?? 255
            var status = Int32(truncatingIfNeeded: code).littleEndian
            writeFrame(conn, kind: 3, withUnsafeBytes(of: &status) { Array($0) })
            shutdown(conn, Int32(SHUT_RDWR))
            pthread_join(pump, nil)
        } catch {
            writeFrame(conn, kind: 2, Array("fakessh: \(error)\n".utf8))
            var status = Int32(255).littleEndian
            writeFrame(conn, kind: 3, withUnsafeBytes(of: &status) { Array($0) })
        }
    }

    private static func readArgv(_ fd: Int32) -> [String]? {
        guard let count = readU32(fd), count < 10_000 else { return nil }
        var argv: [String] = []
        for _ in 0..<count {
            guard let len = readU32(fd), len < 1 << 20, let bytes = readExactly(fd, Int(len)) else { return nil }
            argv.append(String(decoding: bytes, as: UTF8.self))
        }
        return argv
    }

    package static func readU32(_ fd: Int32) -> UInt32? {
        guard let b = readExactly(fd, 4) else { return nil }
        return UInt32(b[0]) | UInt32(b[1]) << 8 | UInt32(b[2]) << 16 | UInt32(b[3]) << 24
    }

    package static func readExactly(_ fd: Int32, _ n: Int) -> [UInt8]? {
        (try? FileDescriptor(rawValue: fd).read(exactly: n)) ?? nil
    }

    package static func writeAll(_ fd: Int32, _ bytes: [UInt8]) {
        try? FileDescriptor(rawValue: fd).writeAll(bytes)
    }

    static func writeFrame(_ fd: Int32, kind: UInt8, _ bytes: [UInt8]) {
        var frame: [UInt8] = [kind]
        let len = UInt32(bytes.count)
        frame += [UInt8(len & 0xff), UInt8(len >> 8 & 0xff), UInt8(len >> 16 & 0xff), UInt8(len >> 24)]
        writeAll(fd, frame + bytes)
    }

    private static func writeExecutable(_ path: String, _ text: String) throws {
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o700)
        guard fd >= 0 else { throw StreamError("fakessh.run: cannot write \(path): \(SystemError("open", errno: errno))") }
        writeAll(fd, Array(text.utf8))
        Glibc.close(fd)
    }

    private static func removeTree(_ dir: String) -> Bool {
        unlink(dir + "/ssh")
        unlink(dir + "/sock")
        return rmdir(dir) == 0
    }
}

/// A listening unix socket at a path (removed on close).
final class UnixListener: Sendable {
    let fd: Int32
    let path: String

    init(path: String) throws {
        self.path = path
        fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw StreamError("cannot create a unix socket: \(SystemError("socket", errno: errno))") }
        var addr = sockaddr_un()
        addr.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        guard bytes.count < MemoryLayout.size(ofValue: addr.sun_path) else {
            Glibc.close(fd)
            throw StreamError("unix socket path too long: \(path)")
        }
        withUnsafeMutableBytes(of: &addr.sun_path) { raw in
            for (i, b) in bytes.enumerated() { raw[i] = b }
        }
        let ok = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        guard ok == 0, listen(fd, 16) == 0 else {
            let e = errno
            Glibc.close(fd)
            throw StreamError("cannot listen on \(path): \(SystemError("bind", errno: e))")
        }
    }

    /// A new connection, or nil after `timeoutMS` with none.
    func accept(timeoutMS: Int32) -> Int32? {
        var pfd = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        guard poll(&pfd, 1, timeoutMS) > 0 else { return nil }
        let c = Glibc.accept(fd, nil, nil)
        guard c >= 0 else { return nil }
        _ = fcntl(c, F_SETFD, FD_CLOEXEC)
        return c
    }

    func close() {
        Glibc.close(fd)
        unlink(path)
    }
}
