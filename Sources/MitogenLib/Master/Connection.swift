import CMitogenSys
import Glibc
import Synchronization
import MitogenCalls
public import MitogenCore
import MitogenSys
import MitogenWire

/// The parameters every connection method accepts (the seed's `local()`
/// parameters, which all other methods inherit).
public struct ConnectionOptions: Sendable {
    /// Name of the new context; defaults to the method's (`local.<pid>`, `ssh.<host>`, ...).
    public var name: String?
    /// `argv[0]` suffix of the child: it shows as `mitogen:<remoteName>`.
    /// Defaults to `<user>@<host>:<pid>` of the spawner. Must not contain `/`.
    public var remoteName: String?
    /// Seconds for the whole start (transport, upload, child ready);
    /// `defaultConnectTimeout` when nil.
    public var connectTimeout: Double?
    /// Mitogen's default `connect_timeout`, in seconds.
    public static let defaultConnectTimeout = 30.0
    public var debug = false
    public var profiling = false
    /// Defaults to the router's `unidirectional`.
    public var unidirectional: Bool?
    /// Start the new context through this one: it becomes the new context's parent.
    public var via: Context?
    /// Answers a tool's question that is not the password (a one-time code,
    /// a key passphrase): given the prompt text, returns the answer, or nil
    /// to fail the connection. Runs on a thread of its own and may block (the
    /// console asks the operator). Without one, such a prompt fails the
    /// connection at once, naming the prompt.
    public var promptCallback: (@Sendable (String) -> String?)?
    /// Told the new context's row at each change while it connects (an
    /// intermediary reports the stages of a `via` connect with it).
    package var stageWatcher: (@Sendable (ContextInfo) -> Void)?

    public init(
        name: String? = nil, remoteName: String? = nil, connectTimeout: Double? = nil, debug: Bool = false,
        profiling: Bool = false, unidirectional: Bool? = nil, via: Context? = nil
    ) {
        self.name = name
        self.remoteName = remoteName
        self.connectTimeout = connectTimeout
        self.debug = debug
        self.profiling = profiling
        self.unidirectional = unidirectional
        self.via = via
    }
}

/// How one connection method reaches its target: the argv that runs the first
/// stage there, and its default context name. Methods are small value types
/// (DESIGN §6); `local` is the identity transport.
public protocol ConnectionMethod: Sendable {
    /// Method name as in the seed: `local`, `ssh`, `sudo`, ...
    var methodName: String { get }
    /// Default context name when `ConnectionOptions.name` is nil.
    func defaultName(pid: Int32) -> String
    /// The argv to spawn locally, given the first stage's own argv
    /// (`/bin/sh -c SCRIPT mitogen-stage1`) and its one-line form.
    func command(stageArgv: [String], stageCommand: String) throws -> [String]
    /// Whether the upload should be compressed (slow links) or raw (pipes).
    var preferCompression: Bool { get }
    /// The method's own target and parameters as chain-syntax text, so an
    /// intermediary can rebuild the method for `via=`.
    var hopTarget: String? { get }
    var hopOptions: [HopOption] { get }
}

extension ConnectionMethod {
    public var hopTarget: String? { nil }
    public var hopOptions: [HopOption] { [] }
}

/// The `local` method: a child process on this machine.
public struct LocalMethod: ConnectionMethod {
    public init() {}
    public var methodName: String { "local" }
    public func defaultName(pid: Int32) -> String { "local.\(pid)" }
    public func command(stageArgv: [String], stageCommand: String) throws -> [String] { stageArgv }
    public var preferCompression: Bool { false }
}

extension Router {
    /// Starts a child on this machine (the seed's `local()`).
    ///
    /// The child is the static `mitogen-child`, started through the POSIX sh
    /// first stage: uploaded into the cache directory on first use, reused by
    /// content hash after that.
    /// - Throws: `StreamError` (kinds `.timeout`, `.eof`, `.refused`) when it cannot start.
    public func local(
        name: String? = nil, remoteName: String? = nil, connectTimeout: Double? = nil, debug: Bool = false,
        profiling: Bool = false, unidirectional: Bool? = nil, via: Context? = nil
    ) throws -> Context {
        try connect(
            LocalMethod(),
            ConnectionOptions(
                name: name, remoteName: remoteName, connectTimeout: connectTimeout, debug: debug,
                profiling: profiling, unidirectional: unidirectional, via: via))
    }

    /// Starts a context with `method`: spawns its command, runs the upload
    /// handshake, and returns once the child answers, or throws.
    public func connect(_ method: any ConnectionMethod, _ options: ConnectionOptions) throws -> Context {
        if let remote = options.remoteName, remote.contains("/") {
            throw StreamError("remote_name= cannot contain slashes")
        }
        if let via = options.via {
            return try proxyConnect(
                via: via, method: method.methodName, target: method.hopTarget, methodOptions: method.hopOptions,
                password: (method as? any SpawnedMethod)?.password, options: options)
        }
        let child = try childBinary()
        let id = try allocateID()
        let remoteName = (options.remoteName ?? defaultRemoteName()).replacingSlashes()
        let config = childConfig(id: id, options)
        let roots = parentState.cacheFallbackRoots.withLock { $0 } ?? FirstStage.defaultFallbackRoots
        let stageArgv = FirstStage.argv(
            hash: child.hash, name: remoteName, childArguments: [config.argument], fallbackRoots: roots)
        let stageCommand = FirstStage.shellCommand(
            hash: child.hash, name: remoteName, childArguments: [config.argument], fallbackRoots: roots)
        if let ssh = method as? SSHMethod, ssh.resolvedTransport == .libssh2 {
            return try connectInProcess(ssh, command: stageCommand, id: id, child: child, options: options)
        }
        var method = method
        if options.promptCallback != nil, var ssh = method as? SSHMethod {
            ssh.interactive = true  // let its questions reach the callback
            method = ssh
        }
        let argv = try method.command(stageArgv: stageArgv, stageCommand: stageCommand)
        let spawned = method as? any SpawnedMethod
        let stdio = spawned?.stdio ?? .pipes
        var environment = spawnEnvironment()
        var target: TargetEntry?
        if let setns = method as? SetnsMethod {
            // Its argv alone would run on this host: it must enter the container.
            let leader = try setns.findLeader(
                timeout: options.connectTimeout ?? ConnectionOptions.defaultConnectTimeout, environment: environment)
            (target, environment) = try setns.entry(into: leader, environment: environment ?? currentEnvironment())
        }
        let transport = try Transport.spawn(argv: argv, stdio: stdio, environment: environment, target: target)
        let prompts = spawned.map { method in
            PromptSetup(
                engine: method.makePromptEngine(canAsk: options.promptCallback != nil), replies: transport.replies,
                inBand: stdio.markersInBand, ask: options.promptCallback, eofHint: method.eofErrorHint)
        }
        return try attachChild(
            id: id, name: options.name ?? method.defaultName(pid: transport.pid), method: method.methodName,
            pid: transport.pid, isOurChild: true, socket: transport.channel, stderr: transport.diagnostics,
            preferCompression: method.preferCompression, options: options, child: child, prompts: prompts)
    }

    /// `ssh` over the registered in-process transport: no process, so no pid
    /// to reap; the first stage gets what is left of `connect_timeout`.
    private func connectInProcess(
        _ ssh: SSHMethod, command: String, id: UInt32, child: ChildBinary, options: ConnectionOptions
    ) throws -> Context {
        let transport = try InProcessSSHRegistry.libssh2()
        let timeout = options.connectTimeout ?? ConnectionOptions.defaultConnectTimeout
        let started = monotonicNow()
        let opened = try transport.open(InProcessSSHRequest(
            method: ssh, command: command, broker: broker, deadline: started + timeout, timeout: timeout,
            promptCallback: options.promptCallback))
        var rest = options
        rest.connectTimeout = max(0.001, timeout - (monotonicNow() - started))
        return try attachChild(
            id: id, name: options.name ?? ssh.defaultName(pid: 0), method: ssh.methodName, pid: 0, isOurChild: false,
            socket: opened.channel, stderr: opened.diagnostics, preferCompression: true, options: rest, child: child)
    }

    /// The environment for a spawned transport: ours plus `parentState.childEnvironment`.
    func spawnEnvironment() -> [String]? {
        let extra = parentState.childEnvironment.withLock { $0 }
        guard !extra.isEmpty else { return nil }
        var env = currentEnvironment().filter { entry in !extra.keys.contains { entry.hasPrefix($0 + "=") } }
        for (k, v) in extra { env.append("\(k)=\(v)") }
        return env
    }

    /// The config word a new child `id` gets from `options`.
    func childConfig(id: UInt32, _ options: ConnectionOptions) -> ChildConfig {
        var config = ChildConfig(contextID: id, parentIDs: [contextID] + parentIDs)
        config.maxMessageSize = maxMessageSize
        config.debug = options.debug || debugEnabled
        config.profiling = options.profiling || profiler != nil
        config.unidirectional = options.unidirectional ?? unidirectional
        config.childHash = try? childBinary().hash
        return config
    }

    /// Wires a started child process to this router: its stream (in upload
    /// handshake mode), its stderr, the connect timeout and the reaper. Waits
    /// until the child is ready or failed.
    func attachChild(
        id: UInt32, name: String, method: String, pid: pid_t, isOurChild: Bool, socket: FileDescriptor,
        stderr: FileDescriptor?, preferCompression: Bool, options: ConnectionOptions, child: ChildBinary? = nil,
        prompts: PromptSetup? = nil
    ) throws -> Context {
        try socket.setNonBlocking(true)
        try stderr?.setNonBlocking(true)
        let context = context(byID: id, name: name)
        if let watcher = options.stageWatcher { observer.watchContext(id, watcher) }
        defer { if options.stageWatcher != nil { observer.unwatchContext(id) } }
        observer.contextAdded(
            ContextInfo(id: id, name: name, method: method, parentID: contextID, pid: pid, state: .connecting, since: monotonicNow()))
        let stream = Stream(name: name, remoteID: id, broker: broker, rx: socket, tx: socket, privileged: false, pid: pid, maxMessageSize: maxMessageSize)
        let outcome = Latch<StreamError?>()
        let handshake = UploadHandshake(
            BootstrapHandshake(child: try child ?? childBinary(), preferCompression: preferCompression),
            observer: observer, contextID: id)
        handshake.onReady = { try? outcome.put(nil) }
        if let prompts {
            let session = PromptSession(
                engine: prompts.engine, replies: prompts.replies, broker: broker, ask: prompts.ask,
                fail: { error in try? outcome.put(error) },
                publish: { [observer] state in observer.contextUpdated(id) { $0.state = state } })
            handshake.prompts = session
            handshake.promptsInBand = prompts.inBand
            handshake.eofHint = prompts.eofHint
        }
        stream.handshake = handshake
        stream.onHandshakeFailure = { error in try? outcome.put(error) }
        if isOurChild { parentState.childProcesses.withLock { _ = $0.insert(pid) } }
        // The hook holds the router until the stream dies (at the latest when the broker exits).
        // pid 0: an in-process transport, no local process (and kill(0) is our own group).
        if pid > 0 {
            stream.disconnectHooks.append { [broker, self] in
                Reaper.start(pid: pid, isOurChild: isOurChild, broker: broker) { self.parentState.childProcesses.withLock { _ = $0.remove(pid) } }
            }
        }
        let diagnostics = stderr.map {
            DiagnosticsReader(fd: $0, contextID: id, contextName: name, router: self, handshake: handshake)
        }
        register(context, stream: stream)
        if let diagnostics {
            handshake.drainDiagnostics = { [weak diagnostics] in diagnostics?.drainNow() }
            broker.defer { diagnostics.start() }
        }

        let timeout = options.connectTimeout ?? ConnectionOptions.defaultConnectTimeout
        let timer = broker.after(timeout) {
            // Mitogen's text, then where the start was stuck.
            let stage = handshake.stage
            try? outcome.put(StreamError("Connection timed out. (after \(timeout) s, while \(stage))", kind: .timeout))
        }
        defer { timer.cancel() }
        let failure: StreamError?
        do {
            failure = try outcome.get()
        } catch {
            failure = StreamError("Connection cancelled because the associated Broker began to shut down.", kind: .cancelled)
        }
        if let failure {
            observer.contextUpdated(id) { $0.state = .failed(failure.message) }
            broker.defer { stream.disconnect(reason: failure.message) }
            throw failure
        }
        observer.contextUpdated(id) { [uploaded = handshake.state.uploadedBytes] in
            $0.state = .connected
            $0.uploadedBytes = uploaded
        }
        announceRoute(id, name: name)
        return context
    }

    /// `<user>@<host>:<pid>` of this process, Mitogen's default remote name.
    func defaultRemoteName() -> String {
        let user = PasswdFile.userName(uid: getuid()) ?? String(getuid())
        return "\(user)@\(hostName()):\(getpid())"
    }
}

extension String {
    func replacingSlashes() -> String {
        String(map { $0 == "/" || $0 == "\\" ? "_" : $0 })
    }
}

/// Python's `repr` of a string, for command lines in error texts.
/// The child binary this master uploads, located and hashed once per process.
enum ChildBinaryCache {
    private static let cached = Lock<ChildBinary?>(nil)

    /// In a master: the `mitogen-child` found next to it (or via
    /// MITOGEN_CHILD / PATH). In a child: its own executable, so a hop serves
    /// the binary it runs instead of pulling it through the chain again.
    static func shared() throws -> ChildBinary {
        try cached.withLock { c in
            if let c { return c }
            do {
                let made: ChildBinary
                // "/proc/self/exe", not the path it links to: a concurrent first
                // stage may have renamed a fresh copy over our cache file, and
                // the link then names a "(deleted)" file no open can reach.
                if !Mitogen.isMaster, let hash = Mitogen.childHash {
                    made = try ChildBinary(path: "/proc/self/exe", knownHash: hash)
                } else if !Mitogen.isMaster {
                    made = try ChildBinary(path: "/proc/self/exe")
                } else {
                    made = try ChildBinary(path: ChildBinary.locate())
                }
                c = made
                return made
            } catch {
                throw StreamError("cannot start a context: \(error)", kind: .refused)
            }
        }
    }
}

/// How a connection talks to its tool's prompts (see `PromptSession`).
struct PromptSetup {
    var engine: PromptEngine
    var replies: FileDescriptor?
    var inBand: Bool
    var ask: (@Sendable (String) -> String?)?
    var eofHint: String?
}

/// Adapts the master's upload state machine to the stream's handshake hook,
/// publishing progress to the observer.
final class UploadHandshake: StreamHandshake, @unchecked Sendable {
    // @unchecked: used only on the broker thread (the stream's reader).
    var state: BootstrapHandshake
    let observer: RouterObserver
    let contextID: UInt32
    var onReady: (() -> Void)?
    /// The tool's prompts, when the method has a tool that may ask.
    var prompts: PromptSession?
    /// The tool prompts on this channel (su's full PTY): its output goes
    /// through `prompts` until the first stage's marker.
    var promptsInBand = false
    /// Added to the end-of-file error (Mitogen's `eof_error_hint`).
    var eofHint: String?
    /// Reads the tool's pending stderr before the end-of-file error is built.
    var drainDiagnostics: (() -> Void)?
    /// Where the start is, for the connect timeout's message.
    var stage: String {
        if state.uploadedBytes > 0 { return "uploading the child" }
        if let prompts, !prompts.isFinished { return prompts.stage }
        return "waiting for the first stage"
    }

    init(_ state: BootstrapHandshake, observer: RouterObserver, contextID: UInt32) {
        self.state = state
        self.observer = observer
        self.contextID = contextID
    }

    func feed(_ bytes: [UInt8]) -> HandshakeStep {
        guard let prompts, !prompts.isFinished else { return step(state.feed(bytes)) }
        if !promptsInBand {
            prompts.stageReached()
            return step(state.feed(bytes))
        }
        guard let passthrough = prompts.feed(bytes) else { return .continue(send: []) }
        return step(state.feed(passthrough))
    }

    func eof() -> StreamError {
        drainDiagnostics?()
        drainDiagnostics = nil
        for action in state.eof() {
            if case .failed(let text) = action {
                return StreamError(text + (eofHint.map { "\n\n" + $0 } ?? ""), kind: .eof)
            }
        }
        return StreamError("EOF on stream during bootstrap", kind: .eof)
    }

    /// Output of the tool on its own channel (stderr or its PTY).
    func toolOutput(_ bytes: [UInt8]) {
        if let prompts, !promptsInBand, !prompts.isFinished { _ = prompts.feed(bytes) }
    }

    /// stderr lines of the target before it is ready: kept for the EOF error text.
    func diagnostics(_ bytes: [UInt8]) -> [String] {
        state.feedDiagnostics(bytes).compactMap { if case .log(let l) = $0 { l } else { nil } }
    }

    private func step(_ actions: [BootstrapHandshake.Action]) -> HandshakeStep {
        var out: [UInt8] = []
        for action in actions {
            switch action {
            case .send(let bytes): out += bytes
            case .log(let line): logDebug("bootstrap \(contextID): \(line)")
            case .progress(let sent, let total):
                observer.contextUpdated(contextID) {
                    $0.state = sent < total ? .uploading(sent: sent, total: total) : .bootstrapping
                }
            case .ready(let leftover):
                onReady?()
                return .ready(leftover: leftover)
            case .failed(let text):
                let kind: StreamError.Kind = text.hasPrefix("EOF") ? .eof : .refused
                return .failed(StreamError(text, kind: kind))
            }
        }
        return .continue(send: out)
    }
}

/// Reads a child's stderr: lines before it is ready feed the bootstrap error
/// text; after that each line is logged as the context's `stderr`.
final class DiagnosticsReader: @unchecked Sendable {
    // @unchecked: used only on the broker thread.
    let fd: FileDescriptor
    let side: BrokerSide
    let contextID: UInt32
    let contextName: String
    weak var router: Router?
    let handshake: UploadHandshake
    var partial: [UInt8] = []

    init(fd: FileDescriptor, contextID: UInt32, contextName: String, router: Router, handshake: UploadHandshake) {
        self.fd = fd
        self.side = BrokerSide(fd: fd.rawValue, keepAlive: false)
        self.contextID = contextID
        self.contextName = contextName
        self.router = router
        self.handshake = handshake
    }

    func start() {
        router?.broker.startReceive(side) { [self] in _ = onReadable() }
    }

    /// Reads what the tool already wrote (it may have exited with its last
    /// words still in the pipe when its stdout ended), so the bootstrap's
    /// end-of-file error includes them. Broker thread.
    func drainNow() {
        for _ in 0..<16 where !closed {
            if !onReadable() { return }
        }
    }

    private var closed = false

    /// Reads one chunk. Returns false when nothing more is there now.
    @discardableResult
    private func onReadable() -> Bool {
        guard !closed else { return false }
        var buf = [UInt8](repeating: 0, count: FileDescriptor.pipeChunkSize)
        let r = buf.withUnsafeMutableBytes { b in Result { () throws(SystemError) in try fd.read(into: b) } }
        switch r {
        case .success(.bytes(let n)):
            let chunk = Array(buf[0..<n])
            handshake.toolOutput(chunk)
            _ = handshake.diagnostics(chunk)
            partial += chunk
            while let nl = partial.firstIndex(of: 0x0a) {
                let line = String(decoding: partial[..<nl], as: UTF8.self)
                partial.removeSubrange(...nl)
                router?.logFromChild(contextID: contextID, logger: "stderr", level: PythonLogLevel.info, message: line)
            }
            if partial.count > BootstrapHandshake.maxLineLength { partial.removeAll() }
            return true
        case .success(.wouldBlock):
            return false
        default:
            closed = true
            router?.broker.remove(side)
            fd.close()
            return false
        }
    }
}

/// Reaps a child process after its stream died, escalating like Mitogen:
/// polls at 0.05·1.72ⁿ s, SIGTERM at the 2nd poll, SIGKILL at the 6th, gives
/// up after 20.
enum Reaper {
    static func start(pid: pid_t, isOurChild: Bool, broker: Broker, attempt: Int = 0, reaped: @escaping @Sendable () -> Void) {
        if isOurChild {
            switch Result(catching: { () throws(SystemError) in try waitProcess(pid, block: false) }) {
            case .success(.some), .failure:  // reaped, or not ours to reap
                reaped()
                return
            case .success(.none): break
            }
        } else if !processExists(pid) {
            return
        }
        if attempt == 2 { _ = sendSignal(SIGTERM, to: pid) }
        if attempt == 6 { _ = sendSignal(SIGKILL, to: pid) }
        guard attempt < 20, broker.isRunning else { return }
        var delay = 0.05
        for _ in 0..<attempt { delay *= 1.72 }
        broker.after(min(delay, 5.0)) {
            start(pid: pid, isOurChild: isOurChild, broker: broker, attempt: attempt + 1, reaped: reaped)
        }
    }
}
