public import MitogenCore
import MitogenWire

// The seed's context factories for the spawned methods. Each takes the
// method's own parameters (Mitogen's names and defaults), then `name`,
// `connectTimeout` and `via`; the rest of the common parameters (debug,
// profiling, remote name, unidirectional, the prompt callback) ride in
// `options`.
//
// ```swift
// let web = try router.ssh(hostname: "web1", username: "deploy")
// let root = try router.sudo(username: "root", via: web)
// ```
//
// Every factory throws `StreamError`: kind `.password` for a wrong or
// missing password (the seed's `PasswordError`), `.hostKey` for an unknown or
// changed host key (`HostKeyError`), `.timeout` after `connectTimeout`, and
// the tool's own words for anything else.
extension Router {
    /// A context on another machine through the OpenSSH client (`ssh`), or
    /// in-process libssh2 with `transport: .libssh2` (nil: `SSHTransport.programDefault`).
    public func ssh(
        hostname: String, username: String? = nil, sshPath: String = "ssh", sshArgs: [String]? = nil,
        port: Int? = nil, checkHostKeys: SSHMethod.HostKeyPolicy = .enforce, password: String? = nil,
        identityFile: String? = nil, identitiesOnly: Bool = true, compression: Bool = true, sshDebugLevel: Int = 0,
        keepaliveEnabled: Bool = true, keepaliveCount: Int = 3, keepaliveInterval: Int = 15,
        transport: SSHTransport? = nil,
        name: String? = nil, connectTimeout: Double? = nil, via: Context? = nil, options: ConnectionOptions = ConnectionOptions()
    ) throws -> Context {
        let method = SSHMethod(
            hostname: hostname, username: username, sshPath: sshPath, sshArgs: sshArgs, port: port,
            checkHostKeys: checkHostKeys, password: password.map(Secret.init), identityFile: identityFile,
            identitiesOnly: identitiesOnly, compression: compression, sshDebugLevel: sshDebugLevel,
            keepaliveEnabled: keepaliveEnabled, keepaliveCount: keepaliveCount, keepaliveInterval: keepaliveInterval,
            transport: transport)
        return try connect(method, options.with(name: name, connectTimeout: connectTimeout, via: via))
    }

    /// A context as another user through `sudo`. `sudoArgs` is parsed the
    /// seed's way (`-E -H -i -r R -t T -u U`; `-S -n` ignored); explicit
    /// parameters win over it.
    public func sudo(
        username: String? = nil, sudoPath: String? = nil, password: String? = nil, preserveEnv: Bool? = nil,
        setHome: Bool? = nil, sudoArgs: [String]? = nil, login: Bool? = nil, selinuxRole: String? = nil,
        selinuxType: String? = nil,
        name: String? = nil, connectTimeout: Double? = nil, via: Context? = nil, options: ConnectionOptions = ConnectionOptions()
    ) throws -> Context {
        let method = try SudoMethod(
            username: username, sudoPath: sudoPath, password: password.map(Secret.init), preserveEnv: preserveEnv,
            setHome: setHome, sudoArgs: sudoArgs, login: login, selinuxRole: selinuxRole, selinuxType: selinuxType,
            promptNonce: SudoMethod.freshPromptNonce())
        return try connect(method, options.with(name: name, connectTimeout: connectTimeout, via: via))
    }

    /// A context as another user through `su` (in a PTY).
    public func su(
        username: String = "root", password: String? = nil, suPath: String = "su", passwordPrompt: String? = nil,
        incorrectPrompts: [String]? = nil,
        name: String? = nil, connectTimeout: Double? = nil, via: Context? = nil, options: ConnectionOptions = ConnectionOptions()
    ) throws -> Context {
        let method = SuMethod(
            username: username, password: password.map(Secret.init), suPath: suPath, passwordPrompt: passwordPrompt,
            incorrectPrompts: incorrectPrompts)
        return try connect(method, options.with(name: name, connectTimeout: connectTimeout, via: via))
    }

    /// A context as another user through OpenBSD's `doas`.
    public func doas(
        username: String = "root", password: String? = nil, doasPath: String = "doas", passwordPrompt: String? = nil,
        incorrectPrompts: [String]? = nil,
        name: String? = nil, connectTimeout: Double? = nil, via: Context? = nil, options: ConnectionOptions = ConnectionOptions()
    ) throws -> Context {
        let method = DoasMethod(
            username: username, password: password.map(Secret.init), doasPath: doasPath,
            passwordPrompt: passwordPrompt, incorrectPrompts: incorrectPrompts)
        return try connect(method, options.with(name: name, connectTimeout: connectTimeout, via: via))
    }

    /// A context in a Docker container (`docker exec`) or a new one from an
    /// image (`docker run --rm`).
    public func docker(
        container: String? = nil, image: String? = nil, username: String? = nil, dockerPath: String = "docker",
        name: String? = nil, connectTimeout: Double? = nil, via: Context? = nil, options: ConnectionOptions = ConnectionOptions()
    ) throws -> Context {
        let method = try DockerMethod(container: container, image: image, username: username, dockerPath: dockerPath)
        return try connect(method, options.with(name: name, connectTimeout: connectTimeout, via: via))
    }

    /// A context in a Podman container (`podman exec`).
    public func podman(
        container: String, username: String? = nil, podmanPath: String = "podman",
        name: String? = nil, connectTimeout: Double? = nil, via: Context? = nil, options: ConnectionOptions = ConnectionOptions()
    ) throws -> Context {
        try connect(
            PodmanMethod(container: container, username: username, podmanPath: podmanPath),
            options.with(name: name, connectTimeout: connectTimeout, via: via))
    }

    /// A context in a Buildah container (`buildah run`).
    public func buildah(
        container: String, username: String? = nil, buildahPath: String = "buildah",
        name: String? = nil, connectTimeout: Double? = nil, via: Context? = nil, options: ConnectionOptions = ConnectionOptions()
    ) throws -> Context {
        try connect(
            BuildahMethod(container: container, username: username, buildahPath: buildahPath),
            options.with(name: name, connectTimeout: connectTimeout, via: via))
    }

    /// A context in a Kubernetes pod (`kubectl exec`).
    public func kubectl(
        pod: String, kubectlPath: String = "kubectl", kubectlArgs: [String] = [], container: String? = nil,
        name: String? = nil, connectTimeout: Double? = nil, via: Context? = nil, options: ConnectionOptions = ConnectionOptions()
    ) throws -> Context {
        try connect(
            KubectlMethod(pod: pod, kubectlPath: kubectlPath, kubectlArgs: kubectlArgs, container: container),
            options.with(name: name, connectTimeout: connectTimeout, via: via))
    }

    /// A context in an LXC container (`lxc-attach`).
    public func lxc(
        container: String, lxcAttachPath: String = "lxc-attach",
        name: String? = nil, connectTimeout: Double? = nil, via: Context? = nil, options: ConnectionOptions = ConnectionOptions()
    ) throws -> Context {
        try connect(
            LXCMethod(container: container, lxcAttachPath: lxcAttachPath),
            options.with(name: name, connectTimeout: connectTimeout, via: via))
    }

    /// A context in an LXD container (`lxc exec`).
    public func lxd(
        container: String, lxcPath: String = "lxc",
        name: String? = nil, connectTimeout: Double? = nil, via: Context? = nil, options: ConnectionOptions = ConnectionOptions()
    ) throws -> Context {
        try connect(
            LXDMethod(container: container, lxcPath: lxcPath),
            options.with(name: name, connectTimeout: connectTimeout, via: via))
    }

    /// A context in an Incus container (`incus exec`).
    public func incus(
        container: String, incusPath: String = "incus",
        name: String? = nil, connectTimeout: Double? = nil, via: Context? = nil, options: ConnectionOptions = ConnectionOptions()
    ) throws -> Context {
        try connect(
            IncusMethod(container: container, incusPath: incusPath),
            options.with(name: name, connectTimeout: connectTimeout, via: via))
    }

    /// A context in a FreeBSD jail (`jexec`).
    public func jail(
        container: String, username: String? = nil, jexecPath: String = "/usr/sbin/jexec",
        name: String? = nil, connectTimeout: Double? = nil, via: Context? = nil, options: ConnectionOptions = ConnectionOptions()
    ) throws -> Context {
        try connect(
            JailMethod(container: container, username: username, jexecPath: jexecPath),
            options.with(name: name, connectTimeout: connectTimeout, via: via))
    }

    /// A context inside a container's namespaces (setns), found by `kind`'s
    /// lookup (`docker inspect`, `lxc-info`, `lxc info`, `machinectl status`).
    ///
    /// Not available yet: entering the namespaces between fork and exec is
    /// not implemented, so this throws `StreamError` (kind `.refused`) rather
    /// than start a context outside the container. Its argv and parameters
    /// are in place (`SetnsMethod`).
    public func setns(
        container: String, kind: SetnsMethod.Kind, username: String = "root", dockerPath: String = "docker",
        lxcPath: String = "lxc", lxcInfoPath: String = "lxc-info", machinectlPath: String = "machinectl",
        name: String? = nil, connectTimeout: Double? = nil, via: Context? = nil, options: ConnectionOptions = ConnectionOptions()
    ) throws -> Context {
        let method = SetnsMethod(
            container: container, kind: kind, username: username, dockerPath: dockerPath, lxcPath: lxcPath,
            lxcInfoPath: lxcInfoPath, machinectlPath: machinectlPath)
        return try connect(method, options.with(name: name, connectTimeout: connectTimeout, via: via))
    }
}

extension ConnectionOptions {
    /// These options with the factory's own `name`, `connectTimeout` and
    /// `via` where given.
    func with(name: String?, connectTimeout: Double?, via: Context?) -> ConnectionOptions {
        var copy = self
        if let name { copy.name = name }
        if let connectTimeout { copy.connectTimeout = connectTimeout }
        if let via { copy.via = via }
        return copy
    }
}

extension SudoMethod {
    /// A random prompt nonce (letters and digits) for one connection, so the
    /// prompt the engine waits for cannot be printed by anything else.
    static func freshPromptNonce() -> String {
        let alphabet = Array("abcdefghijklmnopqrstuvwxyz0123456789")
        return String((0..<16).map { _ in alphabet[Int.random(in: 0..<alphabet.count)] })
    }
}
