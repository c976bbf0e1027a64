import Glibc
import Synchronization
import Testing
import TestSupport

@testable import MitogenCore
@testable import MitogenSys

/// The Broker alone: its thread, `defer`, timers, descriptor readiness and
/// the shutdown sequence (graceful, grace time while kept alive, force, exit).
@Suite struct BrokerTests {
    /// A broker that is always shut down, without the atexit watcher.
    private func withBroker(grace: Double = 1.0, _ body: (Broker) throws -> Void) throws {
        let broker = Broker(shutdownTimeout: grace, name: "test.broker", installWatcher: false)
        defer {
            broker.shutdown()
            try? broker.join(timeout: grace + 5)
        }
        try body(broker)
    }

    @Test func deferRunsOnTheBrokerThreadInOrder() throws {
        try withBroker { broker throws in
            #expect(!broker.isOnBrokerThread)
            let seen = Latch<(Int, Bool)>()
            for i in 0..<3 {
                broker.defer { try? seen.put((i, broker.isOnBrokerThread)) }
            }
            for i in 0..<3 {
                let (n, onBroker) = try seen.get(timeout: 2)
                #expect(n == i)
                #expect(onBroker)
            }
        }
    }

    @Test func timersFireInDeadlineOrderAndCancelledOnesNever() throws {
        try withBroker { broker throws in
            let fired = Latch<String>()
            let t0 = monotonicNow()
            broker.after(0.15) { try? fired.put("late") }
            broker.after(0.05) { try? fired.put("early") }
            let cancelled = broker.after(0.10) { try? fired.put("cancelled") }
            cancelled.cancel()
            #expect(try fired.get(timeout: 2) == "early")
            #expect(monotonicNow() - t0 >= 0.045)
            #expect(try fired.get(timeout: 2) == "late")
            #expect(throws: TimeoutError.self) { try fired.get(timeout: 0.1) }
        }
    }

    @Test func readableDescriptorWakesItsHandlerUntilStopped() throws {
        try withBroker { broker throws in
            let (r, w) = try FileDescriptor.pipe()
            defer { r.close(); w.close() }
            try r.setNonBlocking(true)
            let side = BrokerSide(fd: r.rawValue, keepAlive: false)
            let got = Latch<[UInt8]>()
            broker.startReceive(side) {
                if let chunk = try? r.read(upTo: 64), !chunk.isEmpty { try? got.put(chunk) }
            }
            try w.writeAll([1, 2, 3])
            #expect(try got.get(timeout: 2) == [1, 2, 3])
            let stopped = Latch<Bool>()
            broker.defer {
                broker.stopReceive(side)
                try? stopped.put(true)
            }
            _ = try stopped.get(timeout: 2)
            try w.writeAll([4])
            #expect(throws: TimeoutError.self) { try got.get(timeout: 0.2) }
            broker.defer { broker.remove(side) }
        }
    }

    @Test func shutdownRunsGracefulThenExitAndJoinReturns() throws {
        let broker = Broker(shutdownTimeout: 1.0, name: "test.broker", installWatcher: false)
        let order = Mutex<[String]>([])
        let registered = Latch<Bool>()
        broker.defer {
            broker.addLifecycleHandlers(
                graceful: { order.withLock { $0.append("graceful") } },
                force: { order.withLock { $0.append("force") } },
                exit: { order.withLock { $0.append("exit") } })
            try? registered.put(true)
        }
        _ = try registered.get(timeout: 2)
        let t0 = monotonicNow()
        broker.shutdown()
        try broker.join(timeout: 5)
        // Nothing kept it alive: no grace time spent, and force still runs
        // before exit so every stream is cut.
        #expect(monotonicNow() - t0 < 0.5)
        #expect(order.withLock { $0 } == ["graceful", "force", "exit"])
        #expect(!broker.isRunning)
    }

    @Test func aKeptAliveSideHoldsShutdownForTheGraceTimeThenIsForced() throws {
        let broker = Broker(shutdownTimeout: 0.3, name: "test.broker", installWatcher: false)
        let (r, w) = try FileDescriptor.pipe()
        defer { r.close(); w.close() }
        let side = BrokerSide(fd: r.rawValue, keepAlive: true)
        let forced = Latch<Double>()
        let t0 = monotonicNow()
        broker.defer {
            broker.startReceive(side) {}
            broker.addLifecycleHandlers(force: {
                broker.remove(side)
                try? forced.put(monotonicNow() - t0)
            })
        }
        broker.shutdown()
        let after = try forced.get(timeout: 5)
        #expect(after >= 0.25 && after < 2.0)
        try broker.join(timeout: 5)
    }

    @Test func joinTimesOutWhileTheBrokerRuns() throws {
        try withBroker { broker throws in
            #expect(throws: TimeoutError.self) { try broker.join(timeout: 0.05) }
            #expect(broker.isRunning)
        }
    }
}
