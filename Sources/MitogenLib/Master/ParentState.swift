import Glibc
import Logging
import Synchronization
public import MitogenCore
import MitogenSys
import MitogenWire

/// What a router keeps once it starts children (Mitogen's upgrade of a
/// context to a parent): the id counter or block, the processes it spawned,
/// the environment and cache roots it gives them, and, in the master, the
/// handlers that serve ALLOCATE_ID and FORWARD_LOG. Made on first use by
/// `Router.parentState`, which installs those handlers exactly once.
package final class ParentState: Sendable {
    /// Ids the master hands a child per ALLOCATE_ID (`(start, end)`, end exclusive).
    package static let idBlockSize: UInt32 = 1000

    /// The master's next free context id.
    let nextContextID = Atomic<UInt32>(1)
    /// A child's block of ids from ALLOCATE_ID: next free, end (exclusive).
    let idBlock = Mutex<(next: UInt32, end: UInt32)>((0, 0))
    /// Extra environment for processes this router spawns (tests point
    /// XDG_CACHE_HOME at a fresh cache with it, without touching the process).
    let childEnvironment = Mutex<[String: String]>([:])
    /// Processes this router spawned and has not reaped yet.
    let childProcesses = Mutex<Set<Int32>>([])
    /// Fallback cache roots for the first stage (nil: `FirstStage.defaultFallbackRoots`).
    let cacheFallbackRoots = Mutex<[String]?>(nil)
    /// Set by `enableDebug()`: new children get `debug` by default.
    let debug = Atomic<Bool>(false)

    fileprivate init(router: Router) {
        router.broker.defer { [weak router] in
            router?.broker.addLifecycleHandlers(exit: { [weak router] in router?.reapChildProcesses() })
        }
        guard router.isMaster else { return }
        _ = try? router.addHandler(handle: Handle.forwardLog) { [weak router] msg in
            guard let router, !msg.isDead else { return }
            let parts = msg.data.split(separator: 0, maxSplits: 2, omittingEmptySubsequences: false)
            guard parts.count == 3 else { return }
            router.logFromChild(
                contextID: msg.srcID, logger: String(decoding: parts[0], as: UTF8.self),
                level: Int(String(decoding: parts[1], as: UTF8.self)) ?? PythonLogLevel.info,
                message: String(decoding: parts[2], as: UTF8.self))
        }
        _ = try? router.addHandler(handle: Handle.allocateID) { [weak router] msg in
            guard let router, !msg.isDead else { return }
            let start = router.parentState.nextContextID.add(Self.idBlockSize, ordering: .relaxed).oldValue
            msg.reply(.tuple([.int(Int(start)), .int(Int(start + Self.idBlockSize))]), router: router)
        }
    }
}

extension Router {
    /// This router's parent duties, set up on first use.
    package var parentState: ParentState { extensions.get { ParentState(router: self) } }

    /// A new context id: from the master's counter, or in a child from its
    /// block (asking the master for a new block when it runs out).
    /// - Throws: `ChannelError`/`TimeoutError` if a child cannot reach the master.
    public func allocateID() throws -> UInt32 {
        let state = parentState
        if isMaster { return state.nextContextID.add(1, ordering: .relaxed).oldValue }
        if let id = state.idBlock.withLock({ block -> UInt32? in
            guard block.next < block.end else { return nil }
            defer { block.next += 1 }
            return block.next
        }) {
            return id
        }
        let reply = try context(byID: 0).sendAwait(Message(handle: Handle.allocateID), deadline: ConnectionOptions.defaultConnectTimeout)
        guard case .tuple(let pair) = reply, pair.count == 2, let start = pair[0].intValue, let end = pair[1].intValue,
            start < end
        else {
            throw StreamError("ALLOCATE_ID: unexpected reply \(reply.displayText)")
        }
        return state.idBlock.withLock { block in
            block = (UInt32(start) + 1, UInt32(end))
            return UInt32(start)
        }
    }

    /// Points the first stage's fallback cache directories (after the user's
    /// own cache) at `roots`: tests use it to start from a really empty cache.
    package func setCacheFallbackRoots(_ roots: [String]) {
        parentState.cacheFallbackRoots.withLock { $0 = roots }
    }

    /// Sets `key=value` in the environment of processes this router spawns.
    package func setChildEnvironment(_ key: String, _ value: String) {
        parentState.childEnvironment.withLock { $0[key] = value }
    }

    /// True after `enableDebug()`: new children get `debug` by default.
    public var debugEnabled: Bool { extensions.existing(ParentState.self)?.debug.load(ordering: .relaxed) ?? false }

    /// Makes this process and every child started afterwards write debug
    /// logs to `/tmp/mitogen.<pid>.log` (the seed's `enable_debug`), a file
    /// private to this user: an existing file there that someone else owns,
    /// or that others can read, is refused.
    public func enableDebug() {
        parentState.debug.store(true, ordering: .relaxed)
        logToPrivateFile(path: "/tmp/mitogen.\(getpid()).log", level: "DEBUG")
    }

    /// Records a log line drained from a context: into the observer's buffer
    /// and this process's swift-log, as `<logger>.[<context name>]`.
    func logFromChild(contextID id: UInt32, logger: String, level: Int, message: String) {
        let name = knownName(of: id) ?? String(id)
        observer.appendLog(
            LogRecord(contextID: id, contextName: name, logger: logger, level: level, message: message, time: wallClockNow()))
        Logger(label: "\(logger).[\(name)]").log(level: Logger.Level(pythonLevel: level), "\(message)")
    }

    /// Leaves no zombie and no orphan behind when the broker exits: gives
    /// spawned processes a second to exit, then SIGTERMs them and waits
    /// another second, then SIGKILLs and reaps what is left.
    func reapChildProcesses() {
        guard let state = extensions.existing(ParentState.self) else { return }
        var left = reapExits(of: state.childProcesses.withLock { $0 }, timeout: 1.0)
        for signal in [SIGTERM, SIGKILL] where !left.isEmpty {
            for pid in left { sendSignal(signal, to: pid) }
            left = reapExits(of: left, timeout: 1.0)
        }
        state.childProcesses.withLock { $0.removeAll() }
    }
}
