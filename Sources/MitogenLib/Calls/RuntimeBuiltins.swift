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
            CallWire.cancelFunction, signature: "(handle: int, by: str = 'the caller') -> bool",
            summary: "Cancel the call this caller made with reply handle `handle` (queued: refused; running: stopped).",
            immediate: true
        ) { args, kwargs, ctx in
            let a = try BuiltinArguments(CallWire.cancelFunction, args, kwargs, parameters: ["handle", "by"])
            guard let handle = a.optional("handle")?.intValue, let reply = UInt32(exactly: handle) else {
                throw PyException("TypeError", "mitogen.cancel() handle must be an int in 0...2**32-1")
            }
            let by = String((try a.string("by", default: "the caller") ?? "the caller").prefix(200))
            guard let dispatcher = ctx.router?.extensions.existing(Dispatcher.self) else { return false }
            return .bool(dispatcher.cancel(callerID: ctx.callerID, replyTo: reply, by: by))
        }
        Inflight.register()
    }
}
