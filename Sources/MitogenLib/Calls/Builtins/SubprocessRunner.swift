import CMitogenSys
import Glibc
import MitogenCore
import MitogenSys
import MitogenWire

/// Runs one program for the `subprocess` builtins: spawns it with the
/// requested stdio, feeds `input`, drains stdout and stderr concurrently
/// with `poll(2)` (so neither a big output nor a big input can deadlock),
/// enforces a timeout, and reaps it.
///
/// The program leads a new session (`setsid`), so it and everything it
/// starts (a shell pipeline, say) share one process group, and a timeout or
/// error ends the whole group, not just the program: see `terminateGroup`.
/// A descendant that leaves the group (`setsid`, a daemon) is out of reach.
/// The new session also means the program has no controlling terminal.
struct SubprocessRunner {
    /// Where one output stream of the program goes.
    enum Output: Equatable {
        /// The context's own descriptor (1 or 2): Python's `None`.
        case inherit
        /// A pipe read into memory: `PIPE`.
        case capture
        /// `/dev/null`: `DEVNULL`.
        case discard
        /// stderr only: wherever stdout goes (`STDOUT`).
        case toStdout

        /// Python's `subprocess` constants: None, PIPE (-1), STDOUT (-2), DEVNULL (-3).
        static func from(_ v: Value?, function: String, name: String) throws(PyException) -> Output {
            switch v {
            case nil, .none?: return .inherit
            case .int(-1)?: return .capture
            case .int(-2)? where name == "stderr": return .toStdout
            case .int(-3)?: return .discard
            case let other?:
                throw PythonErrors.valueError("\(function)() argument '\(name)': only None, PIPE (-1), \(name == "stderr" ? "STDOUT (-2), " : "")DEVNULL (-3) are supported, got \(other.repr(.python))")
            }
        }
    }

    /// What the finished program left.
    struct Outcome {
        var status: ProcessStatus
        var stdout: [UInt8]?
        var stderr: [UInt8]?
    }

    var argv: [String]
    var environment: [String]?
    var workingDirectory: String?
    /// Bytes fed to stdin then closed; nil gives the program `/dev/null`
    /// (a context's own stdin is never handed out).
    var input: [UInt8]?
    var stdout: Output = .capture
    var stderr: Output = .inherit
    /// Seconds before the program's process group is ended (`terminateGroup`).
    var timeout: Double?
    /// The call running the program: a cancel ends the program's process
    /// group as a timeout does, and `mitogen.inflight` shows the pid.
    var call: CallContext?

    /// Seconds the program has to exit after SIGTERM to its process group
    /// before the group gets SIGKILL.
    static let terminationGrace = 0.5

    /// Raised as `subprocess.TimeoutExpired` by the caller, with the output so far.
    struct TimedOut: Error {}

    /// The call was cancelled; the program's group was ended.
    struct Cancelled: Error {}

    /// Starts the program and waits for it.
    /// - Throws: `SystemError` from spawning (the caller maps it to Python's
    ///   error naming the program) or from I/O; `TimedOut` when `timeout`
    ///   passed. After a spawn, any error ends the program's process group
    ///   (SIGTERM, then SIGKILL) and reaps the program before it is thrown.
    func run() throws -> Outcome {
        ignoreSIGPIPE()
        var parentEnds: [FileDescriptor] = []
        var childEnds: [FileDescriptor] = []
        defer { for fd in parentEnds + childEnds { fd.close() } }

        func devNull() throws -> FileDescriptor {
            let fd = try FileDescriptor.open("/dev/null", flags: O_RDWR)
            childEnds.append(fd)
            return fd
        }

        let stdinWriter: FileDescriptor?
        let childStdin: FileDescriptor
        if input != nil {
            let p = try FileDescriptor.pipe()
            childEnds.append(p.read); parentEnds.append(p.write)
            stdinWriter = p.write
            childStdin = p.read
        } else {
            stdinWriter = nil
            childStdin = try devNull()
        }

        let outReader: FileDescriptor?
        let childStdout: FileDescriptor
        switch stdout {
        case .inherit, .toStdout: outReader = nil; childStdout = .standardOutput
        case .discard: outReader = nil; childStdout = try devNull()
        case .capture:
            let p = try FileDescriptor.pipe()
            childEnds.append(p.write); parentEnds.append(p.read)
            outReader = p.read
            childStdout = p.write
        }

        let errReader: FileDescriptor?
        let childStderr: FileDescriptor
        switch stderr {
        case .inherit: errReader = nil; childStderr = .standardError
        case .toStdout: errReader = nil; childStderr = childStdout
        case .discard: errReader = nil; childStderr = try devNull()
        case .capture:
            let p = try FileDescriptor.pipe()
            childEnds.append(p.write); parentEnds.append(p.read)
            errReader = p.read
            childStderr = p.write
        }

        let pid = try spawnProcess(SpawnRequest(
            executable: argv[0], argv: argv, environment: environment,
            stdin: childStdin, stdout: childStdout, stderr: childStderr, newSession: true,
            workingDirectory: workingDirectory))
        for fd in childEnds { fd.close() }
        childEnds = []
        // For mitogen.inflight: the program, and the pipe its output is read from.
        let waits: [CallContext.Waiting] =
            [.process(pid: pid)] + (outReader.map { [.descriptor(fd: $0.rawValue, reading: true)] } ?? [])
        for w in waits { call?.noteWaiting(w) }
        defer { for w in waits { call?.doneWaiting(w) } }

        let deadline = timeout.map { monotonicSeconds() + $0 }
        var out: [UInt8] = [], err: [UInt8] = []
        do {
            try pump(stdin: stdinWriter, stdout: outReader, stderr: errReader, out: &out, err: &err, deadline: deadline) { done in
                parentEnds.removeAll { $0 == done }
                done.close()
            }
            let status = try reap(pid, deadline: deadline)
            return Outcome(status: status, stdout: stdout == .capture ? out : nil, stderr: stderr == .capture ? err : nil)
        } catch {
            // Timed out, cancelled, or our side of the pipes failed: never leave the
            // program, what it started, or a zombie behind.
            Self.terminateGroup(pid)
            throw error
        }
    }

    /// Ends the process group led by `pid` (our unreaped child) and reaps `pid`.
    ///
    /// Sends SIGTERM to the group, waits up to ``terminationGrace`` seconds
    /// for `pid` to exit (sleeping in `poll(2)` on its pidfd; without pidfds,
    /// Linux before 5.3, for the whole grace), then sends SIGKILL to the group,
    /// so members still running then, or ignoring SIGTERM, are killed, and
    /// reaps `pid`. `pid` is reaped only after the last signal: until then it
    /// exists (at least as a zombie) and holds the group id, so no signal can
    /// reach an unrelated group that reused the number.
    static func terminateGroup(_ pid: pid_t) {
        sendSignal(SIGTERM, to: -pid)
        waitForExit(of: pid, timeout: terminationGrace)
        sendSignal(SIGKILL, to: -pid)
        _ = try? waitProcess(pid, block: true)
    }

    /// Sleeps until our child `pid` exits (without reaping it) or `timeout` seconds pass.
    private static func waitForExit(of pid: pid_t, timeout: Double) {
        if !sleepUntilOneExits([pid], timeout: timeout) {
            // No pidfds (Linux before 5.3): wait out the grace.
            usleep(useconds_t(min(max(timeout, 0), 60) * 1_000_000))
        }
    }

    /// Moves bytes until both outputs reach end of stream and the input is
    /// written (or refused by the program: EPIPE drops the rest, as Python does).
    private func pump(
        stdin: FileDescriptor?, stdout: FileDescriptor?, stderr: FileDescriptor?,
        out: inout [UInt8], err: inout [UInt8], deadline: Double?, finished: (FileDescriptor) -> Void
    ) throws {
        var writer = stdin, outReader = stdout, errReader = stderr
        var offset = 0
        let input = self.input ?? []
        if let w = writer {
            if input.isEmpty { finished(w); writer = nil } else { try w.setNonBlocking(true) }
        }
        var chunk = [UInt8](repeating: 0, count: FileDescriptor.pipeChunkSize)
        while writer != nil || outReader != nil || errReader != nil {
            var entries: [pollfd] = []
            if let call {
                if call.isCancelled { throw Cancelled() }
                entries.append(pollfd(fd: call.cancellationFD, events: Int16(POLLIN), revents: 0))
            }
            if let w = writer { entries.append(pollfd(fd: w.rawValue, events: Int16(POLLOUT), revents: 0)) }
            for r in [outReader, errReader].compactMap({ $0 }) {
                entries.append(pollfd(fd: r.rawValue, events: Int16(POLLIN), revents: 0))
            }
            var wait: Int32 = -1
            if let deadline {
                let left = deadline - monotonicSeconds()
                if left <= 0 { throw TimedOut() }
                wait = Int32(min(left * 1000 + 1, 60_000))
            }
            switch valueOrErrno(retryOnInterrupt: false, { poll(&entries, nfds_t(entries.count), wait) }) {
            case .success: break
            case .failure(let e) where e == .interrupted: continue
            case .failure(let e): throw SystemError("poll subprocess pipes", e)
            }
            for entry in entries where entry.revents != 0 {
                if entry.fd == call?.cancellationFD { throw Cancelled() }
                let fd = FileDescriptor(rawValue: entry.fd)
                if fd == writer {
                    let result = try input.withUnsafeBytes { try fd.write(UnsafeRawBufferPointer(rebasing: $0[offset...])) }
                    switch result {
                    case .bytes(let n): offset += n
                    case .wouldBlock: break
                    case .eof: offset = input.count
                    }
                    if offset == input.count { finished(fd); writer = nil }
                } else {
                    switch try chunk.withUnsafeMutableBytes({ try fd.read(into: $0) }) {
                    case .bytes(let n):
                        if fd == outReader { out += chunk[0..<n] } else { err += chunk[0..<n] }
                    case .wouldBlock: break
                    case .eof:
                        if fd == outReader { outReader = nil } else { errReader = nil }
                        finished(fd)
                    }
                }
            }
        }
    }

    /// Waits for `pid`; with a deadline or a cancellable call, polls every few milliseconds.
    private func reap(_ pid: pid_t, deadline: Double?) throws -> ProcessStatus {
        if deadline == nil && call == nil { return try waitProcess(pid, block: true)! }
        var pause = timespec(tv_sec: 0, tv_nsec: 1_000_000)
        while true {
            if let status = try waitProcess(pid, block: false) { return status }
            if let deadline, monotonicSeconds() >= deadline { throw TimedOut() }
            if call?.isCancelled == true { throw Cancelled() }
            nanosleep(&pause, nil)
            pause.tv_nsec = min(pause.tv_nsec * 2, 20_000_000)
        }
    }
}

/// `CLOCK_MONOTONIC` in seconds.
func monotonicSeconds() -> Double {
    var now = timespec()
    clock_gettime(CLOCK_MONOTONIC, &now)
    return Double(now.tv_sec) + Double(now.tv_nsec) * 1e-9
}

/// Sets SIGPIPE to ignored, once, as CPython does at start: a program that
/// closes its stdin early must give EPIPE, not kill the context. Children
/// get the default back (`mitogen_spawn` resets every disposition).
private func ignoreSIGPIPE() {
    _ = sigpipeIgnored
}

private let sigpipeIgnored: Bool = {
    signal(SIGPIPE, SIG_IGN)
    return true
}()
