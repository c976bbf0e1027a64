public import MitogenCore
import MitogenWire

/// The `lxc` method: a context inside an LXC (classic) container through
/// `lxc-attach` (the seed's `Router.lxc`, Mitogen 0.3.54's `mitogen.lxc`).
///
/// Argv, exactly Mitogen's: `lxc-attach --clear-env --name CONTAINER --
/// <stageArgv>`. stderr is merged into stdout (Mitogen's `merge_stdio`: if
/// any stdio is a TTY lxc-attach proxies through a PTY in small chunks).
public struct LXCMethod: SpawnedMethod, Equatable {
    /// Mitogen's `eof_error_hint` for LXC.
    public static let eofHint =
        "Note: many versions of LXC do not report program execution failure meaningfully. Please check the host logs (/var/log) for more information."

    public var container: String
    public var lxcAttachPath: String

    /// Mitogen's parameters and defaults.
    public init(container: String, lxcAttachPath: String = "lxc-attach") {
        self.container = container
        self.lxcAttachPath = lxcAttachPath.isEmpty ? "lxc-attach" : lxcAttachPath
    }

    /// Rebuilds the method from a chain hop `lxc:container?key=value&…`.
    /// Keys: `container` (or the target), `lxc_attach_path`.
    public init(hop target: String?, options: [HopOption]) throws(StreamError) {
        let hop = try HopReader(method: "lxc", options: options, keys: ["container", "lxc_attach_path"])
        guard let container = try hop.target(target, or: "container", what: "container") else {
            throw hop.fail("needs a container: lxc:CONTAINER")
        }
        self.init(container: container, lxcAttachPath: hop.string("lxc_attach_path") ?? "lxc-attach")
    }

    public var methodName: String { "lxc" }
    public func defaultName(pid: Int32) -> String { "lxc.\(container)" }
    public var stdio: MethodStdio { .mergedStderr }
    public var preferCompression: Bool { false }
    public var eofErrorHint: String? { Self.eofHint }

    public func command(stageArgv: [String], stageCommand: String) throws -> [String] {
        [lxcAttachPath, "--clear-env", "--name", container, "--"] + stageArgv
    }

    public var hopTarget: String? { container }

    public var hopOptions: [HopOption] {
        lxcAttachPath == "lxc-attach" ? [] : [HopOption(key: "lxc_attach_path", value: lxcAttachPath)]
    }
}
