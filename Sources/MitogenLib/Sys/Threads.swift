package import CMitogenSys
import Glibc

/// Starts a named, detached POSIX thread running `body` (no Foundation
/// `Thread` in the library). Detached, because a joinable thread that nobody
/// joins keeps its stack mapped after it ends; a caller that waits for the
/// thread uses `startJoinableThread` instead.
package func startThread(name: String, _ body: @escaping @Sendable () -> Void) {
    _ = createThread(name: name, joinable: false, body)
}

/// Starts a named thread that the caller must `pthread_join`.
package func startJoinableThread(name: String, _ body: @escaping @Sendable () -> Void) -> pthread_t {
    createThread(name: name, joinable: true, body)
}

private func createThread(name: String, joinable: Bool, _ body: @escaping @Sendable () -> Void) -> pthread_t {
    final class Box: @unchecked Sendable {
        // @unchecked: written once before pthread_create, read once by the new thread.
        let body: @Sendable () -> Void
        let name: String
        init(_ body: @escaping @Sendable () -> Void, _ name: String) {
            self.body = body
            self.name = name
        }
    }
    let box = Unmanaged.passRetained(Box(body, name)).toOpaque()
    var thread = pthread_t()
    var attributes = pthread_attr_t()
    pthread_attr_init(&attributes)
    defer { pthread_attr_destroy(&attributes) }
    pthread_attr_setdetachstate(&attributes, Int32(joinable ? PTHREAD_CREATE_JOINABLE : PTHREAD_CREATE_DETACHED))
    let rc = pthread_create(&thread, &attributes, { raw in
        let box = Unmanaged<Box>.fromOpaque(raw!).takeRetainedValue()
        _ = mitogen_set_thread_name(String(box.name.prefix(15)))
        box.body()
        return nil
    }, box)
    precondition(rc == 0, "pthread_create failed: \(rc)")
    return thread
}

/// Monotonic seconds, for deadlines and ages.
public func monotonicNow() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
}

/// Wall-clock seconds since the epoch.
public func wallClockNow() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_REALTIME, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
}
