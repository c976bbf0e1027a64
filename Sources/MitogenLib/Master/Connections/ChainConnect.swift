import MitogenCalls
public import MitogenCore
import MitogenSys
import MitogenWire
/// Opens the contexts a `ChainSpec` describes (DESIGN §10), hop by hop,
/// each through the previous one.
extension Router {
    /// Connects every hop of `chain`, starting under `via` (nil: the master).
    /// - Returns: the context of the last hop.
    /// - Throws: `StreamError` naming the hop that failed, or that its method
    ///   is not available yet.
    public func connect(chain: ChainSpec, via start: Context? = nil) throws -> Context {
        var current = start
        for (i, hop) in chain.hops.enumerated() {
            do {
                current = try connect(hop: hop, via: current)
            } catch let error as StreamError {
                throw StreamError("hop \(i + 1) (\(hop)): \(error.message)", kind: error.kind)
            }
        }
        guard let current else { throw StreamError("the chain has no hops") }
        return current
    }

    /// Connects one hop.
    public func connect(hop: Hop, via: Context?) throws -> Context {
        var options = ConnectionOptions(via: via)
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
            throw StreamError("the \(hop.method) method is not available yet in this build (local and fork are)")
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
