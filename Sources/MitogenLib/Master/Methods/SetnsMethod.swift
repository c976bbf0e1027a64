public import MitogenCore
import MitogenWire

/// The `setns` method: a context in a container's namespaces, entered
/// directly with `setns(2)` instead of through the container tool (the
/// seed's `Router.setns`, Mitogen 0.3.54's `mitogen.setns`).
///
/// Three steps, the first two for the connection layer:
/// 1. Find the container's leader PID: run ``leaderCommand`` and read its
///    output with ``leaderPID(fromOutput:)`` (Mitogen's texts on failure).
/// 2. Between fork and exec (in C): for each namespace of
///    ``namespaceOrder`` that differs from ours, open `/proc/PID/ns/<ns>`;
///    `chdir("/proc/PID/root")`, `chroot(".")`, `chdir("/")`; `setns` each;
///    `setgroups`, `setreuid` to ``username`` (looked up in the container's
///    `/etc/passwd`); set `HOME`, `SHELL`, `LOGNAME`, `USER`; `chdir` home.
/// 3. Exec ``command(stageArgv:stageCommand:)``: Mitogen's
///    `/bin/sh -c "<boot joined>; exit $?"`, where `; exit $?` keeps the
///    shell from exec'ing the boot command, so the child is forked into the
///    new PID namespace. The boot argv is joined with Mitogen's `Argv` rule
///    (``ShellQuote/mitogenJoin(_:)``): here the shell is `/bin/sh` itself,
///    not a login shell, so Mitogen's join is safe as long as no word
///    contains `!`, which that rule mangles; such a stage is refused.
///
/// stdio is plain pipes, as in Mitogen.
public struct SetnsMethod: SpawnedMethod, Equatable {
    /// How to find the leader PID.
    public enum Kind: String, Sendable, Equatable, CaseIterable {
        case docker, lxc, lxd, machinectl
    }

    /// The order namespaces are entered in (util-linux's nsenter order).
    public static let namespaceOrder = ["ipc", "uts", "net", "pid", "mnt", "user"]

    public var container: String
    public var kind: Kind
    /// The user to become inside the container, default `root`.
    public var username: String
    public var dockerPath: String
    public var lxcPath: String
    public var lxcInfoPath: String
    public var machinectlPath: String

    /// Mitogen's parameters and defaults.
    public init(
        container: String, kind: Kind, username: String = "root", dockerPath: String = "docker", lxcPath: String = "lxc",
        lxcInfoPath: String = "lxc-info", machinectlPath: String = "machinectl"
    ) {
        self.container = container
        self.kind = kind
        self.username = username.isEmpty ? "root" : username
        self.dockerPath = dockerPath.isEmpty ? "docker" : dockerPath
        self.lxcPath = lxcPath.isEmpty ? "lxc" : lxcPath
        self.lxcInfoPath = lxcInfoPath.isEmpty ? "lxc-info" : lxcInfoPath
        self.machinectlPath = machinectlPath.isEmpty ? "machinectl" : machinectlPath
    }

    /// Parses `docker`, `lxc`, `lxd` or `machinectl`.
    /// - Throws: `StreamError` with Mitogen's text, `unsupported container kind: 'x'`.
    public static func kind(parsing text: String) throws(StreamError) -> Kind {
        guard let kind = Kind(rawValue: text) else {
            throw StreamError("unsupported container kind: \(ShellQuote.pythonRepr(text))")
        }
        return kind
    }

    /// Rebuilds the method from a chain hop `setns:container?kind=…&…`.
    /// Keys: `container` (or the target), `kind` (required), `username`,
    /// `docker_path`, `lxc_path`, `lxc_info_path`, `machinectl_path`.
    public init(hop target: String?, options: [HopOption]) throws(StreamError) {
        let keys = ["container", "kind", "username", "docker_path", "lxc_path", "lxc_info_path", "machinectl_path"]
        let hop = try HopReader(method: "setns", options: options, keys: keys)
        guard let container = try hop.target(target, or: "container", what: "container") else {
            throw hop.fail("needs a container: setns:CONTAINER?kind=docker")
        }
        guard let kindText = hop.string("kind") else { throw hop.fail("needs kind= (docker, lxc, lxd or machinectl)") }
        self.init(
            container: container, kind: try Self.kind(parsing: kindText), username: hop.string("username") ?? "root",
            dockerPath: hop.string("docker_path") ?? "docker", lxcPath: hop.string("lxc_path") ?? "lxc",
            lxcInfoPath: hop.string("lxc_info_path") ?? "lxc-info",
            machinectlPath: hop.string("machinectl_path") ?? "machinectl")
    }

    public var methodName: String { "setns" }
    public func defaultName(pid: Int32) -> String { "setns.\(container)" }
    public var stdio: MethodStdio { .pipes }
    public var preferCompression: Bool { false }

    /// `["/bin/sh", "-c", "<mitogenJoin(stageArgv)>; exit $?"]`.
    /// - Throws: `StreamError` if a stage word contains `!` (see the type's comment).
    public func command(stageArgv: [String], stageCommand: String) throws -> [String] {
        guard !stageArgv.contains(where: { $0.contains("!") }) else {
            throw StreamError("setns: the first stage contains '!', which Mitogen's shell join cannot pass to /bin/sh")
        }
        return ["/bin/sh", "-c", ShellQuote.mitogenJoin(stageArgv) + "; exit $?"]
    }

    /// The command whose output names the leader PID, Mitogen's per kind:
    /// `docker inspect --format={{.State.Pid}} C`, `lxc-info -n C`,
    /// `lxc info C`, `machinectl status C`.
    public var leaderCommand: [String] {
        switch kind {
        case .docker: [dockerPath, "inspect", "--format={{.State.Pid}}", container]
        case .lxc: [lxcInfoPath, "-n", container]
        case .lxd: [lxcPath, "info", container]
        case .machinectl: [machinectlPath, "status", container]
        }
    }

    /// The leader PID in ``leaderCommand``'s output: the whole output for
    /// docker, else the second word of the first line whose first word is
    /// `PID:` (lxc), `Pid:` (lxd) or `Leader:` (machinectl).
    /// - Throws: `StreamError` with Mitogen's text,
    ///   `could not find PID from <tool> output.\n<output>`.
    public func leaderPID(fromOutput output: String) throws(StreamError) -> Int32 {
        let (label, tool): (String?, String) =
            switch kind {
            case .docker: (nil, "docker")
            case .lxc: ("PID:", "lxc-info")
            case .lxd: ("Pid:", "lxc")
            case .machinectl: ("Leader:", "machinectl")
            }
        let notFound = StreamError("could not find PID from \(tool) output.\n\(output)")
        guard let label else {
            let text = output.split(whereSeparator: \.isWhitespace)
            guard text.count == 1, let pid = Int32(text[0]), pid > 0 else { throw notFound }
            return pid
        }
        for line in output.split(whereSeparator: \.isNewline) {
            let words = line.split(whereSeparator: \.isWhitespace)
            if words.first.map(String.init) == label {
                guard words.count > 1, let pid = Int32(words[1]), pid > 0 else { throw notFound }
                return pid
            }
        }
        throw notFound
    }

    /// Mitogen's error when ``leaderCommand`` exits non-zero:
    /// `<argv joined> exitted with status N: <output>` (sic).
    public func leaderCommandFailed(status: Int32, output: String) -> StreamError {
        StreamError("\(ShellQuote.mitogenJoin(leaderCommand)) exitted with status \(status): \(output)")
    }

    public var hopTarget: String? { container }

    public var hopOptions: [HopOption] {
        var options = [HopOption(key: "kind", value: kind.rawValue)]
        if username != "root" { options.append(HopOption(key: "username", value: username)) }
        if dockerPath != "docker" { options.append(HopOption(key: "docker_path", value: dockerPath)) }
        if lxcPath != "lxc" { options.append(HopOption(key: "lxc_path", value: lxcPath)) }
        if lxcInfoPath != "lxc-info" { options.append(HopOption(key: "lxc_info_path", value: lxcInfoPath)) }
        if machinectlPath != "machinectl" { options.append(HopOption(key: "machinectl_path", value: machinectlPath)) }
        return options
    }
}
