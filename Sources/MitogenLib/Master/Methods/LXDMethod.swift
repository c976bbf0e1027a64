public import MitogenCore
import MitogenWire

/// The `lxd` method: a context inside an LXD container through the `lxc`
/// client (the seed's `Router.lxd`, Mitogen 0.3.54's `mitogen.lxd`).
///
/// Argv, exactly Mitogen's: `lxc exec --mode=noninteractive CONTAINER --
/// <stageArgv>`. stderr is merged into stdout (Mitogen's `merge_stdio`).
public struct LXDMethod: SpawnedMethod, Equatable {
    /// Mitogen's `eof_error_hint` for LXD (the same text as LXC's).
    public static let eofHint = LXCMethod.eofHint

    public var container: String
    public var lxcPath: String

    /// Mitogen's parameters and defaults.
    public init(container: String, lxcPath: String = "lxc") {
        self.container = container
        self.lxcPath = lxcPath.isEmpty ? "lxc" : lxcPath
    }

    /// Rebuilds the method from a chain hop `lxd:container?key=value&…`.
    /// Keys: `container` (or the target), `lxc_path`.
    public init(hop target: String?, options: [HopOption]) throws(StreamError) {
        let hop = try HopReader(method: "lxd", options: options, keys: ["container", "lxc_path"])
        guard let container = try hop.target(target, or: "container", what: "container") else {
            throw hop.fail("needs a container: lxd:CONTAINER")
        }
        self.init(container: container, lxcPath: hop.string("lxc_path") ?? "lxc")
    }

    public var methodName: String { "lxd" }
    public func defaultName(pid: Int32) -> String { "lxd.\(container)" }
    public var stdio: MethodStdio { .mergedStderr }
    public var preferCompression: Bool { false }
    public var eofErrorHint: String? { Self.eofHint }

    public func command(stageArgv: [String], stageCommand: String) throws -> [String] {
        [lxcPath, "exec", "--mode=noninteractive", container, "--"] + stageArgv
    }

    public var hopTarget: String? { container }
    public var hopOptions: [HopOption] { lxcPath == "lxc" ? [] : [HopOption(key: "lxc_path", value: lxcPath)] }
}

/// The `incus` method: a context inside an Incus container through the
/// `incus` client (Mitogen 0.3.54's `mitogen.incus`, LXD's fork).
///
/// Argv, exactly Mitogen's: `incus exec --mode=non-interactive CONTAINER --
/// <stageArgv>` (note Incus spells the mode with a hyphen). stderr is merged
/// into stdout.
public struct IncusMethod: SpawnedMethod, Equatable {
    /// Mitogen's `eof_error_hint` for Incus.
    public static let eofHint =
        "Note: many versions of Incus do not report program execution failure meaningfully. Please check the host logs (/var/log) for more information."

    public var container: String
    public var incusPath: String

    /// Mitogen's parameters and defaults.
    public init(container: String, incusPath: String = "incus") {
        self.container = container
        self.incusPath = incusPath.isEmpty ? "incus" : incusPath
    }

    /// Rebuilds the method from a chain hop `incus:container?key=value&…`.
    /// Keys: `container` (or the target), `incus_path`.
    public init(hop target: String?, options: [HopOption]) throws(StreamError) {
        let hop = try HopReader(method: "incus", options: options, keys: ["container", "incus_path"])
        guard let container = try hop.target(target, or: "container", what: "container") else {
            throw hop.fail("needs a container: incus:CONTAINER")
        }
        self.init(container: container, incusPath: hop.string("incus_path") ?? "incus")
    }

    public var methodName: String { "incus" }
    public func defaultName(pid: Int32) -> String { "incus.\(container)" }
    public var stdio: MethodStdio { .mergedStderr }
    public var preferCompression: Bool { false }
    public var eofErrorHint: String? { Self.eofHint }

    public func command(stageArgv: [String], stageCommand: String) throws -> [String] {
        [incusPath, "exec", "--mode=non-interactive", container, "--"] + stageArgv
    }

    public var hopTarget: String? { container }
    public var hopOptions: [HopOption] { incusPath == "incus" ? [] : [HopOption(key: "incus_path", value: incusPath)] }
}
