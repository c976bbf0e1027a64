import CMitogenSys
import Glibc
import Synchronization
import MitogenCalls
public import MitogenCore
import MitogenSys
import MitogenWire

/// The master's handle on its fork server (see `ForkServerMain`): started on
/// the first `fork()` request, one per master process, shared by its routers.
///
/// The server is this process's child, so its death is seen with
/// `waitpid(WNOHANG)` (which also reaps it) or as end of stream on the control
/// socket; `kill(pid, 0)` cannot tell, since it succeeds on a zombie. A dead
/// or broken server is retired (control socket closed, killed if still there,
/// reaped) and the next `get()` starts a new one.
final class ForkServer: Sendable {
    private let control: FileDescriptor
    let pid: pid_t
    /// Serialises requests on `control`; true once the server is retired.
    private let retired = Lock(false)

    private static let shared = Lock<ForkServer?>(nil)

    /// The pid of the fork server last started, if any (for tests).
    package static var runningPID: pid_t? { shared.withLock { $0?.pid } }

    /// The fork server ended (or broke its protocol) during a request; it has
    /// been retired, and a retry with fresh descriptors starts a new one.
    struct Died: Error, CustomStringConvertible {
        let pid: pid_t
        /// What failed: the step and its errno or short count.
        let detail: String
        var description: String { "fork server \(pid) died during a fork request (\(detail))" }
    }

    /// The running fork server, started if there is none or the last one died
    /// (then it is reaped first, so it does not linger as a zombie).
    /// - Throws: `StreamError` when a new server cannot be started.
    static func get() throws -> ForkServer {
        try shared.withLock { s in
            if let s, s.isRunning() { return s }
            let made = try ForkServer()
            s = made
            return made
        }
    }

    private init() throws {
        let path: String
        // In a child, "/proc/self/exe": the path it links to may read "… (deleted)"
        // once a concurrent first stage has renamed a fresh copy over our cache file.
        do { path = Mitogen.isMaster ? try ChildBinary.locate() : "/proc/self/exe" } catch { throw StreamError("cannot start the fork server: \(error)", kind: .refused) }
        let (mine, theirs) = try FileDescriptor.socketPair()
        let devnull: FileDescriptor
        do {
            devnull = try FileDescriptor.open("/dev/null", flags: O_WRONLY)
        } catch {
            mine.close()
            theirs.close()
            throw StreamError("cannot start the fork server: \(error)")
        }
        defer {
            theirs.close()
            devnull.close()
        }
        do {
            pid = try spawnProcess(
                SpawnRequest(
                    executable: path, argv: [path, "--mitogen-zygote"], stdin: theirs, stdout: theirs, stderr: devnull,
                    newSession: true))
        } catch {
            mine.close()
            throw StreamError("cannot start the fork server: \(error)")
        }
        control = mine
    }

    /// True while the server runs. A server that has exited is reaped
    /// (`waitpid` with `WNOHANG`); one whose end of the control socket is
    /// closed or readable with no request pending (it is exiting, or out of
    /// step) is killed and reaped. Either way it is retired and false returned.
    private func isRunning() -> Bool {
        retired.withLock { retired in
            if retired { return false }
            switch Result(catching: { () throws(SystemError) in try waitProcess(pid, block: false) }) {
            case .success(nil):
                break
            case .success(.some), .failure:
                // Exited and now reaped, or ECHILD: reaped by someone else.
                retire(&retired, reaped: true)
                return false
            }
            var entry = pollfd(fd: control.rawValue, events: Int16(POLLIN), revents: 0)
            let ready = valueOrErrno { poll(&entry, 1, 0) }
            if case .success(let n) = ready, n > 0 {
                retire(&retired, reaped: false)
                return false
            }
            return true
        }
    }

    /// Marks the server retired: closes the control socket and, unless it is
    /// already reaped, sends SIGKILL and waits for it (blocking briefly).
    /// Called with `retired` held.
    private func retire(_ retired: inout Bool, reaped: Bool) {
        guard !retired else { return }
        retired = true
        control.close()
        guard !reaped else { return }
        sendSignal(SIGKILL, to: pid)
        _ = try? waitProcess(pid, block: true)
    }

    /// Forks a new child context. It uses `socket` for the protocol and
    /// `stderr` for its stderr (both are only lent: the caller closes its copies).
    /// - Returns: the new child's pid.
    /// - Throws: `Died` when the server is gone or answers short (it is then
    ///   retired; the caller may retry with new descriptors, since a child the
    ///   server forked before dying keeps the old ones and sees their end of
    ///   stream); `StreamError` when the request cannot be sent for another
    ///   reason or the fork itself failed.
    func fork(name: String, config: ChildConfig, socket: FileDescriptor, stderr: FileDescriptor) throws -> pid_t {
        try retired.withLock { retired in
            if retired { throw Died(pid: pid, detail: "already retired") }
            let request = Array((name + "\0" + config.argument).utf8)
            let fds = [socket.rawValue, stderr.rawValue]
            let sent = request.withUnsafeBytes { raw in
                fds.withUnsafeBufferPointer { mitogen_send_fds(control.rawValue, raw.baseAddress, raw.count, $0.baseAddress, 2) }
            }
            if sent < 0 {
                let error = Errno.current
                if error == .brokenPipe || error == .connectionReset || error.rawValue == ENOTCONN {
                    retire(&retired, reaped: false)
                    throw Died(pid: pid, detail: "send: \(SystemError("sendmsg to fork server", error))")
                }
                throw StreamError("fork server request failed: \(SystemError("sendmsg to fork server \(pid)", error))")
            }
            guard sent == request.count else {
                retire(&retired, reaped: false)
                throw Died(pid: pid, detail: "sent \(sent) of \(request.count) bytes")
            }
            let answer: [UInt8]?
            do {
                answer = try control.read(exactly: 4)
            } catch {
                retire(&retired, reaped: false)
                throw Died(pid: pid, detail: "reply: \(error)")
            }
            guard let answer else {
                retire(&retired, reaped: false)
                throw Died(pid: pid, detail: "end of stream before the reply")
            }
            let pid = answer.withUnsafeBytes { Int32(littleEndian: $0.loadUnaligned(as: Int32.self)) }
            guard pid > 0 else { throw StreamError("fork failed: \(SystemError("fork", errno: -pid))") }
            return pid
        }
    }
}

/// True while `pid` exists (for processes that are not our children).
func processExists(_ pid: pid_t) -> Bool {
    kill(pid, 0) == 0 || errno == EPERM
}

extension Router {
    /// Starts a child by forking the fork server (the seed's `fork()`): the
    /// cheapest way to get a fresh context on this machine (about 1 ms).
    ///
    /// **What it inherits differs from Mitogen.** Python's `fork()` forks the
    /// calling process, so the child starts with a copy of the caller's
    /// memory: its imported modules, globals and open files. A Swift master
    /// cannot fork itself safely once it has threads (its broker runs on
    /// one), so it forks a *zygote* instead: a `mitogen-child` started on the
    /// first `fork()` and kept idle, single-threaded. A forked context
    /// therefore inherits the zygote's state: the master's environment,
    /// working directory, user, resource limits and umask as they were at
    /// that first `fork()`, and none of the master's memory, descriptors or
    /// registered Swift closures.
    ///
    /// The seed's `on_fork` and `on_start` take Python functions to run in
    /// the new process; Swift closures cannot cross a process boundary, so
    /// they have no parameter here. Their Swift counterparts: register the
    /// function in the child program (`Functions.register`, built into
    /// `mitogen-child` or your own child executable, see `ChildBinary`) and
    /// call it on the new context first thing, e.g.
    /// `let c = try router.fork(); try c.call("myapp.onStart")`; what
    /// `on_fork` reset after fork (random seeds, inherited locks) needs no
    /// counterpart, because nothing of the caller's memory is copied.
    public func fork(debug: Bool = false, profiling: Bool = false, via: Context? = nil, name: String? = nil) throws -> Context {
        try fork(ConnectionOptions(name: name, debug: debug, profiling: profiling, via: via))
    }

    func fork(_ options: ConnectionOptions) throws -> Context {
        if let via = options.via {
            return try proxyConnect(via: via, method: "fork", target: nil, methodOptions: [], options: options)
        }
        let id = try allocateID()
        let config = childConfig(id: id, options)
        let remoteName = (options.remoteName ?? defaultRemoteName()).replacingSlashes()
        // A server found dead during the request is retired by `fork`; one
        // retry with fresh descriptors then gets a new server.
        var retried = false
        while true {
            let server = try ForkServer.get()
            let (mine, theirs) = try FileDescriptor.socketPair()
            let errRead: FileDescriptor, errWrite: FileDescriptor
            do {
                (errRead, errWrite) = try FileDescriptor.pipe()
            } catch {
                mine.close()
                theirs.close()
                throw error
            }
            let pid: pid_t
            do {
                pid = try server.fork(name: remoteName, config: config, socket: theirs, stderr: errWrite)
            } catch is ForkServer.Died where !retried {
                for fd in [mine, theirs, errRead, errWrite] { fd.close() }
                retried = true
                continue
            } catch let died as ForkServer.Died {
                for fd in [mine, theirs, errRead, errWrite] { fd.close() }
                throw StreamError("fork failed: \(died), twice")
            } catch {
                for fd in [mine, theirs, errRead, errWrite] { fd.close() }
                throw error
            }
            theirs.close()
            errWrite.close()
            return try attachChild(
                id: id, name: options.name ?? "fork.\(pid)", method: "fork", pid: pid, isOurChild: false,
                socket: mine, stderr: errRead, preferCompression: false, options: options)
        }
    }
}
