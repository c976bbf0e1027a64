import CMitogenSys
import Glibc
import MitogenCore
import MitogenSys
import MitogenWire

/// The `time` builtins: `sleep`, `time`, `monotonic`.
enum BuiltinTime {
    static func register() {
        Functions.register("time.sleep", signature: "(secs: float) -> None", summary: "Block the calling thread for a number of seconds (a cancel wakes it).") { args, kwargs, ctx in
            let a = try BuiltinArguments("time.sleep", args, kwargs, parameters: ["secs"])
            guard let seconds = try a.seconds("secs") else { throw a.mismatch("secs", expected: "int or float", got: .none) }
            guard seconds >= 0 else { throw PythonErrors.valueError("sleep length must be non-negative") }
            guard seconds.isFinite, seconds < Double(Int.max) else { throw PyException("OverflowError", "sleep length is too large") }
            ctx.sleep(seconds)  // wakes early on a cancel; the dispatcher then answers CancelledError
            return .none
        }
        Functions.register("time.time", signature: "() -> float", summary: "Seconds since the Unix epoch (CLOCK_REALTIME).") { args, kwargs, _ in
            _ = try BuiltinArguments("time.time", args, kwargs, parameters: [])
            return .float(clockSeconds(CLOCK_REALTIME))
        }
        Functions.register("time.monotonic", signature: "() -> float", summary: "Seconds of CLOCK_MONOTONIC.") { args, kwargs, _ in
            _ = try BuiltinArguments("time.monotonic", args, kwargs, parameters: [])
            return .float(clockSeconds(CLOCK_MONOTONIC))
        }
    }

    /// `clock_gettime(clock)` in seconds.
    static func clockSeconds(_ clock: clockid_t) -> Double {
        var now = timespec()
        clock_gettime(clock, &now)
        return Double(now.tv_sec) + Double(now.tv_nsec) * 1e-9
    }
}
