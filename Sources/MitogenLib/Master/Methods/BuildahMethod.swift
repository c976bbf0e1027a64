public import MitogenCore
import MitogenWire

/// The `buildah` method: a context inside a Buildah working container (the
/// seed's `Router.buildah`, Mitogen 0.3.54's `mitogen.buildah`).
///
/// Argv, exactly Mitogen's: `buildah run [--user=USER] -- CONTAINER
/// <stageArgv>`. stderr is merged into stdout (Mitogen's `merge_stdio`).
public struct BuildahMethod: SpawnedMethod, Equatable {
    public var container: String
    /// `--user=USER`; nil (or empty) lets buildah pick.
    public var username: String?
    public var buildahPath: String

    /// Mitogen's parameters and defaults.
    public init(container: String, username: String? = nil, buildahPath: String = "buildah") {
        self.container = container
        self.username = username
        self.buildahPath = buildahPath.isEmpty ? "buildah" : buildahPath
    }

    /// Rebuilds the method from a chain hop `buildah:container?key=value&…`.
    /// Keys: `container` (or the target), `username`, `buildah_path`.
    public init(hop target: String?, options: [HopOption]) throws(StreamError) {
        let hop = try HopReader(method: "buildah", options: options, keys: ["container", "username", "buildah_path"])
        guard let container = try hop.target(target, or: "container", what: "container") else {
            throw hop.fail("needs a container: buildah:CONTAINER")
        }
        self.init(
            container: container, username: hop.string("username"), buildahPath: hop.string("buildah_path") ?? "buildah")
    }

    public var methodName: String { "buildah" }
    public func defaultName(pid: Int32) -> String { "buildah.\(container)" }
    public var stdio: MethodStdio { .mergedStderr }
    public var preferCompression: Bool { false }

    public func command(stageArgv: [String], stageCommand: String) throws -> [String] {
        var bits = [buildahPath, "run"]
        if let username, !username.isEmpty { bits.append("--user=" + username) }
        return bits + ["--", container] + stageArgv
    }

    public var hopTarget: String? { container }

    public var hopOptions: [HopOption] {
        var options: [HopOption] = []
        if let username { options.append(HopOption(key: "username", value: username)) }
        if buildahPath != "buildah" { options.append(HopOption(key: "buildah_path", value: buildahPath)) }
        return options
    }
}
