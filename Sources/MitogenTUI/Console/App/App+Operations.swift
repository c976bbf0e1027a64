import Glibc
import MitogenLib
import MitogenSys
import ConsoleModel
import ConsoleRender

/// An open waiting for `password=ask` answers.
struct PendingOpen {
    var spec: ChainSpec
    var viaID: UInt32?
    /// Hop index → password typed by the operator.
    var passwords: [Int: String] = [:]
    var asks: [Int]
}

/// The operations the console starts on worker threads: connect, call,
/// inflight, shutdown, cancel. Each captures ids when the key is pressed and
/// reports back through `AppEvent`s.
extension App {
    /// Seconds a context gets to go after a shutdown request before it is
    /// forced down.
    static let shutdownGrace = 5.0

    func startInitialContexts() {
        let chains = options.chains.isEmpty ? [try! ChainSpec.parse("local")] : options.chains  // try!: a constant, valid chain
        for spec in chains { open(spec, underSelected: false) }
    }

    /// Connects `spec` from the master, or under the selected context. Asks
    /// first for every `password=ask` hop (without echo).
    func open(_ spec: ChainSpec, underSelected: Bool) {
        var viaID: UInt32?
        if underSelected {
            guard let id = state.selectedID else { return setStatus("select the context to open it under", error: true) }
            viaID = id
        }
        let asks = spec.hops.indices.filter { spec.hops[$0].password == .ask }
        let id = nextRequestID
        nextRequestID += 1
        let request = PendingOpen(spec: spec, viaID: viaID, asks: asks)
        if asks.isEmpty {
            startOpen(request)
        } else {
            pendingOpens[id] = request
            askPassword(requestID: id)
        }
    }

    private func askPassword(requestID: Int) {
        guard let request = pendingOpens[requestID] else { return }
        guard let hop = request.asks.first(where: { request.passwords[$0] == nil }) else {
            pendingOpens[requestID] = nil
            return startOpen(request)
        }
        let h = request.spec.hops[hop]
        state.overlay = .prompt(
            Prompt(
                purpose: .password(requestID: requestID, hop: hop),
                label: "password for hop \(hop + 1) (\(h.method)\(h.target.map { ":" + $0 } ?? "")): ",
                editor: LineEditor(secret: true)))
    }

    func passwordEntered(requestID: Int, hop: Int, password: String) {
        pendingOpens[requestID]?.passwords[hop] = password
        askPassword(requestID: requestID)
    }

    /// Starts the connect on a worker thread. Asked passwords go to the
    /// library in memory (the chain API's `askPassword`): never through an
    /// environment variable, which every process spawned meanwhile would
    /// inherit.
    private func startOpen(_ request: PendingOpen) {
        let passwords = request.passwords
        let router = self.router
        let wake = self.wake
        let chain = request.spec
        let via = request.viaID.map { router.context(byID: $0) }
        let shown = request.spec.description
        setStatus("opening \(shown)" + (via.map { " under \($0.name ?? String($0.contextID))" } ?? ""))
        runDetached {
            do {
                let context = try router.connect(
                    chain: chain, via: via, askPassword: { hop, _ in passwords[hop - 1] },
                    promptCallback: { wake.askOperator($0) })
                wake.post(.opened(chain: shown, contextID: context.contextID, name: context.name ?? String(context.contextID)))
            } catch {
                wake.post(.openFailed(chain: shown, error: "\(error)"))
            }
        }
    }

    /// Runs `expression` on context `contextID`; the outcome lands in the
    /// results pane.
    func startCall(contextID: UInt32, expression: CallExpression, text: String) {
        guard let info = snapshot.context(contextID) else { return setStatus("no context \(contextID)", error: true) }
        let serial = results.start(contextID: contextID, contextName: info.name, expression: text, at: monotonicNow())
        state.bottom = .results
        let context = router.context(byID: contextID, name: info.name)
        let wake = self.wake
        let timeout = state.callTimeouts[contextID]
        runDetached {
            do {
                let value = try context.callValue(expression.function, args: expression.args, kwargs: expression.kwargs, timeout: timeout)
                wake.post(.callDone(serial: serial, outcome: .value(value.pythonRepr)))
            } catch {
                wake.post(.callDone(serial: serial, outcome: Self.outcome(of: error)))
            }
        }
    }

    static func outcome(of error: any Error) -> CallResult.Outcome {
        if let e = error as? CallError {
            let trace = e.trace.split(separator: "\n").map(String.init)
            return .error("\(e.type): \(e.message)", trace: trace)
        }
        return .error("\(error)", trace: [])
    }

    /// Asks context `contextID` for its function catalog (the console's own
    /// registry is empty: the functions live in the children), so `:call`
    /// completes the names the targets really have.
    func learnFunctions(from contextID: UInt32) {
        let context = router.context(byID: contextID)
        let wake = self.wake
        runDetached {
            guard case .list(let entries)? = try? context.callValue("mitogen.functions", timeout: 10) else { return }
            let names = entries.compactMap { entry -> String? in
                guard case .dict(let d) = entry else { return nil }
                return d.first { $0.key.stringValue == "name" }?.value.stringValue
            }
            wake.post(.functionsListed(names))
        }
    }

    /// Asks context `contextID` what it is running (`mitogen.inflight`),
    /// shown in the results pane one call a line.
    func askInflight(contextID: UInt32) {
        guard let info = snapshot.context(contextID) else { return }
        let serial = results.start(contextID: contextID, contextName: info.name, expression: "mitogen.inflight()", at: monotonicNow())
        show(results: ())
        let context = router.context(byID: contextID, name: info.name)
        let wake = self.wake
        runDetached {
            do {
                let value = try context.callValue("mitogen.inflight", timeout: 10)
                wake.post(.callDone(serial: serial, outcome: .value(Self.describeInflight(value))))
            } catch {
                wake.post(.callDone(serial: serial, outcome: Self.outcome(of: error)))
            }
        }
    }

    private func show(results: Void) {
        state.bottom = .results
    }

    /// One line per call: `function(args)  running 12s` or `queued`.
    static func describeInflight(_ value: Value) -> String {
        guard case .list(let all) = value else { return value.pythonRepr }
        let calls = all.filter { call in  // leave out the inflight query itself
            guard case .dict(let d) = call else { return true }
            return d.first { $0.key.stringValue == "function" }?.value.stringValue != "mitogen.inflight"
        }
        if calls.isEmpty { return "(nothing running)" }
        return calls.map { call -> String in
            guard case .dict(let d) = call else { return call.pythonRepr }
            func field(_ k: String) -> Value? { d.first { $0.key.stringValue == k }?.value }
            let function = field("function")?.stringValue ?? "?"
            let args = field("args")?.stringValue ?? ""
            var age = ""
            if case .float(let a)? = field("age") { age = Format.age(a) }
            var running = false
            if case .bool(let r)? = field("running") { running = r }
            return "\(function)(\(args))  \(running ? "running" : "queued") \(age)"
        }.joined(separator: "\n")
    }

    /// Opens the confirmation for shutting down the selected context (or
    /// its subtree). The ids are captured now, so rows moving meanwhile
    /// cannot change the target.
    func confirmShutdown(subtree: Bool) {
        guard let id = state.selectedID, let c = snapshot.context(id) else { return setStatus("select a context first", error: true) }
        let ids = subtree ? snapshot.subtree(of: id) : [id]
        let liveIDs = ids.filter { snapshot.context($0)?.state.isLive ?? false }
        guard !liveIDs.isEmpty else { return setStatus("\(c.name) is not connected", error: true) }
        var message = ["Shut down context '\(c.name)' (id \(c.id)\(c.pid.map { ", pid \($0)" } ?? ""))"]
        if subtree && ids.count > 1 { message.append("and the \(ids.count - 1) context(s) under it") }
        message.append("Each gets \(Int(Self.shutdownGrace))s to go, then is forced down.")
        state.overlay = .confirm(
            ConfirmDialog(
                title: subtree ? "Shut down a subtree" : "Shut down a context", message: message,
                intent: .shutdown(ids: liveIDs, rootName: c.name)))
    }

    /// Asks every context of `ids` (children first) to shut down; after the
    /// grace time, cuts the stream of those still there: ours directly
    /// (`router.disconnect`, plus SIGKILL for a local or fork child), the
    /// others through their parent (`mitogen.disconnect`). What cannot be
    /// cut is reported.
    func shutdown(ids: [UInt32], rootName: String) {
        let targets = ids.reversed().compactMap { id -> (Context, ContextItem)? in
            guard let info = snapshot.context(id) else { return nil }
            return (router.context(byID: id, name: info.name), info)
        }
        setStatus("shutting down \(rootName)" + (targets.count > 1 ? " and \(targets.count - 1) more" : ""))
        let wake = self.wake
        let masterRouter = self.router
        runDetached {
            var latches: [(Context, ContextItem, Latch<Bool>)] = []
            for (context, info) in targets {
                if let latch = try? context.shutdown(wait: false) { latches.append((context, info, latch)) }
            }
            let deadline = monotonicNow() + App.shutdownGrace
            var forced = false
            var stuck: [String] = []
            for (context, info, latch) in latches {
                if (try? latch.get(timeout: max(0, deadline - monotonicNow()))) != nil || context.isDisconnected { continue }
                if info.parentID == 0 {
                    forced = masterRouter.disconnect(context) || forced
                    if let pid = info.pid, pid > 0, info.method == "local" || info.method == "fork" { kill(pid, SIGKILL) }
                } else if let cut = try? masterRouter.context(byID: info.parentID).callValue(
                    "mitogen.disconnect", args: [.int(Int(info.id))], timeout: 5), cut == .bool(true)
                {
                    forced = true
                } else {
                    stuck.append(info.name)
                }
            }
            let note = stuck.isEmpty ? nil : "still up after \(Int(App.shutdownGrace))s and cannot be forced from here: \(stuck.joined(separator: ", "))"
            wake.post(.shutdownDone(name: rootName, forced: forced, note: note))
        }
    }

    /// Cancels call `handle` (or the selected pending call): the context
    /// running it stops the work and its waiter gets a `CancelledError`.
    func cancelSelectedCall(handle: UInt32?) {
        guard let h = handle ?? selectedPending?.handle else { return setStatus("no pending call selected", error: true) }
        if router.cancelCall(handle: h, by: "the operator") {
            setStatus("cancelling call \(h)")
        } else {
            setStatus("call \(h) is no longer pending", error: true)
        }
    }
}
