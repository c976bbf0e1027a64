import CMitogenSys
import Synchronization

/// A mutual-exclusion lock around a value: `Synchronization.Mutex`, which
/// ThreadSanitizer can also see.
///
/// `Mutex` locks with a futex inside the Swift runtime, which is not
/// instrumented, so under `--sanitize=thread` every value it protects looks
/// raced. Built with `-DMITOGEN_TSAN` (scripts/sanitize.sh does), each
/// critical section tells the sanitizer it acquires and releases the lock;
/// in other builds this is exactly a `Mutex`.
package struct Lock<Value: ~Copyable>: ~Copyable {
    private let mutex: Mutex<Value>

    package init(_ initialValue: consuming sending Value) {
        mutex = Mutex(initialValue)
    }

    /// Runs `body` with the value, holding the lock.
    @inline(__always)
    package borrowing func withLock<Result: ~Copyable, E: Error>(
        _ body: (inout sending Value) throws(E) -> sending Result
    ) throws(E) -> sending Result {
        #if MITOGEN_TSAN
        // The lock's own address names it to the sanitizer (touching the
        // value before the acquire would itself look like a race).
        let token = withUnsafePointer(to: self) { UnsafeMutableRawPointer(mutating: $0) }
        #endif
        return try mutex.withLock { (value: inout sending Value) throws(E) -> sending Result in
            #if MITOGEN_TSAN
            mitogen_tsan_acquire(token)
            defer { mitogen_tsan_release(token) }
            #endif
            return try body(&value)
        }
    }
}

extension Lock: @unchecked Sendable where Value: ~Copyable {}
