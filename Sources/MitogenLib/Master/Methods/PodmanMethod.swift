public import MitogenCore
import MitogenWire

/// The `podman` method: a context inside an existing Podman container (the
/// seed's `Router.podman`, Mitogen 0.3.54's `mitogen.podman`).
///
/// Argv, exactly Mitogen's: `podman exec [--user=USER] --interactive --
/// CONTAINER <stageArgv>`. stderr is merged into stdout (Mitogen's
/// `merge_stdio`).
public struct PodmanMethod: SpawnedMethod, Equatable {
    public var container: String
    /// `--user=USER`; nil (or empty) lets podman pick.
    public var username: String?
    public var podmanPath: String

    /// Mitogen's parameters and defaults.
    public init(container: String, username: String? = nil, podmanPath: String = "podman") {
        self.container = container
        self.username = username
        self.podmanPath = podmanPath.isEmpty ? "podman" : podmanPath
    }

    /// Rebuilds the method from a chain hop `podman:container?key=value&…`.
    /// Keys: `container` (or the target), `username`, `podman_path`.
    public init(hop target: String?, options: [HopOption]) throws(StreamError) {
        let hop = try HopReader(method: "podman", options: options, keys: ["container", "username", "podman_path"])
        guard let container = try hop.target(target, or: "container", what: "container") else {
            throw hop.fail("needs a container: podman:CONTAINER")
        }
        self.init(container: container, username: hop.string("username"), podmanPath: hop.string("podman_path") ?? "podman")
    }

    public var methodName: String { "podman" }
    public func defaultName(pid: Int32) -> String { "podman.\(container)" }
    public var stdio: MethodStdio { .mergedStderr }
    public var preferCompression: Bool { false }

    public func command(stageArgv: [String], stageCommand: String) throws -> [String] {
        var bits = [podmanPath, "exec"]
        if let username, !username.isEmpty { bits.append("--user=" + username) }
        return bits + ["--interactive", "--", container] + stageArgv
    }

    public var hopTarget: String? { container }

    public var hopOptions: [HopOption] {
        var options: [HopOption] = []
        if let username { options.append(HopOption(key: "username", value: username)) }
        if podmanPath != "podman" { options.append(HopOption(key: "podman_path", value: podmanPath)) }
        return options
    }
}
