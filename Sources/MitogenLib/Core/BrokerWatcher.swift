import CMitogenSys
import Glibc
import Synchronization
import MitogenSys

/// Shuts down gracefully every broker that asked for it (`installWatcher`)
/// when the process exits or is told to stop: the seed's fail-safe for
/// programs that forget to call `shutdown`.
///
/// Mitogen watches the main thread from another thread. In Swift, returning
/// from `main` runs `exit`, so an `atexit` hook plays that role. SIGINT and
/// SIGTERM would kill the process without `atexit`, leaving children to
/// notice on their own and skipping exit work (profiles, logs): when their
/// disposition is still the default (a host program's own handler is never
/// replaced), the first such signal makes a watcher thread shut the brokers
/// down gracefully and then die of that signal as before; a second one ends
/// the process at once.
enum BrokerWatcher {
    private final class Weak: @unchecked Sendable {
        // @unchecked: `broker` is a weak reference read under `watched`'s lock
        // or after the process began to exit.
        weak var broker: Broker?
        init(_ b: Broker) { broker = b }
    }
    private static let watched = Lock<[Weak]>([])
    private static let installed = Atomic<Bool>(false)

    static func watch(_ broker: Broker) {
        watched.withLock { list in
            list.removeAll { $0.broker == nil }
            list.append(Weak(broker))
        }
        guard !installed.exchange(true, ordering: .acquiringAndReleasing) else { return }
        atexit {
            BrokerWatcher.shutdownAll()
            // The program may leave on its own (its calls failed as the brokers
            // stopped) while the watcher handles a signal: it still dies of it.
            let sig = handlingSignal.load(ordering: .acquiring)
            if sig != 0 {
                signal(sig, SIG_DFL)
                raise(sig)
            }
        }
        installSignalWatch()
    }

    /// Shuts down and joins every watched broker still running, from any
    /// thread but their own.
    private static func shutdownAll() {
        for entry in watched.withLock({ $0 }) {
            guard let b = entry.broker, b.isRunning, !b.isOnBrokerThread else { continue }
            b.shutdown()
            try? b.join(timeout: b.shutdownTimeout + 1)
        }
    }

    private static func installSignalWatch() {
        // One eventfd: the handler adds to it (async-signal-safe, never blocks
        // before its counter would overflow), the watcher thread waits on it.
        let wake = eventfd(0, Int32(EFD_CLOEXEC))
        guard wake >= 0 else { return }
        signalWake.store(wake, ordering: .releasing)
        var hooked = false
        for sig in [SIGINT, SIGTERM] {
            var current = sigaction()
            guard sigaction(sig, nil, &current) == 0, current.sa_flags & SA_SIGINFO == 0,
                current.__sigaction_handler.sa_handler == nil  // SIG_DFL
            else { continue }
            var action = sigaction()
            action.__sigaction_handler.sa_handler = onSignal
            sigemptyset(&action.sa_mask)
            action.sa_flags = SA_RESTART
            if sigaction(sig, &action, nil) == 0 { hooked = true }
        }
        guard hooked else { return }
        startThread(name: "mitogen.watcher") {
            var count: UInt64 = 0
            while read(wake, &count, 8) < 0 && errno == EINTR {}
            let sig = receivedSignal.load(ordering: .acquiring)
            handlingSignal.store(sig, ordering: .releasing)
            logWarning("signal \(sig): shutting down gracefully (again to stop at once)")
            shutdownAll()
            signal(sig, SIG_DFL)
            kill(getpid(), sig)
        }
    }
}

/// The watcher's eventfd and the signal that woke it, shared with the
/// signal handler (atomic loads and stores are async-signal-safe).
private let signalWake = Atomic<Int32>(-1)
private let receivedSignal = Atomic<Int32>(0)
private let signalled = Atomic<Bool>(false)
/// The signal the watcher thread is acting on (0: none).
private let handlingSignal = Atomic<Int32>(0)

/// Async-signal-safe: tells the watcher thread, or on a second signal dies
/// of it at once.
private func onSignal(_ sig: Int32) {
    if signalled.exchange(true, ordering: .relaxed) {
        signal(sig, SIG_DFL)
        raise(sig)
        return
    }
    receivedSignal.store(sig, ordering: .releasing)
    var one: UInt64 = 1
    _ = write(signalWake.load(ordering: .relaxed), &one, 8)
}
