import MitogenCalls
public import MitogenCore
import MitogenSys
public import MitogenWire
/// Opens the contexts a `ChainSpec` describes (DESIGN §10), hop by hop,
/// each through the previous one.
extension Router {
    /// Connects every hop of `chain`, starting under `via` (nil: the master).
    ///
    /// A hop's `password=env:NAME` is read from this process's environment;
    /// `password=ask` calls `askPassword` with the hop's number (1-based) and
    /// text, which returns the password (or nil to give up). Passwords stay
    /// in memory: they are typed to the tool, never put in an argv or an
    /// environment.
    /// - Parameters:
    ///   - promptCallback: answers other questions a tool asks (one-time codes).
    /// - Returns: the context of the last hop.
    /// - Throws: `StreamError` naming the hop that failed.
    public func connect(
        chain: ChainSpec, via start: Context? = nil, askPassword: ((Int, Hop) -> String?)? = nil,
        promptCallback: (@Sendable (String) -> String?)? = nil
    ) throws -> Context {
        var current = start
        for (i, hop) in chain.hops.enumerated() {
            do {
                let password = try resolvePassword(hop, number: i + 1, ask: askPassword)
                current = try connect(hop: hop, via: current, password: password, promptCallback: promptCallback)
            } catch let error as StreamError {
                throw StreamError("hop \(i + 1) (\(hop)): \(error.message)", kind: error.kind)
            }
        }
        guard let current else { throw StreamError("the chain has no hops") }
        return current
    }

    /// The password of `hop`, from where its `password=` option says.
    private func resolvePassword(_ hop: Hop, number: Int, ask: ((Int, Hop) -> String?)?) throws -> Secret? {
        switch hop.password {
        case nil: return nil
        case .environment(let name)?:
            guard let value = environmentValue(name) else {
                throw StreamError("password=env:\(name): the environment variable \(name) is not set", kind: .password)
            }
            return Secret(value)
        case .ask?:
            guard let ask else { throw StreamError("password=ask needs someone to ask: none here", kind: .password) }
            guard let value = ask(number, hop) else { throw StreamError("no password given", kind: .password) }
            return Secret(value)
        }
    }

    /// Connects one hop.
    /// - Parameter password: the hop's password, already resolved.
    public func connect(
        hop: Hop, via: Context?, password: Secret? = nil, promptCallback: (@Sendable (String) -> String?)? = nil
    ) throws -> Context {
        try connect(hop: hop, via: via, password: password, promptCallback: promptCallback, stageWatcher: nil)
    }

    /// `connect(hop:...)`, telling `stageWatcher` the new context's row as its stage changes.
    package func connect(
        hop: Hop, via: Context?, password: Secret?, promptCallback: (@Sendable (String) -> String?)?,
        stageWatcher: (@Sendable (ContextInfo) -> Void)?
    ) throws -> Context {
        var options = ConnectionOptions(via: via)
        options.promptCallback = promptCallback
        options.stageWatcher = stageWatcher
        options.name = hop.option("name")
        options.remoteName = hop.option("remote_name")
        if let t = hop.option("connect_timeout") {
            guard let seconds = Double(t) else { throw StreamError("connect_timeout=\(t) is not a number of seconds") }
            options.connectTimeout = seconds
        }
        options.debug = try flag(hop, "debug") ?? false
        options.profiling = try flag(hop, "profiling") ?? false
        options.unidirectional = try flag(hop, "unidirectional")
        switch hop.method {
        case "local": return try connect(LocalMethod(), options)
        case "fork": return try fork(options)
        default:
            var method = try SpawnedMethods.method(
                named: hop.method, target: hop.target, options: hop.options, password: password)
            if var sudo = method as? SudoMethod {
                sudo.promptNonce = SudoMethod.freshPromptNonce()
                method = sudo
            }
            return try connect(method, options)
        }
    }

    private func flag(_ hop: Hop, _ key: String) throws -> Bool? {
        guard let v = hop.option(key) else { return nil }
        switch v.lowercased() {
        case "1", "true", "yes", "on": return true
        case "0", "false", "no", "off": return false
        default: throw StreamError("\(key)=\(v) is not a boolean (use true or false)")
        }
    }
}
