import MitogenCore
import MitogenSys
import MitogenWire

/// `mitogen.inflight`: what this context is doing now, in terms an operator
/// can act on: per call its function, arguments (secrets hidden), age,
/// deadline, who cancelled it, and what it waits on (a subprocess with its
/// state and wait channel and its children, or a descriptor and what it
/// is); `mitogen.inflight_detail` adds the queue, the contexts this one
/// started, and the tail of its log. Both are immediate: they answer while
/// a call hangs.
enum Inflight {
    static func register() {
        let entries: [(String, String, String, RawFunction)] = [
            ("mitogen.inflight", "() -> list[dict]",
             "The calls running or queued in this context, running first: function, args, age, deadline, what it waits on.",
             { _, _, ctx in .list(calls(ctx)) }),
            ("mitogen.inflight_detail", "() -> dict",
             "{calls, queue: {waiting, oldest_age}, contexts: [...], log: [...]}: mitogen.inflight plus the queue, the contexts started from here and the log tail.",
             { _, _, ctx in .dict(detail(ctx)) }),
        ]
        for (name, signature, summary, body) in entries {
            Functions.register(name, signature: signature, summary: summary, immediate: true, body)
        }
    }

    static func calls(_ ctx: CallContext) -> [Value] {
        guard let dispatcher = ctx.router?.extensions.existing(Dispatcher.self) else { return [] }
        let now = monotonicNow()
        let (running, waiting) = dispatcher.current
        return (running.map { [$0] } ?? []).map { describe($0, running: true, now: now) }
            + waiting.map { describe($0, running: false, now: now) }
    }

    static func describe(_ call: DispatchedCall, running: Bool, now: Double) -> Value {
        let c = call.context
        var d = PyDict([
            ("function", .str(call.name)), ("args", .str(call.arguments)), ("caller", .int(Int(c.callerID))),
            ("age", .float(now - c.received)), ("running", .bool(running)),
            // The caller's reply handle: with `caller`, names the call (`PendingCall.handle`).
            ("handle", .int(Int(call.message.replyTo))),
        ])
        if let started = call.started { d["running_for"] = .float(now - started) }
        if let timeout = c.timeout, let deadline = c.deadline {
            d["timeout"] = .float(timeout)
            d["deadline_in"] = .float(deadline - now)
        }
        if let cancel = c.cancellation {
            d["cancelled_by"] = .str(cancel.by)
            d["cancelled_ago"] = .float(now - cancel.at)
        }
        var waits: [Value] = []
        for w in c.waiting {
            switch w {
            case .process(let pid):
                if case .dict(var p) = ProcInspect.process(pid) {
                    p["what"] = "process"
                    waits.append(.dict(p))
                }
            case .descriptor(let fd, let reading):
                if case .dict(var f) = ProcInspect.descriptor(fd) {
                    f["what"] = .str(reading ? "read" : "write")
                    waits.append(.dict(f))
                }
            }
        }
        if !waits.isEmpty { d["waits"] = .list(waits) }
        return .dict(d)
    }

    static func detail(_ ctx: CallContext) -> PyDict {
        let now = monotonicNow()
        var d = PyDict([("calls", .list(calls(ctx)))])
        if let dispatcher = ctx.router?.extensions.existing(Dispatcher.self) {
            let waiting = dispatcher.current.waiting
            d["queue"] = .dict(PyDict([
                ("waiting", .int(waiting.count)),
                ("oldest_age", waiting.first.map { .float(now - $0.context.received) } ?? .none),
            ]))
        }
        if let router = ctx.router {
            d["contexts"] = .list(router.observer.contexts.map { info in
                .dict(PyDict([
                    ("id", .int(Int(info.id))), ("name", .str(info.name)), ("method", .str(info.method)),
                    ("state", .str(info.state.description)), ("age", .float(now - info.since)),
                ]))
            })
        }
        d["log"] = .list(RecentLog.shared.tail(20).map { .str($0) })
        return d
    }
}
