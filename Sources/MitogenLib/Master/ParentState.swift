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
    /// Most ids one direct child's subtree may hold (4096 blocks): enough for
    /// any real tree, and a child that asks without end is refused instead
    /// of spending the 32-bit id space.
    package static let maxIDsPerSubtree = 4096 * Int(idBlockSize)

    /// The master's next free context id; nil once the 32-bit id space is spent.
    let nextContextID = Lock<UInt32?>(1)
    /// A child's block of ids from ALLOCATE_ID: next free, end (exclusive).
    let idBlock = Lock<(next: UInt32, end: UInt32)>((0, 0))
    /// Extra environment for processes this router spawns (tests point
    /// XDG_CACHE_HOME at a fresh cache with it, without touching the process).
    let childEnvironment = Lock<[String: String]>([:])
    /// Longest logger name taken from a child's log record (UTF-8 bytes).
    package static let maxLoggerNameBytes = 256
    /// Per-context bounds on forwarded log lines (master only).
    let logLimiter = Lock(LogRateLimiter())
    /// Processes this router spawned and has not reaped yet.
    let childProcesses = Lock<Set<Int32>>([])
    /// Fallback cache roots for the first stage (nil: `FirstStage.defaultFallbackRoots`).
    let cacheFallbackRoots = Lock<[String]?>(nil)
    /// Set by `enableDebug()`: new children get `debug` by default.
    let debug = Atomic<Bool>(false)
    /// The child this router uploads instead of the process-wide one.
    let childBinary = Lock<ChildBinary?>(nil)

    fileprivate init(router: Router) {
        router.broker.defer { [weak router] in
            router?.broker.addLifecycleHandlers(exit: { [weak router] in router?.reapChildProcesses() })
        }
        guard router.isMaster else { return }
        _ = try? router.addHandler(handle: Handle.forwardLog) { [weak router] msg in
            guard let router, !msg.isDead else { return }
            let parts = msg.data.split(separator: 0, maxSplits: 2, omittingEmptySubsequences: false)
            guard parts.count == 3 else { return }
            let (admitted, dropped) = router.parentState.logLimiter.withLock { $0.admit(msg.srcID, now: monotonicNow()) }
            guard admitted else { return }
            if dropped > 0 {
                router.logFromChild(
                    contextID: msg.srcID, logger: "mitogen", level: PythonLogLevel.warning,
                    message: "\(dropped) log lines dropped: more than \(Int(LogRateLimiter.linesPerSecond)) a second")
            }
            // Cut and escaped before anything is decoded in full: the text
            // may be as long as a message (128 MiB).
            router.logFromChild(
                contextID: msg.srcID, logger: sanitizedForLog(utf8: parts[0], limit: ParentState.maxLoggerNameBytes),
                level: parts[1].count <= 8 ? Int(String(decoding: parts[1], as: UTF8.self)) ?? PythonLogLevel.info : PythonLogLevel.info,
                message: sanitizedForLog(utf8: parts[2]))
        }
        _ = try? router.addHandler(handle: Handle.allocateID) { [weak router] msg in
            guard let router, !msg.isDead else { return }
            router.grantIDBlock(to: msg)
        }
    }
}

extension Router {
    /// This router's parent duties, set up on first use.
    package var parentState: ParentState { extensions.get { ParentState(router: self) } }

    /// Takes `count` ids from the master's counter, or nil when the id space
    /// (2³² - 1 ids) is spent. Never wraps.
    private func takeIDs(_ count: UInt32) -> Range<UInt32>? {
        parentState.nextContextID.withLock { next -> Range<UInt32>? in
            guard let start = next else { return nil }
            let (end, overflow) = start.addingReportingOverflow(count)
            guard !overflow else { return nil }
            next = end == .max ? nil : end
            return start..<end
        }
    }

    /// Answers ALLOCATE_ID: a block of `ParentState.idBlockSize` ids, granted
    /// to the stream the request came through so that subtree, and only it,
    /// may claim routes for them. A subtree that already holds
    /// `maxIDsPerSubtree` ids, or a spent id space, gets a dead reply.
    fileprivate func grantIDBlock(to msg: Message) {
        guard let stream = streamByID(msg.srcID) else {
            sendDead(replyingTo: msg, "no route to \(msg.srcID), my ID is \(contextID)")
            return
        }
        let full = stream.grantedIDs.withLock {
            $0.idCount + Int(ParentState.idBlockSize) > ParentState.maxIDsPerSubtree || $0.count >= IDRanges.maxRanges
        }
        guard !full, let block = takeIDs(ParentState.idBlockSize) else {
            logError("ALLOCATE_ID from \(msg.srcID) refused: \(full ? "its subtree holds too many id blocks" : "no ids left")")
            sendDead(replyingTo: msg, "refused by policy")
            return
        }
        guard stream.grantedIDs.withLock({ $0.insert(block) }) else {
            sendDead(replyingTo: msg, "refused by policy")
            return
        }
        msg.reply(.tuple([.int(Int(block.lowerBound)), .int(Int(block.upperBound))]), router: self)
    }

    /// A new context id: from the master's counter, or in a child from its
    /// block (asking the master for a new block when it runs out).
    /// - Throws: `ChannelError`/`TimeoutError` if a child cannot reach the
    ///   master, `StreamError` when the master has no ids left.
    public func allocateID() throws -> UInt32 {
        let state = parentState
        if isMaster {
            guard let one = takeIDs(1) else { throw StreamError("no context ids left (2^32 - 1 were handed out)") }
            return one.lowerBound
        }
        if let id = state.idBlock.withLock({ block -> UInt32? in
            guard block.next < block.end else { return nil }
            defer { block.next += 1 }
            return block.next
        }) {
            return id
        }
        let reply = try context(byID: 0).sendAwait(Message(handle: Handle.allocateID), deadline: ConnectionOptions.defaultConnectTimeout)
        guard case .tuple(let pair) = reply, pair.count == 2,
            let start = pair[0].intValue.flatMap({ UInt32(exactly: $0) }),
            let end = pair[1].intValue.flatMap({ UInt32(exactly: $0) }), start < end
        else {
            throw StreamError("ALLOCATE_ID: unexpected reply \(reply.displayText)")
        }
        reservedIDs.withLock { _ = $0.insert(start..<end) }
        return state.idBlock.withLock { block in
            block = (start + 1, end)
            return start
        }
    }

    /// Points the first stage's fallback cache directories (after the user's
    /// own cache) at `roots`: tests use it to start from a really empty cache.
    package func setCacheFallbackRoots(_ roots: [String]) {
        parentState.cacheFallbackRoots.withLock { $0 = roots }
    }

    /// The child executable this router uploads: the one set with
    /// `useChildBinary(at:)`, else the process-wide `mitogen-child`.
    func childBinary() throws -> ChildBinary {
        try parentState.childBinary.withLock { $0 } ?? ChildBinaryCache.shared()
    }

    /// Makes this router upload the executable at `path` (a child built with
    /// extra functions) to the children it starts from now on.
    /// - Throws: `ChildBinaryError` when it cannot be read.
    package func useChildBinary(at path: String) throws {
        let binary = try ChildBinary(path: path)
        parentState.childBinary.withLock { $0 = binary }
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
    ///
    /// Everything in it came from the child, so it is sanitised first
    /// (`sanitizedForLog`): control characters but tab become visible escapes
    /// and each part is bounded (the message to `maxLogRecordBytes`).
    func logFromChild(contextID id: UInt32, logger rawLogger: String, level: Int, message rawMessage: String) {
        let name = sanitizedForLog(knownName(of: id) ?? String(id), limit: ParentState.maxLoggerNameBytes)
        let logger = sanitizedForLog(rawLogger, limit: ParentState.maxLoggerNameBytes)
        let message = sanitizedForLog(rawMessage)
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
