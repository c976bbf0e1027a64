public import MitogenCore
package import MitogenSys
public import MitogenWire

/// The `ssh` method: a context on another machine through the OpenSSH client
/// (the seed's `Router.ssh`, Mitogen 0.3.54's `mitogen.ssh`).
///
/// The argv is Mitogen's, option for option and in the same order:
///
/// ```
/// ssh (-v… | -o "LogLevel ERROR") [-l USER] [-p PORT] [-o "IdentitiesOnly yes"]
///     [-i FILE] [-o "Compression yes"] [-o "ServerAliveInterval 15"
///     -o "ServerAliveCountMax 3"] [-o "BatchMode yes"] <host key options>
///     [ssh_args…] HOST <first stage>
/// ```
///
/// `ssh` joins the words after HOST with spaces and hands the result to the
/// remote user's login shell. Mitogen passes each word of its boot argv
/// `shlex.quote`d; we pass `stageCommand` as ONE word instead: it is already
/// a single quoted line that Bourne, csh and fish login shells all hand to
/// `/bin/sh` unchanged, while the quoted multi-line `stageArgv` script would
/// break under csh. The remote shell therefore runs exactly
/// `/bin/sh -c '<first stage>' mitogen-stage1`.
///
/// A PTY is used only when a password may be typed or an unknown host key
/// accepted (`password != nil` or `checkHostKeys == .accept`); otherwise
/// `BatchMode yes` is set and stdio is plain pipes, which scales to many
/// targets. Mitogen's `ssh` has no `ConnectTimeout` option: `connect_timeout`
/// bounds the whole start from the master's side instead.
public struct SSHMethod: SpawnedMethod, Equatable {
    /// The seed's `check_host_keys`.
    public enum HostKeyPolicy: String, Sendable, Equatable, CaseIterable {
        /// No checking: `StrictHostKeyChecking no` and empty known-hosts files.
        case ignore
        /// Known keys must match; unknown keys are accepted and recorded
        /// (ssh asks, the prompt engine answers `yes`).
        case accept
        /// Known keys must match and unknown hosts fail (the default).
        case enforce

        /// Mitogen's error text for any other value.
        public static let invalidMessage = "check_host_keys= must be set to accept, enforce or ignore"

        /// Parses `ignore`, `accept` or `enforce`.
        /// - Throws: `StreamError` with ``invalidMessage`` for anything else.
        public init(parsing text: String) throws(StreamError) {
            guard let policy = Self(rawValue: text) else { throw StreamError(Self.invalidMessage) }
            self = policy
        }
    }

    /// Host to connect to, as ssh takes it (a name, an address, a config alias).
    public var hostname: String
    /// `-l USER`; nil (or empty) lets ssh pick.
    public var username: String?
    /// The ssh program; empty means `ssh`.
    public var sshPath: String
    /// Extra words inserted before the host, verbatim.
    public var sshArgs: [String]?
    /// `-p PORT`; nil lets ssh pick.
    public var port: Int?
    public var checkHostKeys: HostKeyPolicy
    /// Typed when ssh asks for a password; never in argv, options or text.
    public var password: Secret?
    /// `-i FILE`.
    public var identityFile: String?
    /// With a password or identity file, add `IdentitiesOnly yes`.
    public var identitiesOnly: Bool
    public var compression: Bool
    /// 0 for quiet (`LogLevel ERROR`), else that many `-v` (at most 3).
    public var sshDebugLevel: Int
    public var keepaliveEnabled: Bool
    public var keepaliveCount: Int
    public var keepaliveInterval: Int
    /// Who speaks SSH: nil takes the program's default (``SSHTransport/programDefault``,
    /// OpenSSH unless the program changes it).
    public var transport: SSHTransport?

    /// The transport this method will use.
    public var resolvedTransport: SSHTransport { transport ?? SSHTransport.programDefault }

    /// Mitogen's parameters and defaults.
    public init(
        hostname: String, username: String? = nil, sshPath: String = "ssh", sshArgs: [String]? = nil,
        port: Int? = nil, checkHostKeys: HostKeyPolicy = .enforce, password: Secret? = nil,
        identityFile: String? = nil, identitiesOnly: Bool = true, compression: Bool = true, sshDebugLevel: Int = 0,
        keepaliveEnabled: Bool = true, keepaliveCount: Int = 3, keepaliveInterval: Int = 15,
        transport: SSHTransport? = nil
    ) {
        self.transport = transport
        self.hostname = hostname
        self.username = username
        self.sshPath = sshPath
        self.sshArgs = sshArgs
        self.port = port
        self.checkHostKeys = checkHostKeys
        self.password = password
        self.identityFile = identityFile
        self.identitiesOnly = identitiesOnly
        self.compression = compression
        self.sshDebugLevel = sshDebugLevel
        self.keepaliveEnabled = keepaliveEnabled
        self.keepaliveCount = keepaliveCount
        self.keepaliveInterval = keepaliveInterval
    }

    /// Rebuilds the method from a chain hop `ssh:[user@]host[:port]?key=value&…`.
    ///
    /// Keys: `username`, `ssh_path`, `ssh_args` (shell words), `port`,
    /// `check_host_keys`, `identity_file`, `identities_only`, `compression`,
    /// `ssh_debug_level`, `keepalive` (or `keepalive_enabled`),
    /// `keepalive_count`, `keepalive_interval`, `transport` (`openssh` or
    /// `libssh2`). A `password` option is skipped:
    /// the caller resolves it and passes `password`.
    /// - Throws: `StreamError` naming the key for a bad or repeated value.
    public init(hop target: String?, options: [HopOption], password: Secret? = nil) throws(StreamError) {
        let keys = [
            "username", "ssh_path", "ssh_args", "port", "check_host_keys", "password", "identity_file",
            "identities_only", "compression", "ssh_debug_level", "keepalive", "keepalive_enabled",
            "keepalive_count", "keepalive_interval", "transport",
        ]
        let hop = try HopReader(method: "ssh", options: options, keys: keys)
        guard let target else { throw hop.fail("needs a host: ssh:[user@]host[:port]") }
        guard let parsed = SSHTarget(target) else {
            throw hop.fail("\"\(target)\" is not [user@]host[:port] (port 1-65535, IPv6 addresses in brackets)")
        }
        if parsed.user != nil, hop.string("username") != nil { throw hop.fail("the user is given twice: user@ and username=") }
        let optionPort = try hop.int("port", in: 0...65535)
        if parsed.port != nil, optionPort != nil { throw hop.fail("the port is given twice: :port and port=") }
        if hop.string("keepalive") != nil, hop.string("keepalive_enabled") != nil {
            throw hop.fail("keepalive= and keepalive_enabled= are the same parameter; give one")
        }
        self.init(hostname: parsed.host, username: parsed.user ?? hop.string("username"), password: password)
        port = parsed.port ?? optionPort
        if let path = hop.string("ssh_path") { sshPath = path }
        sshArgs = try hop.words("ssh_args")
        if let mode = hop.string("check_host_keys") { checkHostKeys = try HostKeyPolicy(parsing: mode) }
        identityFile = hop.string("identity_file")
        identitiesOnly = try hop.bool("identities_only") ?? true
        compression = try hop.bool("compression") ?? true
        sshDebugLevel = try hop.int("ssh_debug_level", in: 0...Int(Int32.max)) ?? 0
        let keepalive = try hop.bool("keepalive")
        let keepaliveEnabled = try hop.bool("keepalive_enabled")
        self.keepaliveEnabled = keepalive ?? keepaliveEnabled ?? true
        keepaliveCount = try hop.int("keepalive_count", in: 0...Int(Int32.max)) ?? 3
        keepaliveInterval = try hop.int("keepalive_interval", in: 0...Int(Int32.max)) ?? 15
        if let name = hop.string("transport") {
            guard let kind = SSHTransport(rawValue: name) else { throw hop.fail(SSHTransport.invalidMessage) }
            transport = kind
        }
    }

    public var methodName: String { "ssh" }

    /// `ssh.<host>`, plus `:<port>` when a port other than 0 or 22 is set.
    public func defaultName(pid: Int32) -> String {
        guard let port, port != 0, port != 22 else { return "ssh.\(hostname)" }
        return "ssh.\(hostname):\(port)"
    }

    /// A PTY exactly when ssh may have to be answered.
    public var stdio: MethodStdio { password != nil || checkHostKeys == .accept || interactive ? .hybridPTY : .pipes }

    /// Run ssh on a PTY without `BatchMode` even with no password, so that
    /// its other questions (a key passphrase, a one-time code) reach the
    /// connection's prompt callback. Set by the connection when there is one.
    public var interactive = false

    /// Network link: compress the upload.
    public var preferCompression: Bool { true }

    package var promptDialect: PromptDialect { .ssh(acceptHostKeys: checkHostKeys == .accept) }

    /// Mitogen's argv (see the type's comment), ending in `stageCommand` as one word.
    public func command(stageArgv: [String], stageCommand: String) throws -> [String] {
        var bits = [sshPath.isEmpty ? "ssh" : sshPath]
        if sshDebugLevel > 0 {
            bits.append("-" + String(repeating: "v", count: min(3, sshDebugLevel)))
        } else {
            // Mitogen issue #307: a login banner may contain the password prompt.
            bits += ["-o", "LogLevel ERROR"]
        }
        if let username, !username.isEmpty { bits += ["-l", username] }
        if let port { bits += ["-p", String(port)] }
        let hasIdentityFile = !(identityFile ?? "").isEmpty
        // Python truthiness, as Mitogen: an empty password asks for a PTY but not IdentitiesOnly.
        let hasPassword = !(password?.value.isEmpty ?? true)
        if identitiesOnly && (hasIdentityFile || hasPassword) { bits += ["-o", "IdentitiesOnly yes"] }
        if let identityFile, hasIdentityFile { bits += ["-i", identityFile] }
        if compression { bits += ["-o", "Compression yes"] }
        if keepaliveEnabled {
            bits += ["-o", "ServerAliveInterval \(keepaliveInterval)", "-o", "ServerAliveCountMax \(keepaliveCount)"]
        }
        if !needsPTY { bits += ["-o", "BatchMode yes"] }
        switch checkHostKeys {
        case .enforce: bits += ["-o", "StrictHostKeyChecking yes"]
        case .accept: bits += ["-o", "StrictHostKeyChecking ask"]
        case .ignore:
            bits += [
                "-o", "StrictHostKeyChecking no", "-o", "UserKnownHostsFile /dev/null",
                "-o", "GlobalKnownHostsFile /dev/null",
            ]
        }
        if let sshArgs { bits += sshArgs }
        bits.append(hostname)
        bits.append(stageCommand)
        return bits
    }

    /// `[user@]host[:port]`, the host in brackets when it contains `:`.
    public var hopTarget: String? {
        var text = hostname.contains(":") ? "[\(hostname)]" : hostname
        if let username, !username.isEmpty { text = username + "@" + text }
        if let port, (1...65535).contains(port) { text += ":\(port)" }
        return text
    }

    /// Every parameter that differs from its default, except those in the
    /// target and the password.
    public var hopOptions: [HopOption] {
        var options: [HopOption] = []
        if sshPath != "ssh" && !sshPath.isEmpty { options.append(HopOption(key: "ssh_path", value: sshPath)) }
        if let sshArgs, !sshArgs.isEmpty { options.append(HopValue.words("ssh_args", sshArgs)) }
        if let port, !(1...65535).contains(port) { options.append(HopValue.int("port", port)) }
        if checkHostKeys != .enforce { options.append(HopOption(key: "check_host_keys", value: checkHostKeys.rawValue)) }
        if let identityFile, !identityFile.isEmpty { options.append(HopOption(key: "identity_file", value: identityFile)) }
        if !identitiesOnly { options.append(HopValue.bool("identities_only", false)) }
        if !compression { options.append(HopValue.bool("compression", false)) }
        if sshDebugLevel > 0 { options.append(HopValue.int("ssh_debug_level", sshDebugLevel)) }
        if !keepaliveEnabled { options.append(HopValue.bool("keepalive", false)) }
        if keepaliveCount != 3 { options.append(HopValue.int("keepalive_count", keepaliveCount)) }
        if keepaliveInterval != 15 { options.append(HopValue.int("keepalive_interval", keepaliveInterval)) }
        if let transport { options.append(HopOption(key: "transport", value: transport.rawValue)) }
        return options
    }
}

/// Who speaks SSH for the `ssh` method (DESIGN §6).
public enum SSHTransport: String, Sendable, CaseIterable {
    /// The OpenSSH client, one `ssh` process per context: honours the user's
    /// ssh config.
    case openssh
    /// In-process libssh2 (`MitogenSSH2`): no process and no PTY per target,
    /// the choice for wide fan-out. The program must register it first
    /// (`LibSSH2Transport.register()`).
    case libssh2

    static let invalidMessage = "transport= must be openssh or libssh2"

    private static let chosen = Lock(SSHTransport.openssh)

    /// The transport of an `ssh` method that names none: OpenSSH unless the
    /// program sets another (the console's `set ssh-transport`).
    public static var programDefault: SSHTransport {
        get { chosen.withLock { $0 } }
        set { chosen.withLock { $0 = newValue } }
    }
}

/// What an in-process SSH transport is asked to do: reach `method`'s host,
/// authenticate, and run `command` (the first stage) there.
package struct InProcessSSHRequest: Sendable {
    package var method: SSHMethod
    package var command: String
    /// The master's broker, which must drive every descriptor.
    package var broker: Broker
    /// `monotonicNow()` by which the session must be open.
    package var deadline: Double
    /// The whole `connect_timeout`, for the error text.
    package var timeout: Double
    package var promptCallback: (@Sendable (String) -> String?)?
}

/// The command's stdin/stdout (a socket) and its stderr, as local descriptors
/// the master's stream reads like a spawned tool's.
package struct InProcessSSHChannel: Sendable {
    package var channel: FileDescriptor
    package var diagnostics: FileDescriptor?
    package init(channel: FileDescriptor, diagnostics: FileDescriptor?) {
        self.channel = channel
        self.diagnostics = diagnostics
    }
}

/// An SSH implementation living in the master process. The core knows only
/// this hook; `MitogenSSH2` provides one and the master program registers it.
package protocol InProcessSSHTransport: Sendable {
    /// Opens the session and starts the command; blocks the calling thread
    /// (never the broker's) until then, at most until `request.deadline`.
    /// - Throws: `StreamError` (`.password`, `.hostKey`, `.timeout` naming the stage, ...).
    func open(_ request: InProcessSSHRequest) throws(StreamError) -> InProcessSSHChannel
}

/// The process's registered in-process transports.
package enum InProcessSSHRegistry {
    private static let registered = Lock<(any InProcessSSHTransport)?>(nil)

    package static func register(_ transport: any InProcessSSHTransport) {
        registered.withLock { $0 = transport }
    }

    /// The libssh2 transport, or the error that says how to get it.
    package static func libssh2() throws(StreamError) -> any InProcessSSHTransport {
        guard let transport = registered.withLock({ $0 }) else {
            throw StreamError(
                "ssh transport=libssh2 is not registered in this process: link MitogenSSH2 and call "
                    + "LibSSH2Transport.register() once at start (a mitogen-child never has it, so a libssh2 hop "
                    + "must be the first of a chain)", kind: .refused)
        }
        return transport
    }
}
