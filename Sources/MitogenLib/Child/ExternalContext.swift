import CMitogenSys
import Glibc
import Logging
import MitogenCalls
import MitogenCore
import MitogenMaster
import MitogenSys
import MitogenWire

/// The main loop of a child context (Mitogen's `ExternalContext`): what
/// `mitogen-child` runs after the first stage `exec`s it.
///
/// Start-up, in order: answer `--mitogen-probe` (the first stage's noexec
/// test) and exit; read `mitogen:<name>` and the config word; show
/// `mitogen:<name>` in `ps`; refuse to run from a cache directory another user
/// could write; move the protocol off fds 0/1 (so a stray `print` cannot
/// corrupt it: fd 1 becomes stderr, which the parent logs); write `MITO002`;
/// then route messages on the broker thread. Calls run on the broker's
/// threads (`Dispatcher.enqueue` hands the loop to a spare thread while a
/// call runs); this thread only waits for the end.
/// The child exits when its parent goes away or asks it to shut down.
public enum ExternalContext {
    /// Runs a child. Register extra functions before calling it.
    public static func main(arguments: [String] = CommandLine.arguments) -> Never {
        if arguments.contains("--mitogen-probe") { probe(arguments) }
        if arguments.count == 2 && arguments[1] == "--mitogen-zygote" { ForkServerMain.run(control: 0) }
        if arguments.count >= 3 && arguments[1] == "--mitogen-fakessh" {
            FakeSSHRelay.run(socketPath: arguments[2], args: Array(arguments.dropFirst(3)))
        }
        guard arguments.count >= 2, arguments[1].hasPrefix("mitogen:") else {
            fail("mitogen-child must be started by a Mitogen master (expected argv[1] = mitogen:<name>)")
        }
        let name = String(arguments[1].dropFirst("mitogen:".count))
        guard let config = arguments.dropFirst(2).lazy.compactMap(ChildConfig.init(argument:)).first else {
            fail("mitogen-child: missing or malformed --mitogen-config")
        }
        setProcessTitle("mitogen:" + name)
        if let problem = cacheDirectoryProblem() { fail(problem) }

        // The protocol moves to new descriptors; 0 reads /dev/null, 1 goes to stderr.
        let input = FileDescriptor(rawValue: fcntl(0, F_DUPFD_CLOEXEC, 3))
        let output = FileDescriptor(rawValue: fcntl(1, F_DUPFD_CLOEXEC, 3))
        let devnull = open("/dev/null", O_RDONLY)
        dup2(devnull, 0)
        if devnull > 2 { close(devnull) }
        dup2(2, 1)
        try? input.setNonBlocking(true)
        try? output.setNonBlocking(true)

        Mitogen.setChildIdentity(
            contextID: config.contextID, parentIDs: config.parentIDs, name: name, childHash: config.childHash)
        // No watcher: a child leaves through `_exit` once its broker stops, and a
        // signal from its parent (shutdown escalation) must end it at once.
        let broker = Broker(shutdownTimeout: Broker.childShutdownGrace, name: "mitogen.broker", installWatcher: false)
        let router = Router(
            broker: broker, contextID: config.contextID, parentIDs: config.parentIDs,
            unidirectional: config.unidirectional, maxMessageSize: config.maxMessageSize,
            profiler: config.profiling ? Profiler() : nil)
        let level = Logger.Level(pythonLevel: config.debug ? PythonLogLevel.debug : config.logLevel)
        if config.debug {
            // enable_debug: this context also writes its own debug log, a
            // private file (never one another user planted at that name).
            let fd = (try? openPrivateAppend("/tmp/mitogen.\(getpid()).log"))?.rawValue ?? 2
            LogSink.shared.configure(fd: fd, level: .debug, io: false, bootstrap: false)
        }
        LogSink.shared.markBootstrapped()
        LoggingSystem.bootstrap { label in
            let forward = ForwardingLogHandler(logLevel: level, label: label, router: router)
            guard config.debug else { return forward }
            return MultiplexLogHandler([forward, SinkHandler(label: label, sink: LogSink.shared)])
        }

        let parent = Stream(
            name: "parent", remoteID: config.parentIDs[0], broker: broker, rx: input, tx: output,
            privileged: true, maxMessageSize: config.maxMessageSize)
        // A child does not linger for its parent stream during shutdown.
        parent.rxSide.keepAlive = false
        parent.txSide.keepAlive = false

        let profiler = config.profiling ? Profiler() : nil
        let dispatcher = Dispatcher(router: router, profiler: profiler)
        RuntimeBuiltins.register()
        FileStreaming.register()
        ProxyConnectFunction.register()
        ProcessStream.register()
        do {
            try router.addHandler(handle: Handle.callFunction, policy: hasParentAuthority) { dispatcher.enqueue($0) }
            try router.addHandler(handle: Handle.shutdown, policy: hasParentAuthority) { _ in
                // Stats go out before the stream closes, so a parent waiting
                // for the disconnect finds them complete.
                profiler?.write(threadName: "mitogen.main")
                broker.shutdown()
            }
        } catch {
            fail("mitogen-child: \(error)")
        }
        broker.defer {
            broker.addLifecycleHandlers(exit: {
                dispatcher.close()
                profiler?.write(threadName: "mitogen.main")
                // A call may still be running on the main thread (a hung call when
                // the parent died): no orphans, so leave now.
                _exit(0)
            })
        }
        // MITO002 goes out raw before any frame: the master switches to framing on it.
        _ = try? output.writeAll(Array((BootstrapMarker.readyMarker + "\n").utf8))
        router.setParent(parent)
        // Calls run on the broker's threads (see Dispatcher.enqueue); this
        // thread only waits for the end.
        try? broker.join()
        _exit(0)
    }

    /// `--mitogen-probe [--verify-hash H]`: prove this file can run here.
    private static func probe(_ arguments: [String]) -> Never {
        if let i = arguments.firstIndex(of: "--verify-hash"), i + 1 < arguments.count {
            guard let bytes = try? readWholeFile("/proc/self/exe"), SHA256.hexDigest(of: bytes) == arguments[i + 1] else {
                print("mitogen-child: sha256 of this file does not match the expected \(arguments[i + 1])")
                exit(3)
            }
        }
        print("ok")
        exit(0)
    }

    private static func fail(_ text: String) -> Never {
        let line = BootstrapMarker.linePrefix + "ERROR " + text + "\n"
        _ = line.withCString { write(1, $0, strlen($0)) }
        exit(1)
    }

    /// Why the directory holding this executable is unsafe, or nil. A cache
    /// directory another user can write would let them replace the child.
    static func cacheDirectoryProblem() -> String? {
        guard let path = ownExecutablePath() else {
            return "cannot read /proc/self/exe: the static child needs /proc mounted"
        }
        guard path.split(separator: "/").last?.hasPrefix("mitogen-child-") == true,
            let slash = path.lastIndex(of: "/")
        else { return nil }  // not run from a cache directory (a development build)
        let dir = String(path[..<slash])
        var st = stat()
        guard stat(dir, &st) == 0 else { return "cannot stat cache directory \(dir)" }
        if st.st_uid != getuid() {
            return "cache directory \(dir) is owned by uid \(st.st_uid), not \(getuid()): refusing to run from it"
        }
        if st.st_mode & 0o022 != 0 {
            return "cache directory \(dir) has mode 0\(String(st.st_mode & 0o777, radix: 8)): refusing to run from it"
        }
        return nil
    }

    /// Makes `ps` show `title`: overwrites the argv strings in place (they are
    /// contiguous) and sets the thread name.
    static func setProcessTitle(_ title: String) {
        let argc = Int(CommandLine.argc)
        let argv = CommandLine.unsafeArgv
        guard argc > 0, let first = argv[0] else { return }
        let last = argv[argc - 1]!
        let end = last + strlen(last)
        let capacity = end - first
        let bytes = Array(title.utf8.prefix(max(0, capacity)))
        memset(first, 0, capacity + 1)
        bytes.withUnsafeBufferPointer { buf in
            _ = memcpy(first, buf.baseAddress!, buf.count)
        }
        _ = mitogen_set_process_name(String(title.prefix(15)))
    }
}
