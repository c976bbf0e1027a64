/// Builtins that need the running child's router or dispatcher:
/// `mitogen.inflight` (what this context is doing now).
enum RuntimeBuiltins {
    static func register() {
        Functions.register(
            "mitogen.inflight", signature: "() -> list[dict]",
            summary: "The calls running or queued in this context, oldest first, with their age in seconds.",
            immediate: true
        ) { _, _, _ in
            let now = monotonicNow()
            let calls = ChildRuntime.dispatcher?.current ?? []
            return .list(
                calls.map { call in
                    .dict(
                        PyDict([
                            ("function", .str(call.function)), ("args", .str(call.arguments)),
                            ("caller", .int(Int(call.callerID))), ("age", .float(now - call.since)),
                            ("running", .bool(call.running)),
                        ]))
                })
        }
    }
}
