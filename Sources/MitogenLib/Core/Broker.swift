import CMitogenSys
import Glibc
import Synchronization
import MitogenWire
import MitogenSys

/// One readable/writable descriptor the Broker watches, with what to do when
/// it is ready (Mitogen's `Side`). Handlers run on the broker thread.
public final class BrokerSide: @unchecked Sendable {
    // @unchecked: `interest`, the handlers and `registration` are touched only on the broker thread.
    public let fd: Int32
    /// Keeps the broker alive during shutdown while this side is registered
    /// (Mitogen's `Side.keep_alive`, e.g. while draining logs).
    public var keepAlive: Bool
    var onReadable: (() -> Void)?
    var onWritable: (() -> Void)?
    /// Finishes what `onReadable` left undone when a handler handed the loop
    /// off mid-way (e.g. frames already read but not yet routed). Runs on the
    /// new leader.
    var onHandOff: (() -> Void)?
    var interest: UInt32 = 0
    var registration: UInt64 = 0

    public init(fd: Int32, keepAlive: Bool = true) {
        self.fd = fd
        self.keepAlive = keepAlive
    }
}

/// A cancellable timer on the broker thread.
public final class BrokerTimer: @unchecked Sendable {
    // @unchecked: `cancelled` is an atomic; the rest is immutable.
    let deadline: Double
    let fn: @Sendable () -> Void
    private let cancelled = Atomic<Bool>(false)
    init(deadline: Double, fn: @escaping @Sendable () -> Void) {
        self.deadline = deadline
        self.fn = fn
    }
    public func cancel() { cancelled.store(true, ordering: .relaxed) }
    var isCancelled: Bool { cancelled.load(ordering: .relaxed) }
}

/// The I/O multiplexer: one thread running an epoll loop over non-blocking
/// descriptors, with an eventfd to wake it for `defer` and a timer list.
///
/// User threads never touch a descriptor the broker owns; they hand work to
/// the broker with `defer`, which runs it on the broker thread (at once if
/// already there). `shutdown()` asks every registered participant to close
/// gracefully, waits up to `shutdownTimeout` seconds while `keepAlive` holds,
/// then forces the rest and runs the exit handlers; `join()` waits for that.
///
/// ```swift
/// let broker = Broker()
/// broker.defer { print("on the broker thread") }
/// broker.shutdown(); broker.join()
/// ```
public final class Broker: @unchecked Sendable {
    // @unchecked: loop state (`sides`, `timers`, `state`) is touched only on the
    // broker thread (asserted); cross-thread entries go through `queue` (a Mutex)
    // and the eventfd.

    /// Grace seconds for streams to close during `shutdown` (seed: 3.0 in a
    /// child, 5.0 in a master).
    public let shutdownTimeout: Double

    private let epfd: Int32
    private let wakeFD: Int32
    private let queue = Lock<[@Sendable () -> Void]>([])
    private let wakePending = Atomic<Bool>(false)
    /// The thread running the loop now (the leader); 0 during a hand-off.
    private let threadID = Atomic<UInt>(0)
    /// Leadership tokens for spare threads (see `handOffLoop`).
    private let followerTokens = Latch<Bool>()
    private let idleFollowers = Atomic<Int>(0)
    private let name: String
    private let exited = Latch<Bool>()
    private let running = Atomic<Bool>(true)

    private var sides: [UInt64: BrokerSide] = [:]
    /// The side whose handler is running now (loop thread only).
    private var activeSide: BrokerSide?
    private var nextRegistration: UInt64 = 1
    private var timers: [BrokerTimer] = []
    private var shutdownDeadline: Double?
    private var shutdownHandlers: [() -> Void] = []
    private var forceHandlers: [() -> Void] = []
    private var exitHandlers: [() -> Void] = []

    /// Seconds a master's broker waits for its children at shutdown (Mitogen's 5.0).
    public static let masterShutdownGrace = 5.0
    /// Seconds a child's broker waits for its own children (Mitogen's 3.0).
    public static let childShutdownGrace = 3.0

    /// Starts the broker thread.
    /// - Parameter installWatcher: shut this broker down gracefully when the
    ///   process exits or is interrupted (the seed's fail-safe for programs
    ///   that forget to; see `BrokerWatcher`).
    public init(
        shutdownTimeout: Double = Broker.masterShutdownGrace, name: String = "mitogen.broker", installWatcher: Bool = true
    ) {
        self.shutdownTimeout = shutdownTimeout
        // A write to a closed pipe must be an EPIPE result, never a fatal signal.
        signal(SIGPIPE, SIG_IGN)
        epfd = epoll_create1(Int32(EPOLL_CLOEXEC))
        precondition(epfd >= 0, "epoll_create1 failed: errno \(errno)")
        wakeFD = eventfd(0, Int32(EFD_CLOEXEC | EFD_NONBLOCK))
        precondition(wakeFD >= 0, "eventfd failed: errno \(errno)")
        var ev = epoll_event(events: EPOLLIN.rawValue, data: epoll_data_t(u64: 0))
        epoll_ctl(epfd, EPOLL_CTL_ADD, wakeFD, &ev)
        self.name = name
        if installWatcher { BrokerWatcher.watch(self) }
        startThread(name: name) { [self] in
            threadID.store(UInt(pthread_self()), ordering: .releasing)
            blockAsyncSignalsOnThisThread()
            loop()
            followLoop()
        }
    }

    /// How many `epoll_ctl(ADD)` calls failed (a descriptor closed before
    /// its registration ran). Always 0 unless a participant has a bug; tests check it.
    package var failedRegistrations: Int { failedAdds.load(ordering: .relaxed) }
    private let failedAdds = Atomic<Int>(0)
    /// True when called on this broker's thread.
    public var isOnBrokerThread: Bool { threadID.load(ordering: .acquiring) == UInt(pthread_self()) }

    /// True until the broker thread has finished its exit handlers.
    public var isRunning: Bool { running.load(ordering: .acquiring) }

    /// Runs `fn` on the broker thread: now if this is the broker thread,
    /// otherwise soon. Safe from any thread. Work deferred after exit is dropped.
    public func `defer`(_ fn: @escaping @Sendable () -> Void) {
        if isOnBrokerThread {
            fn()
            return
        }
        queue.withLock { $0.append(fn) }
        wake()
    }

    private func wake() {
        if !wakePending.exchange(true, ordering: .acquiringAndReleasing) {
            var one: UInt64 = 1
            _ = write(wakeFD, &one, 8)
        }
    }

    // MARK: Registration
    // Safe from any thread: on the broker thread they take effect at once,
    // elsewhere they are deferred to it (in call order).

    /// Starts delivering readability of `side` to `handler` (on the broker thread).
    public func startReceive(_ side: BrokerSide, _ handler: @escaping () -> Void) {
        onBroker(UncheckedBox(handler)) { broker, handler in
            side.onReadable = handler.value
            broker.update(side, interest: side.interest | EPOLLIN.rawValue)
        }
    }

    /// Stops delivering readability of `side`.
    public func stopReceive(_ side: BrokerSide) {
        onBroker { broker in broker.update(side, interest: side.interest & ~EPOLLIN.rawValue) }
    }

    /// Starts delivering writability of `side` to `handler` (on the broker thread).
    public func startTransmit(_ side: BrokerSide, _ handler: @escaping () -> Void) {
        onBroker(UncheckedBox(handler)) { broker, handler in
            side.onWritable = handler.value
            broker.update(side, interest: side.interest | EPOLLOUT.rawValue)
        }
    }

    /// Stops delivering writability of `side`.
    public func stopTransmit(_ side: BrokerSide) {
        onBroker { broker in broker.update(side, interest: side.interest & ~EPOLLOUT.rawValue) }
    }

    /// Stops watching `side` entirely (before its fd is closed), and drops its
    /// handlers: they usually capture the side's owner, which holds the side,
    /// so keeping them would keep both alive for ever (a leaked stream per
    /// disconnected child).
    public func remove(_ side: BrokerSide) {
        onBroker { broker in
            broker.update(side, interest: 0)
            side.onReadable = nil
            side.onWritable = nil
            side.onHandOff = nil
        }
    }

    /// Runs `body` on the broker thread: now when already there, else deferred.
    private func onBroker(_ body: @escaping @Sendable (Broker) -> Void) {
        self.defer { [self] in body(self) }
    }

    private func onBroker<T>(_ value: UncheckedBox<T>, _ body: @escaping @Sendable (Broker, UncheckedBox<T>) -> Void) {
        self.defer { [self] in body(self, value) }
    }

    private func update(_ side: BrokerSide, interest: UInt32) {
        guard interest != side.interest || (interest != 0 && side.registration == 0) else { return }
        if interest == 0 {
            if side.registration != 0 {
                epoll_ctl(epfd, EPOLL_CTL_DEL, side.fd, nil)
                sides[side.registration] = nil
                side.registration = 0
            }
        } else if side.registration == 0 {
            side.registration = nextRegistration
            nextRegistration += 1
            sides[side.registration] = side
            var ev = epoll_event(events: interest, data: epoll_data_t(u64: side.registration))
            if epoll_ctl(epfd, EPOLL_CTL_ADD, side.fd, &ev) != 0 {
                // The descriptor was closed before its deferred registration
                // ran (a stream cut while a write was queued): nothing to
                // watch, and never a reason to stop the broker.
                logWarning("cannot watch fd \(side.fd): \(Errno.current)")
                failedAdds.add(1, ordering: .relaxed)
                sides[side.registration] = nil
                side.registration = 0
                return
            }
        } else {
            var ev = epoll_event(events: interest, data: epoll_data_t(u64: side.registration))
            epoll_ctl(epfd, EPOLL_CTL_MOD, side.fd, &ev)
        }
        side.interest = interest
    }

    /// Runs `fn` on the broker thread after `seconds`. Safe from any thread.
    @discardableResult
    public func after(_ seconds: Double, _ fn: @escaping @Sendable () -> Void) -> BrokerTimer {
        let timer = BrokerTimer(deadline: monotonicNow() + seconds, fn: fn)
        self.defer { [self] in
            let i = timers.firstIndex { $0.deadline > timer.deadline } ?? timers.count
            timers.insert(timer, at: i)
        }
        return timer
    }

    /// Registers work for `shutdown()`: `graceful` runs when shutdown starts,
    /// `force` when the grace time is over, `exit` just before the thread ends.
    package func addLifecycleHandlers(graceful: (() -> Void)? = nil, force: (() -> Void)? = nil, exit: (() -> Void)? = nil) {
        assertOnBroker()
        if let graceful { shutdownHandlers.append(graceful) }
        if let force { forceHandlers.append(force) }
        if let exit { exitHandlers.append(exit) }
    }

    /// True while any registered side asks to be kept alive, or a router on
    /// this broker still has a context connected other than the master (the
    /// seed's `keep_alive`). Shutdown waits while it holds, up to its grace.
    ///
    /// Safe from any thread: off the broker thread it asks the broker and
    /// waits for the answer (false once the broker has stopped).
    public var keepAlive: Bool {
        if isOnBrokerThread { return keepAliveNow() }
        guard isRunning else { return false }
        let answer = Latch<Bool>()
        self.defer { [self] in try? answer.put(keepAliveNow()) }
        // Work deferred while the broker exits is dropped: bounded wait.
        return (try? answer.get(timeout: shutdownTimeout + 1)) ?? false
    }

    private func keepAliveNow() -> Bool {
        sides.values.contains { $0.keepAlive } || keepAliveChecks.withLock { $0 }.contains { $0() }
    }

    /// Adds a source of liveness for ``keepAlive`` (a router's connected
    /// contexts). `check` runs on the broker thread and must not block.
    package func addKeepAliveCheck(_ check: @escaping @Sendable () -> Bool) {
        keepAliveChecks.withLock { $0.append(check) }
    }
    private let keepAliveChecks = Lock<[@Sendable () -> Bool]>([])

    /// Asks the broker to shut down gracefully. Safe from any thread; returns at once.
    public func shutdown() {
        self.defer { [self] in
            guard shutdownDeadline == nil else { return }
            shutdownDeadline = monotonicNow() + shutdownTimeout
            Signals.fire(self, "shutdown")
            for h in shutdownHandlers { h() }
        }
    }

    /// Waits until the broker thread has exited (after `shutdown()`).
    /// - Parameter timeout: seconds to wait, nil for ever.
    /// - Throws: `TimeoutError` if it is still running then.
    public func join(timeout: Double? = nil) throws(TimeoutError) {
        if !isRunning { return }
        do {
            _ = try exited.get(timeout: timeout)
            try? exited.put(true)  // let other joiners through too
        } catch let e as TimeoutError {
            throw e
        } catch {
            return
        }
    }

    /// Lets a handler keep the current thread for long work (a function
    /// call in a child) while another thread takes over the loop at once:
    /// the leader/followers pattern. The caller must not touch loop state
    /// afterwards (it is no longer the broker thread: `defer` works as from
    /// any thread); when its handler returns, the thread becomes a spare.
    ///
    /// This keeps the child's call path free of thread hand-offs: the thread
    /// that read the request runs it and writes the reply.
    package func handOffLoop() {
        assertOnBroker()
        if let side = activeSide, side.onHandOff != nil {
            // The new leader first finishes what this side's handler left undone.
            queue.withLock {
                $0.insert({ [self] in runAsActive(side) { side.onHandOff?() } }, at: 0)
            }
            wakePending.store(true, ordering: .releasing)
            var one: UInt64 = 1
            _ = write(wakeFD, &one, 8)
        }
        activeSide = nil
        threadID.store(0, ordering: .releasing)
        if idleFollowers.load(ordering: .acquiring) == 0 {
            startThread(name: name) { [self] in
                blockAsyncSignalsOnThisThread()
                followLoop()
            }
        }
        try? followerTokens.put(true)
    }

    /// A spare thread: waits for a leadership token and runs the loop.
    private func followLoop() {
        while running.load(ordering: .acquiring) {
            idleFollowers.add(1, ordering: .acquiringAndReleasing)
            let token = try? followerTokens.get()
            idleFollowers.subtract(1, ordering: .acquiringAndReleasing)
            guard token != nil else { return }
            threadID.store(UInt(pthread_self()), ordering: .releasing)
            loop()
        }
    }

    private func runAsActive(_ side: BrokerSide, _ body: () -> Void) {
        let previous = activeSide
        activeSide = side
        body()
        if stillLeader { activeSide = previous }
    }

    private var stillLeader: Bool { threadID.load(ordering: .acquiring) == UInt(pthread_self()) }

    private func assertOnBroker() {
        assert(isOnBrokerThread, "must run on the broker thread")
    }

    // MARK: The loop

    /// Runs the loop while this thread is the leader; returns early if a
    /// handler handed the loop off, or after the exit handlers.
    private func loop() {
        var events = [epoll_event](repeating: epoll_event(), count: 64)
        while true {
            runDeferred()
            guard stillLeader else { return }
            runTimers()
            guard stillLeader else { return }
            if let deadline = shutdownDeadline {
                if !keepAliveNow() || monotonicNow() >= deadline { break }
            }
            let timeoutMS = nextTimeoutMS()
            let n = events.withUnsafeMutableBufferPointer { epoll_wait(epfd, $0.baseAddress, 64, timeoutMS) }
            if n < 0 {
                precondition(errno == EINTR, "epoll_wait failed: errno \(errno)")
                continue
            }
            for i in 0..<Int(n) {
                // After a hand-off the rest of the batch is the new leader's:
                // epoll is level-triggered, so it sees those events again.
                guard stillLeader else { return }
                let reg = events[i].data.u64
                let flags = events[i].events
                if reg == 0 {
                    var value: UInt64 = 0
                    _ = read(wakeFD, &value, 8)
                    wakePending.store(false, ordering: .releasing)
                    continue
                }
                // Hang-up and error count as readable: the reader sees EOF or the error.
                if flags & (EPOLLIN.rawValue | EPOLLHUP.rawValue | EPOLLERR.rawValue) != 0,
                    let side = sides[reg], side.interest & EPOLLIN.rawValue != 0
                {
                    runAsActive(side) { side.onReadable?() }
                    guard stillLeader else { return }
                }
                if flags & (EPOLLOUT.rawValue | EPOLLERR.rawValue | EPOLLHUP.rawValue) != 0,
                    let side = sides[reg], side.interest & EPOLLOUT.rawValue != 0
                {
                    side.onWritable?()
                }
            }
        }
        for h in forceHandlers { h() }
        runDeferred()
        Signals.fire(self, "exit")
        for h in exitHandlers { h() }
        running.store(false, ordering: .releasing)
        followerTokens.close()
        // Drop anything deferred after exit rather than leaking it silently,
        // and every handler: one that captures this broker (a program's
        // lifecycle handler, a side's reader) would otherwise keep it alive
        // for ever through a cycle.
        queue.withLock { q in q.removeAll() }
        shutdownHandlers.removeAll()
        forceHandlers.removeAll()
        exitHandlers.removeAll()
        timers.removeAll()
        for side in sides.values {
            side.onReadable = nil
            side.onWritable = nil
            side.onHandOff = nil
        }
        sides.removeAll()
        activeSide = nil
        close(epfd)
        close(wakeFD)
        try? exited.put(true)
    }

    private func runDeferred() {
        while stillLeader {
            let work = queue.withLock { q -> [@Sendable () -> Void] in
                defer { q.removeAll(keepingCapacity: true) }
                return q
            }
            if work.isEmpty { return }
            for (i, fn) in work.enumerated() {
                guard stillLeader else {
                    // Handed off mid-batch: give the rest back, in order, to the new leader.
                    queue.withLock { $0.insert(contentsOf: work[i...], at: 0) }
                    wake()
                    return
                }
                fn()
            }
        }
    }

    private func runTimers() {
        guard !timers.isEmpty else { return }
        let now = monotonicNow()
        while let first = timers.first, first.deadline <= now {
            timers.removeFirst()
            if !first.isCancelled { first.fn() }
        }
        timers.removeAll { $0.isCancelled }
    }

    private func nextTimeoutMS() -> Int32 {
        var next = timers.first?.deadline
        if let d = shutdownDeadline { next = min(next ?? d, d) }
        guard let next else { return -1 }
        let ms = (next - monotonicNow()) * 1000
        return ms <= 0 ? 0 : Int32(min(ms.rounded(.up), 60_000))
    }
}

/// Keeps SIGWINCH, SIGCHLD and friends on the main thread: the broker and
/// worker threads block them (btop's rule; the console relies on it).
/// Carries a non-Sendable value (a handler that will only ever run on the
/// broker thread) across to the broker thread.
private struct UncheckedBox<T>: @unchecked Sendable {
    // @unchecked: the value is created on one thread and then used only on
    // the broker thread, never concurrently.
    let value: T
    init(_ value: T) { self.value = value }
}

func blockAsyncSignalsOnThisThread() {
    var set = sigset_t()
    sigemptyset(&set)
    for s in [SIGWINCH, SIGCHLD, SIGINT, SIGTERM, SIGHUP] { sigaddset(&set, s) }
    pthread_sigmask(SIG_BLOCK, &set, nil)
}
