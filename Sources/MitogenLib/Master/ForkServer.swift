import CMitogenSys
import Glibc
import Synchronization
import MitogenCalls
public import MitogenCore
import MitogenSys
import MitogenWire

/// The master's handle on its fork server (see `ForkServerMain`): started on
/// the first `fork()` request, one per master process, shared by its routers.
final class ForkServer: Sendable {
    private let control: FileDescriptor
    let pid: pid_t
    private let lock = Mutex(())

    private static let shared = Mutex<ForkServer?>(nil)

    /// The running fork server, started if needed.
    static func get() throws -> ForkServer {
        try shared.withLock { s in
            if let s, processExists(s.pid) { return s }
            let made = try ForkServer()
            s = made
            return made
        }
    }

    private init() throws {
        let path: String
        do { path = Mitogen.isMaster ? try ChildBinary.locate() : ownExecutablePath() ?? "/proc/self/exe" } catch { throw StreamError("cannot start the fork server: \(error)", kind: .refused) }
        let (mine, theirs) = try FileDescriptor.socketPair()
        let devnull = try FileDescriptor.open("/dev/null", flags: O_WRONLY)
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

    /// Forks a new child context. It uses `socket` for the protocol and
    /// `stderr` for its stderr (both are only lent: the caller closes its copies).
    /// - Returns: the new child's pid.
    func fork(name: String, config: ChildConfig, socket: FileDescriptor, stderr: FileDescriptor) throws -> pid_t {
        try lock.withLock { _ in
            let request = Array((name + "\0" + config.argument).utf8)
            let fds = [socket.rawValue, stderr.rawValue]
            let sent = request.withUnsafeBytes { raw in
                fds.withUnsafeBufferPointer { mitogen_send_fds(control.rawValue, raw.baseAddress, raw.count, $0.baseAddress, 2) }
            }
            guard sent == request.count else { throw StreamError("fork server request failed: errno \(errno)") }
            var answer: Int32 = 0
            let n = withUnsafeMutableBytes(of: &answer) { read(control.rawValue, $0.baseAddress, 4) }
            guard n == 4 else { throw StreamError("the fork server died") }
            let pid = Int32(littleEndian: answer)
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
    /// cheapest way to get a fresh context on this machine.
    ///
    /// Swift cannot run the seed's `on_fork`/`on_start` functions in the new
    /// process (closures cannot cross to the fork server); register functions
    /// in the child program instead.
    public func fork(debug: Bool = false, profiling: Bool = false, via: Context? = nil, name: String? = nil) throws -> Context {
        try fork(ConnectionOptions(name: name, debug: debug, profiling: profiling, via: via))
    }

    func fork(_ options: ConnectionOptions) throws -> Context {
        if let via = options.via {
            return try proxyConnect(via: via, method: "fork", target: nil, methodOptions: [], options: options)
        }
        let server = try ForkServer.get()
        let id = try allocateID()
        let config = childConfig(id: id, options)
        let (mine, theirs) = try FileDescriptor.socketPair()
        let (errRead, errWrite) = try FileDescriptor.pipe()
        let remoteName = (options.remoteName ?? defaultRemoteName()).replacingSlashes()
        let pid: pid_t
        do {
            pid = try server.fork(name: remoteName, config: config, socket: theirs, stderr: errWrite)
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
