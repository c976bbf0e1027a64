import CMitogenSys
import Glibc
import Synchronization
import MitogenWire
import MitogenSys

/// A thread-safe queue that blocks readers until an item arrives: the place
/// every user thread waits in MitogenLib (`Receiver.get`, `Select.get`, calls).
///
/// Semantics of Mitogen's Latch: `get` on a closed latch throws `LatchError`;
/// an empty latch with `block: false` or a passed timeout throws
/// `TimeoutError`; `close` wakes every sleeper with `LatchError`; `put` after
/// close throws `LatchError`. Items are handed out in FIFO order, to sleepers
/// in arrival order.
///
/// Waits use a `pthread_cond_t` on `CLOCK_MONOTONIC`, so a wall-clock jump
/// neither shortens nor prolongs a timeout. `Synchronization.Mutex` cannot pair
/// with a condition variable, hence the heap-allocated pthread objects
/// (DESIGN §4, STYLE.md habit 6). Async waiters are served too (`value()`).
public final class Latch<Element: Sendable>: @unchecked Sendable {
    // @unchecked: every stored var is read and written only with `mutex` held.
    private let mutex: UnsafeMutablePointer<pthread_mutex_t>
    private let cond: UnsafeMutablePointer<pthread_cond_t>
    private var items: [Element] = []
    private var head = 0
    private var closed = false
    private var sleepers = 0
    private var asyncWaiters: [(id: UInt64, cont: CheckedContinuation<Element, any Error>)] = []
    private var nextWaiterID: UInt64 = 0
    /// Called (outside the lock) after each `put`; Receiver and Select use it.
    private var notify: (@Sendable () -> Void)?
    /// Bumped by every `put`: lets a spinning `get` see an item without the lock.
    private let puts = Atomic<Int>(0)

    public init() {
        mutex = .allocate(capacity: 1)
        mutex.initialize(to: pthread_mutex_t())
        pthread_mutex_init(mutex, nil)
        cond = .allocate(capacity: 1)
        cond.initialize(to: pthread_cond_t())
        var attr = pthread_condattr_t()
        pthread_condattr_init(&attr)
        pthread_condattr_setclock(&attr, CLOCK_MONOTONIC)
        pthread_cond_init(cond, &attr)
        pthread_condattr_destroy(&attr)
    }

    deinit {
        pthread_cond_destroy(cond)
        pthread_mutex_destroy(mutex)
        cond.deallocate()
        mutex.deallocate()
    }

    @inline(__always) private func locked<T>(_ body: () throws -> T) rethrows -> T {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return try body()
    }

    /// Number of queued items.
    public var count: Int { locked { items.count - head } }

    /// True if `get(block: false)` would throw `TimeoutError` now.
    public var isEmpty: Bool { locked { items.count == head } }

    public var isClosed: Bool { locked { closed } }

    /// Threads asleep in `get` now (tests use it to close a latch under a
    /// sleeper that is really asleep).
    package var sleeperCount: Int { locked { sleepers } }

    /// Installs a function called after every `put`. Returns whether the latch
    /// held items at installation, so the caller can avoid missing a wake-up.
    @discardableResult
    public func setNotify(_ fn: (@Sendable () -> Void)?) -> Bool {
        locked {
            notify = fn
            return items.count > head
        }
    }

    /// Enqueues `item`, waking one sleeper.
    /// - Throws: `LatchError` if the latch is closed.
    public func put(_ item: Element) throws(LatchError) {
        pthread_mutex_lock(mutex)
        if closed {
            pthread_mutex_unlock(mutex)
            throw LatchError()
        }
        if !asyncWaiters.isEmpty {
            let waiter = asyncWaiters.removeFirst()
            let fn = notify
            pthread_mutex_unlock(mutex)
            waiter.cont.resume(returning: item)
            fn?()
            return
        }
        items.append(item)
        puts.add(1, ordering: .releasing)
        let wake = sleepers > 0
        let fn = notify
        pthread_mutex_unlock(mutex)
        if wake { pthread_cond_signal(cond) }
        fn?()
    }

    /// Takes the next item, sleeping up to `timeout` seconds (forever if nil).
    /// - Parameter spin: seconds to busy-wait for an item before sleeping.
    ///   A reply that lands within it skips a futex sleep and wake-up, which on
    ///   a VM costs tens of microseconds when the waker runs on another CPU;
    ///   callers expecting a fast answer (a call's reply) use a few tens of µs.
    /// - Throws: `LatchError` if closed, `TimeoutError` if nothing arrived in time.
    public func get(timeout: Double? = nil, block: Bool = true, spin: Double = 0) throws -> Element {
        if spin > 0 && block {
            let seen = puts.load(ordering: .acquiring)
            let until = monotonicNow() + Swift.min(spin, timeout ?? spin)
            while puts.load(ordering: .acquiring) == seen && monotonicNow() < until {}
        }
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        var deadline = timespec()
        if let timeout {
            clock_gettime(CLOCK_MONOTONIC, &deadline)
            let whole = timeout.rounded(.down)
            deadline.tv_sec += Int(whole)
            deadline.tv_nsec += Int((timeout - whole) * 1e9)
            if deadline.tv_nsec >= 1_000_000_000 {
                deadline.tv_sec += 1
                deadline.tv_nsec -= 1_000_000_000
            }
        }
        while true {
            if closed { throw LatchError() }
            if items.count > head { return takeLocked() }
            if !block { throw TimeoutError("Latch.get") }
            sleepers += 1
            let rc = timeout == nil ? pthread_cond_wait(cond, mutex) : pthread_cond_timedwait(cond, mutex, &deadline)
            sleepers -= 1
            if rc == ETIMEDOUT {
                if closed { throw LatchError() }
                if items.count > head { return takeLocked() }
                throw TimeoutError("Latch.get")
            }
        }
    }

    /// The async twin of `get()`: suspends instead of blocking a thread.
    /// Cancelling the task ends the wait with `CancellationError`.
    public func value() async throws -> Element {
        let id: UInt64 = locked {
            nextWaiterID += 1
            return nextWaiterID
        }
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (cont: CheckedContinuation<Element, any Error>) in
                pthread_mutex_lock(mutex)
                if closed {
                    pthread_mutex_unlock(mutex)
                    cont.resume(throwing: LatchError())
                } else if items.count > head {
                    let item = takeLocked()
                    pthread_mutex_unlock(mutex)
                    cont.resume(returning: item)
                } else if Task.isCancelled {
                    pthread_mutex_unlock(mutex)
                    cont.resume(throwing: CancellationError())
                } else {
                    asyncWaiters.append((id, cont))
                    pthread_mutex_unlock(mutex)
                }
            }
        } onCancel: {
            let waiter: CheckedContinuation<Element, any Error>? = locked {
                guard let i = asyncWaiters.firstIndex(where: { $0.id == id }) else { return nil }
                return asyncWaiters.remove(at: i).cont
            }
            waiter?.resume(throwing: CancellationError())
        }
    }

    /// Closes the latch: every sleeper, now and later, gets `LatchError`.
    public func close() {
        let waiters: [CheckedContinuation<Element, any Error>] = locked {
            closed = true
            defer { asyncWaiters.removeAll() }
            return asyncWaiters.map(\.cont)
        }
        pthread_cond_broadcast(cond)
        for w in waiters { w.resume(throwing: LatchError()) }
    }

    private func takeLocked() -> Element {
        let item = items[head]
        head += 1
        if head == items.count {
            items.removeAll(keepingCapacity: true)
            head = 0
        } else if head > 64 && head * 2 > items.count {
            items.removeFirst(head)
            head = 0
        }
        return item
    }
}
