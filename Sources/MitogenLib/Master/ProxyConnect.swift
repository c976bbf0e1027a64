import Synchronization
import MitogenCalls
import MitogenCore
import MitogenSys
import MitogenWire

/// Starting a context *through* another one (`via=`): the intermediary runs
/// `mitogen.parent._proxy_connect`, which starts the new child with its own
/// copy of the connection code and its own executable (so the binary comes
/// from the nearest hop), announces the route upward with ADD_ROUTE, and
/// answers Mitogen's `{'id': n, 'name': name, 'msg': None}` (or `msg` with the
/// error). The master names the result `<via name>.<name>`.
extension Router {
    /// - Parameter password: travels as a pickled `Secret` in the call, never
    ///   in the hop's options (which appear in names and logs).
    func proxyConnect(
        via: Context, method: String, target: String?, methodOptions: [HopOption], password: Secret? = nil,
        options: ConnectionOptions
    ) throws -> Context {
        var opts = PyDict()
        if let target { opts["target"] = .str(target) }
        for o in methodOptions { opts[o.key] = .str(o.value) }
        if let v = options.remoteName { opts["remote_name"] = .str(v) }
        if let v = options.connectTimeout { opts["connect_timeout"] = .str(String(v)) }
        if options.debug || debugEnabled { opts["debug"] = "true" }
        if options.profiling || profiler != nil { opts["profiling"] = "true" }
        if let v = options.unidirectional ?? (unidirectional ? true : nil) { opts["unidirectional"] = .str(String(v)) }
        var kwargs = PyDict()
        kwargs["name"] = options.name.map(Value.str) ?? Value.none
        kwargs["method_name"] = .str(method)
        kwargs["kwargs"] = .kwargs(opts)
        if let password { kwargs["password"] = .secret(password.value) }
        // The new context's row while the call is pending (see `ViaStageRow`).
        let row = ViaStageRow(router: self, via: via, method: method, name: options.name)
        let stageHandle = try addHandler(respondent: via) { row.receive($0) }
        kwargs["stage_handle"] = .int(Int(stageHandle))
        defer { try? delHandler(stageHandle) }
        do {
            return try callProxyConnect(via: via, method: method, kwargs: kwargs, options: options, row: row)
        } catch {
            row.finish(failure: (error as? StreamError)?.message ?? "\(error)")
            throw error
        }
    }

    private func callProxyConnect(
        via: Context, method: String, kwargs: PyDict, options: ConnectionOptions, row: ViaStageRow
    ) throws -> Context {
        let timeout = (options.connectTimeout ?? ConnectionOptions.defaultConnectTimeout) + 5
        let reply = try via.callValue("mitogen.parent._proxy_connect", kwargs: kwargs, timeout: timeout)
        guard let d = reply.dictValue else {
            throw StreamError("via \(via): unexpected _proxy_connect reply \(reply.displayText)")
        }
        if let msg = d["msg"]?.stringValue {
            // The intermediary's error kind survives the hop (a wrong sudo
            // password on the far side is still a PasswordError here).
            let kind: StreamError.Kind = switch d["kind"]?.stringValue {
            case "password": .password
            case "hostKey": .hostKey
            case "timeout": .timeout
            case "eof": .eof
            case "refused": .refused
            default: .stream
            }
            throw StreamError(msg, kind: kind)
        }
        guard let id = d["id"]?.intValue.flatMap({ UInt32(exactly: $0) }), let childName = d["name"]?.stringValue else {
            throw StreamError("via \(via): _proxy_connect reply without id/name: \(reply.displayText)")
        }
        // The intermediary names the new id: it must be one the master
        // granted to that subtree, never this context's or another's.
        guard let viaStream = streamByID(via.contextID), id != contextID, !parentIDs.contains(id),
            viaStream.grantedIDs.withLock({ $0.contains(id) })
        else {
            throw StreamError("via \(via): _proxy_connect answered id \(id), which was not allocated to its subtree")
        }
        if routes.withLock({ $0[id] }) == nil {
            try addRoute(targetID: id, viaID: via.contextID)
        }
        // The intermediary's text: made safe to show and log before it names anything.
        let name = row.displayName(sanitizedForLog(childName, limit: Router.maxContextNameLength))
        let context = contextByID(id, viaID: via.contextID)
        context.setName(name)
        // No note may change the row from here on; the row the notes made
        // keeps its start time.
        let noted = row.finish(failure: nil)
        if let noted, noted != id {
            observer.contextUpdated(noted) { $0.state = .failed("the intermediary reported another id: \(id)") }
        }
        let since = noted == id ? observer.context(id)?.since : nil
        observer.contextAdded(
            ContextInfo(
                id: id, name: name, method: method, parentID: via.contextID, pid: d["pid"]?.intValue.flatMap { Int32(exactly: $0) },
                state: .connected, since: since ?? monotonicNow(), uploadedBytes: d["uploaded"]?.intValue ?? 0))
        return context
    }
}

/// The intermediary's side of `via=` (registered in every child).
package enum ProxyConnectFunction {
    package static func register() {
        Functions.register(
            "mitogen.parent._proxy_connect",
            signature: "(name: str | None, method_name: str, kwargs: Kwargs, stage_handle: int | None = None) -> dict",
            summary: "Start a child of this context (used by via=); answers {'id', 'name', 'msg', 'pid'}."
        ) { _, kwargs, ctx in
            guard let router = ctx.routerRef as? Router else { throw PyException("RuntimeError", "no router") }
            guard let method = kwargs["method_name"]?.stringValue else {
                throw PyException("TypeError", "_proxy_connect() missing required argument: 'method_name'")
            }
            var target: String?
            var options: [HopOption] = []
            for (k, v) in kwargs["kwargs"]?.dictValue ?? PyDict() {
                guard let key = k.stringValue, let value = v.stringValue else { continue }
                if key == "target" { target = value } else { options.append(HopOption(key: key, value: value)) }
            }
            if let name = kwargs["name"]?.stringValue { options.append(HopOption(key: "name", value: name)) }
            // The caller's handle for stage notes (a master of this project sends one).
            var watcher: (@Sendable (ContextInfo) -> Void)?
            if let handle = kwargs["stage_handle"]?.intValue.flatMap({ UInt32(exactly: $0) }) {
                let reporter = ViaStageReporter(router: router, callerID: ctx.callerID, handle: handle)
                watcher = { reporter.report($0) }
            }
            do {
                let password = kwargs["password"]?.stringValue.map(Secret.init)
                let child = try router.connect(
                    hop: Hop(method: method, target: target, options: options), via: nil, password: password,
                    promptCallback: nil, stageWatcher: watcher)
                let info = router.observer.contexts.first { $0.id == child.contextID }
                return .dict(
                    PyDict([
                        ("id", .int(Int(child.contextID))), ("name", .str(child.name ?? String(child.contextID))),
                        ("msg", .none), ("pid", info?.pid.map { .int(Int($0)) } ?? .none),
                        ("uploaded", .int(info?.uploadedBytes ?? 0)),
                    ]))
            } catch {
                return .dict(
                    PyDict([
                        ("id", .none), ("name", .none),
                        ("msg", .str("error occurred on host \(hostName()): \(error)")),
                        ("kind", .str((error as? StreamError)?.kind.description ?? "stream")),
                    ]))
            }
        }
    }
}
