public import MitogenCore
import MitogenWire

/// The `docker` method: a context inside an existing Docker container, or in
/// a temporary one made from an image (the seed's `Router.docker`, Mitogen
/// 0.3.54's `mitogen.docker`).
///
/// Argv, exactly Mitogen's:
/// - container: `docker exec --interactive [--user=USER] CONTAINER <stageArgv>`
/// - image: `docker run --interactive [--user=USER] --rm IMAGE <stageArgv>`
///
/// When both are given the container wins, as in Mitogen. stderr is merged
/// into stdout (Mitogen's `merge_stdio`), so docker's own errors appear among
/// the lines the prompt engine keeps for the error text.
public struct DockerMethod: SpawnedMethod, Equatable {
    /// Existing container to enter.
    public var container: String?
    /// Image to start a temporary container from.
    public var image: String?
    /// `--user=USER`; nil (or empty) lets docker pick (root).
    public var username: String?
    public var dockerPath: String

    /// Mitogen's parameters and defaults.
    /// - Throws: `StreamError` when neither `container` nor `image` is given
    ///   (Mitogen asserts the same).
    public init(container: String? = nil, image: String? = nil, username: String? = nil, dockerPath: String = "docker")
        throws(StreamError)
    {
        guard !(container ?? "").isEmpty || !(image ?? "").isEmpty else {
            throw StreamError("docker: one of container= or image= must be given")
        }
        self.container = container?.isEmpty == false ? container : nil
        self.image = image?.isEmpty == false ? image : nil
        self.username = username
        self.dockerPath = dockerPath.isEmpty ? "docker" : dockerPath
    }

    /// Rebuilds the method from a chain hop `docker[:container]?key=value&…`.
    /// Keys: `container` (or the target), `image`, `username`, `docker_path`.
    public init(hop target: String?, options: [HopOption]) throws(StreamError) {
        let hop = try HopReader(method: "docker", options: options, keys: ["container", "image", "username", "docker_path"])
        try self.init(
            container: try hop.target(target, or: "container", what: "container"), image: hop.string("image"),
            username: hop.string("username"), dockerPath: hop.string("docker_path") ?? "docker")
    }

    public var methodName: String { "docker" }
    /// `docker.<container or image>`.
    public func defaultName(pid: Int32) -> String { "docker.\(container ?? image ?? "")" }
    public var stdio: MethodStdio { .mergedStderr }
    public var preferCompression: Bool { false }

    public func command(stageArgv: [String], stageCommand: String) throws -> [String] {
        var args = ["--interactive"]
        if let username, !username.isEmpty { args.append("--user=" + username) }
        if let container {
            return [dockerPath, "exec"] + args + [container] + stageArgv
        }
        return [dockerPath, "run"] + args + ["--rm", image ?? ""] + stageArgv
    }

    public var hopTarget: String? { container }

    public var hopOptions: [HopOption] {
        var options: [HopOption] = []
        if let image { options.append(HopOption(key: "image", value: image)) }
        if let username { options.append(HopOption(key: "username", value: username)) }
        if dockerPath != "docker" { options.append(HopOption(key: "docker_path", value: dockerPath)) }
        return options
    }
}
