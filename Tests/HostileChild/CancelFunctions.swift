import Glibc
import MitogenCalls
import MitogenWire

/// Functions written the way a user's Swift child would, for the
/// cancellation tests (this binary is the one test child we build).
enum CancelFunctions {
    struct Spin: Codable, Sendable { var seconds: Double }

    static func register() {
        /// test.poll_cancel(seconds): busy for `seconds`, polling its cancel
        /// flag every 10 ms; returns the number of polls, or raises on cancel.
        Functions.register("test.poll_cancel") { (a: Spin, ctx: CallContext) throws -> Int in
            let end = monotonicSeconds() + a.seconds
            var polls = 0
            while monotonicSeconds() < end {
                try ctx.checkCancellation()
                polls += 1
                usleep(10_000)
            }
            return polls
        }
        /// test.async_sleep(seconds): `Task.sleep`, which a cancel interrupts.
        Functions.register("test.async_sleep") { (a: Spin, _: CallContext) async throws -> Bool in
            try await Task.sleep(nanoseconds: UInt64(a.seconds * 1e9))
            return Task.isCancelled
        }
        /// test.ignore_cancel(seconds): sleeps without looking at its cancel flag.
        Functions.register("test.ignore_cancel") { (a: Spin, _: CallContext) throws -> Bool in
            usleep(UInt32(a.seconds * 1e6))
            return true
        }
    }

    private static func monotonicSeconds() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) * 1e-9
    }
}
