import MitogenCore
import MitogenSys
import MitogenWire
/// Builtins that need the running child's router or dispatcher:
/// `mitogen.inflight` (what this context is doing now), `mitogen.routes`
/// (its routing table) and `mitogen.call_context` (a call from this context
/// to another, as routing and policies allow).
package enum RuntimeBuiltins {
    package static func register() {
        Functions.register(
            "mitogen.routes", signature: "() -> dict[int, str]",
            summary: "This context's routing table: context id -> name of the stream that leads there.",
            immediate: true
        ) { _, _, ctx in
            guard let router = ctx.routerRef as? Router else { return .dict(PyDict()) }
            var d = PyDict()
            for (id, name) in router.routeTable().sorted(by: { $0.key < $1.key }) { d[.int(Int(id))] = .str(name) }
            return .dict(d)
        }
        Functions.register(
            "mitogen.disconnect", signature: "(context_id: int) -> bool",
            summary: "Cut the stream to a direct child of this context at once (forced shutdown).",
            immediate: true
        ) { args, kwargs, ctx in
            guard let router = ctx.routerRef as? Router else { return false }
            let a = try BuiltinArguments("mitogen.disconnect", args, kwargs, parameters: ["context_id"])
            return .bool(router.disconnect(router.context(byID: try a.contextID("context_id"))))
        }
        Functions.register(
            "mitogen.call_context",
            signature: "(context_id: int, function: str, args: tuple = (), timeout: float = 10) -> object",
            summary: "Call a function in another context from this one; routing and the callee's policy decide."
        ) { args, kwargs, ctx in
            guard let router = ctx.routerRef as? Router else { throw PyException("RuntimeError", "no router") }
            let a = try BuiltinArguments("mitogen.call_context", args, kwargs, parameters: ["context_id", "function", "args", "timeout"])
            let target = router.context(byID: try a.contextID("context_id"))
            let callArgs = a.optional("args")?.sequenceValue ?? []
            let timeout = a.optional("timeout").flatMap { $0.intValue.map(Double.init) ?? { if case .float(let f) = $0 { f } else { nil } }($0) } ?? 10
            do {
                return try target.callValue(try a.string("function"), args: callArgs, timeout: timeout)
            } catch let e as ChannelError {
                throw PyException("mitogen.core.ChannelError", e.reason)
            }
        }
        Functions.register(
            "mitogen.inflight", signature: "() -> list[dict]",
            summary: "The calls running or queued in this context, oldest first, with their age in seconds.",
            immediate: true
        ) { _, _, ctx in
            let now = monotonicNow()
            let calls = ctx.router?.extensions.existing(Dispatcher.self)?.current ?? []
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
