public import MitogenCore
import MitogenWire

/// The `jail` method: a context inside a FreeBSD jail through `jexec` (the
/// seed's `Router.jail`, Mitogen 0.3.54's `mitogen.jail`).
///
/// Argv, exactly Mitogen's: `/usr/sbin/jexec [-U USER] JAIL <stageArgv>`.
/// stderr is merged into stdout (Mitogen's `merge_stdio`).
public struct JailMethod: SpawnedMethod, Equatable {
    /// The jail's name or id.
    public var container: String
    /// `-U USER`; nil (or empty) lets jexec pick (root).
    public var username: String?
    public var jexecPath: String

    /// Mitogen's parameters and defaults.
    public init(container: String, username: String? = nil, jexecPath: String = "/usr/sbin/jexec") {
        self.container = container
        self.username = username
        self.jexecPath = jexecPath.isEmpty ? "/usr/sbin/jexec" : jexecPath
    }

    /// Rebuilds the method from a chain hop `jail:name?key=value&…`.
    /// Keys: `container` (or the target), `username`, `jexec_path`.
    public init(hop target: String?, options: [HopOption]) throws(StreamError) {
        let hop = try HopReader(method: "jail", options: options, keys: ["container", "username", "jexec_path"])
        guard let container = try hop.target(target, or: "container", what: "jail") else {
            throw hop.fail("needs a jail: jail:NAME")
        }
        self.init(
            container: container, username: hop.string("username"), jexecPath: hop.string("jexec_path") ?? "/usr/sbin/jexec")
    }

    public var methodName: String { "jail" }
    public func defaultName(pid: Int32) -> String { "jail.\(container)" }
    public var stdio: MethodStdio { .mergedStderr }
    public var preferCompression: Bool { false }

    public func command(stageArgv: [String], stageCommand: String) throws -> [String] {
        var bits = [jexecPath]
        if let username, !username.isEmpty { bits += ["-U", username] }
        return bits + [container] + stageArgv
    }

    public var hopTarget: String? { container }

    public var hopOptions: [HopOption] {
        var options: [HopOption] = []
        if let username { options.append(HopOption(key: "username", value: username)) }
        if jexecPath != "/usr/sbin/jexec" { options.append(HopOption(key: "jexec_path", value: jexecPath)) }
        return options
    }
}
