import Glibc
import MitogenCore
import MitogenSys
import MitogenWire

/// A started connection tool (or local child) and the descriptors the
/// master talks to it through, wired the way its method's `MethodStdio` says.
struct Transport {
    let pid: pid_t
    /// The message channel (stdin/stdout of the tool): a socket, or the PTY
    /// master for `fullPTY`.
    let channel: FileDescriptor
    /// Where the tool prints what is not protocol: the stderr pipe (`pipes`),
    /// the PTY master (`hybridPTY`, where it also prompts), or nil when that
    /// output shares `channel` (`fullPTY`, `mergedStderr`).
    let diagnostics: FileDescriptor?
    /// Where answers to prompts are written: the PTY master (`hybridPTY`,
    /// `fullPTY`); nil when the tool cannot be answered (no terminal).
    let replies: FileDescriptor?

    /// Spawns `argv` wired for `stdio` in a new session. PTYs are set raw
    /// (`fullPTY`, frames cross them) or without echo (`hybridPTY`) before
    /// the tool starts.
    /// - Throws: `StreamError("Child start failed: ... Command was: ...")`.
    /// `target`: another process's root, namespaces and user to enter first
    /// (the setns method; `.pipes` only). Its descriptors are closed here.
    static func spawn(
        argv: [String], stdio: MethodStdio, environment: [String]?, target: TargetEntry? = nil
    ) throws(StreamError) -> Transport {
        defer {
            target?.root.close()
            for fd in target?.namespaces ?? [] { fd.close() }
        }
        var opened: [FileDescriptor] = []
        do {
            switch stdio {
            case .pipes, .mergedStderr:
                let (mine, theirs) = try FileDescriptor.socketPair()
                opened += [mine, theirs]
                var errRead: FileDescriptor?
                var errWrite = theirs
                if stdio == .pipes {
                    let pipe = try FileDescriptor.pipe()
                    opened += [pipe.read, pipe.write]
                    (errRead, errWrite) = (pipe.read, pipe.write)
                }
                let pid = try spawnProcess(SpawnRequest(
                    executable: argv[0], argv: argv, environment: environment, stdin: theirs, stdout: theirs,
                    stderr: errWrite, newSession: true, target: target))
                theirs.close()
                if stdio == .pipes { errWrite.close() }
                return Transport(pid: pid, channel: mine, diagnostics: errRead, replies: nil)
            case .hybridPTY:
                let (mine, theirs) = try FileDescriptor.socketPair()
                opened += [mine, theirs]
                let pty = try PseudoTerminal.open()
                opened += [pty.master, pty.slave]
                try pty.disableEcho()
                let pid = try spawnProcess(SpawnRequest(
                    executable: argv[0], argv: argv, environment: environment, stdin: theirs, stdout: theirs,
                    stderr: pty.slave, newSession: true, controllingTerminal: pty.slave))
                theirs.close()
                pty.slave.close()
                return Transport(pid: pid, channel: mine, diagnostics: pty.master, replies: pty.master)
            case .fullPTY:
                let pty = try PseudoTerminal.open()
                opened += [pty.master, pty.slave]
                try pty.setRaw()
                let pid = try spawnProcess(SpawnRequest(
                    executable: argv[0], argv: argv, environment: environment, stdin: pty.slave, stdout: pty.slave,
                    stderr: pty.slave, newSession: true, controllingTerminal: pty.slave))
                pty.slave.close()
                return Transport(pid: pid, channel: pty.master, diagnostics: nil, replies: pty.master)
            }
        } catch {
            for fd in opened { fd.close() }
            throw StreamError(
                "Child start failed: \(error). Command was: \(argv.map(Value.strRepr).joined(separator: " "))")
        }
    }
}
