import Glibc
import Synchronization
public import MitogenCore
import MitogenSys
public import MitogenWire

/// One call to make in every target of a fleet.
public struct FleetCall: Sendable {
    public var function: String
    public var args: [Value]
    public var kwargs: PyDict

    public init(function: String, args: [Value] = [], kwargs: PyDict = PyDict()) {
        self.function = function
        self.args = args
        self.kwargs = kwargs
    }
}

/// How a fan-out runs.
public struct FleetOptions: Sendable {
    /// Connections and calls in flight at once (pdsh's and Ansible's `forks`).
    public var forks = 50
    /// Seconds each call may take; nil waits without end (only for callers
    /// that have another way out).
    public var callTimeout: Double? = 60
    /// Seconds each connection may take, for hops without a
    /// `connect_timeout=` of their own; nil: the method's default (30 s).
    public var connectTimeout: Double?
    /// Answers the `password=ask` hops, given a label such as `sudo:root`.
    /// It is asked once per method and user, however many hosts share them
    /// (as Ansible's `--ask-become-pass`), one question at a time; nil
    /// (or no callback) fails those hops.
    public var askPassword: (@Sendable (String) -> String?)?

    public init(
        forks: Int = 50, callTimeout: Double? = 60, connectTimeout: Double? = nil,
        askPassword: (@Sendable (String) -> String?)? = nil
    ) {
        self.forks = forks
        self.callTimeout = callTimeout
        self.connectTimeout = connectTimeout
        self.askPassword = askPassword
    }
}

/// The answers to `password=ask` in one fan-out: one question per method and
/// user, asked by the first worker that needs it while the others wait.
private final class FleetPasswords: Sendable {
    private let ask: (@Sendable (String) -> String?)?
    private let answers = Lock<[String: String?]>([:])

    init(_ ask: (@Sendable (String) -> String?)?) { self.ask = ask }

    /// The answer for `hop`, asking if nobody has yet.
    func answer(for hop: Hop) -> String? {
        let label = hop.method + (hop.user.map { ":" + $0 } ?? "")
        return answers.withLock { known in
            if let answer = known[label] { return answer }
            let answer = ask?(label)
            known[label] = .some(answer)
            return answer
        }
    }
}

/// What came of one call in one target.
public struct FleetCallResult: Sendable {
    public enum Outcome: Sendable {
        case ok(Value)
        case failed(String)
    }
    public var outcome: Outcome
    /// Seconds the call took.
    public var elapsed: Double

    public init(outcome: Outcome, elapsed: Double) {
        self.outcome = outcome
        self.elapsed = elapsed
    }
}

/// What came of one target: its connection, then its calls in order.
public struct FleetHostResult: Sendable {
    public var target: Int
    public var label: String
    /// Why the target could not be reached (its hop or one it goes through).
    public var connectError: String?
    public var calls: [FleetCallResult]
    /// Seconds from the start of the fan-out until this target was done.
    public var elapsed: Double
    /// The target's context, when it connected.
    public var context: Context?

    public init(target: Int, label: String, connectError: String?, calls: [FleetCallResult], elapsed: Double, context: Context? = nil) {
        self.target = target
        self.label = label
        self.connectError = connectError
        self.calls = calls
        self.elapsed = elapsed
        self.context = context
    }

    /// True when it connected and every call returned.
    public var succeeded: Bool {
        connectError == nil && calls.allSatisfy { if case .ok = $0.outcome { true } else { false } }
    }
}

/// Progress of a fan-out, reported as it happens (from worker threads).
public enum FleetEvent: Sendable {
    case connecting(node: Int)
    case connected(node: Int, Context)
    case connectFailed(node: Int, String)
    case callDone(target: Int, call: Int, FleetCallResult)
    case targetDone(FleetHostResult)
}

extension Router {
    /// Connects every node of `tree` and makes `calls` in every target,
    /// `options.forks` at a time, and returns one result per target in the
    /// tree's target order.
    ///
    /// A node is connected once, through its parent, as soon as the parent
    /// is up; a node that fails fails every target under it, and nothing
    /// else. Each connection ends within its connect timeout and each call
    /// within `callTimeout`, so a host that black-holes its packets or is
    /// stopped ends in its own error while the others' results arrive.
    /// Passwords come from `password=env:NAME`, or for `password=ask` from
    /// `options.askPassword`, once per method and user.
    /// - Parameter onEvent: called from worker threads as things happen.
    public func fanOut(
        _ tree: FleetTree, calls: [FleetCall], options: FleetOptions = FleetOptions(),
        onEvent: (@Sendable (FleetEvent) -> Void)? = nil
    ) -> [FleetHostResult] {
        let start = monotonicNow()
        let run = FleetRunState(tree: tree)
        let passwords = FleetPasswords(options.askPassword)
        let queue = Latch<Int>()
        for root in tree.roots { try? queue.put(root) }
        let pending = Atomic<Int>(tree.roots.count)
        if tree.roots.isEmpty { queue.close() }

        let work: @Sendable (Int) -> Void = { [self] index in
            let node = tree.nodes[index]
            var hop = node.hop
            if let seconds = options.connectTimeout, hop.option("connect_timeout") == nil {
                hop.options.append(HopOption(key: "connect_timeout", value: Self.seconds(seconds)))
            }
            onEvent?(.connecting(node: index))
            let context: Context
            do {
                let via = node.parent.flatMap { run.context(of: $0) }
                context = try connect(chain: ChainSpec(hops: [hop]), via: via, askPassword: { _, hop in passwords.answer(for: hop) })
            } catch {
                let message = Self.connectMessage(error, hop: hop)
                onEvent?(.connectFailed(node: index, message))
                for t in tree.targets(under: index) {
                    // "via hop:" only where the label does not already name the hop
                    // (a shared bastion, not `fleet18`'s own ssh under its sudo).
                    let label = tree.targets[t].label
                    let named = tree.endNode[t] == index || node.hop.host == label || node.hop.target == label
                    let result = run.finish(
                        t, label: label, error: named ? message : "via \(node.hop.method):\(node.hop.target ?? ""): \(message)",
                        elapsed: monotonicNow() - start)
                    onEvent?(.targetDone(result))
                }
                return
            }
            run.setContext(context, of: index)
            onEvent?(.connected(node: index, context))
            // Children first, so deeper connects overlap with these calls.
            pending.add(node.children.count, ordering: .sequentiallyConsistent)
            for child in node.children { try? queue.put(child) }
            for t in node.targets {
                var results: [FleetCallResult] = []
                for (c, call) in calls.enumerated() {
                    let callStart = monotonicNow()
                    let outcome: FleetCallResult.Outcome
                    do {
                        outcome = .ok(
                            try context.callValue(call.function, args: call.args, kwargs: call.kwargs, timeout: options.callTimeout))
                    } catch is TimeoutError {
                        outcome = .failed("\(call.function): no reply within \(Self.seconds(options.callTimeout ?? 0)) s")
                    } catch {
                        outcome = .failed("\(call.function): \(error)")
                    }
                    let result = FleetCallResult(outcome: outcome, elapsed: monotonicNow() - callStart)
                    results.append(result)
                    onEvent?(.callDone(target: t, call: c, result))
                }
                var done = run.finish(t, label: tree.targets[t].label, error: nil, elapsed: monotonicNow() - start)
                done.calls = results
                done.context = context
                run.store(done)
                onEvent?(.targetDone(done))
            }
        }

        let workers = max(1, min(options.forks, tree.nodes.count))
        var threads: [pthread_t] = []
        for n in 0..<workers {
            threads.append(startJoinableThread(name: "fleet-\(n)") {
                while let index = try? queue.get() {
                    work(index)
                    if pending.subtract(1, ordering: .sequentiallyConsistent).newValue == 0 { queue.close() }
                }
            })
        }
        for thread in threads { pthread_join(thread, nil) }
        return run.results(labels: tree.targets.map(\.label))
    }

    /// The connect error without the `hop 1 (...)` prefix of a one-hop chain:
    /// the target's label or the `via` hop says where.
    private static func connectMessage(_ error: any Error, hop: Hop) -> String {
        var text = (error as? StreamError)?.message ?? "\(error)"
        let prefix = "hop 1 (\(hop)): "
        if text.hasPrefix(prefix) { text.removeFirst(prefix.count) }
        return text
    }

    static func seconds(_ value: Double) -> String {
        value == value.rounded() ? String(Int(value)) : String(value)
    }
}

/// The fan-out's shared tables: contexts by node, results by target.
private final class FleetRunState: Sendable {
    struct Tables {
        var contexts: [Int: Context] = [:]
        var results: [Int: FleetHostResult] = [:]
    }
    let tables = Lock(Tables())
    let tree: FleetTree

    init(tree: FleetTree) { self.tree = tree }

    func context(of node: Int) -> Context? { tables.withLock { $0.contexts[node] } }
    func setContext(_ context: Context, of node: Int) { tables.withLock { $0.contexts[node] = context } }

    func finish(_ target: Int, label: String, error: String?, elapsed: Double) -> FleetHostResult {
        let result = FleetHostResult(target: target, label: label, connectError: error, calls: [], elapsed: elapsed)
        store(result)
        return result
    }

    func store(_ result: FleetHostResult) { tables.withLock { $0.results[result.target] = result } }

    func results(labels: [String]) -> [FleetHostResult] {
        tables.withLock { tables in
            labels.indices.map {
                tables.results[$0]
                    ?? FleetHostResult(target: $0, label: labels[$0], connectError: "never started", calls: [], elapsed: 0)
            }
        }
    }
}
