public import MitogenCore
public import MitogenWire

/// The `sudo` method: a context as another user on the same machine (the
/// seed's `Router.sudo`, Mitogen 0.3.54's `mitogen.sudo`).
///
/// Argv: `sudo -p PROMPT -u USER [-E] [-H] [-i] [-r ROLE] [-t TYPE] -- <stageArgv>`,
/// Mitogen's order. Two deliberate differences, both parameters:
///
/// - **Prompt.** Mitogen always passes `-p mitogen-sudo-prompt:`. With
///   ``promptNonce`` set (the connection layer sets a fresh random one per
///   connection) the prompt is `mitogen-sudo-prompt-<nonce>:`, so no text
///   printed on the target can imitate it and harvest the password. nil keeps
///   Mitogen's prompt. The nonce must be ASCII letters and digits: sudo
///   expands `%` escapes in prompts.
/// - **Login (`-i`).** `sudo -i` hands the command to the login shell after
///   backslash-escaping every character but `$`, which would expand our
///   script's variables and join its lines. With ``login`` the stage is passed
///   as `/bin/sh -c <ShellQuote.printfEval(exec <stage>)>` instead, which
///   has no `$` or newline and runs the same stage.
///
/// `sudo_args` are parsed like Mitogen's optparse parser (`-E -H -i -r -t -u`
/// and their long forms, clusters, `=` values, unique long prefixes; `-S` and
/// `-n` ignored); explicit parameters win over `sudo_args`. sudo always runs
/// with a hybrid PTY, as in Mitogen, because it may prompt (and `requiretty`
/// refuses to run without a terminal).
public struct SudoMethod: SpawnedMethod, Equatable {
    /// Mitogen's fixed prompt.
    public static let mitogenPrompt = "mitogen-sudo-prompt:"

    /// `-u USER`, default `root`.
    public var username: String
    public var sudoPath: String
    /// Typed when sudo asks; an empty password counts as none (Mitogen's `if password:`).
    public var password: Secret?
    /// `-E`.
    public var preserveEnv: Bool
    /// `-H`.
    public var setHome: Bool
    /// `-i` (see the type's comment).
    public var login: Bool
    /// `-r ROLE`.
    public var selinuxRole: String?
    /// `-t TYPE`.
    public var selinuxType: String?
    /// Makes the prompt unique to this connection; nil for Mitogen's prompt.
    public var promptNonce: String?

    /// Mitogen's parameters and defaults; each explicit value beats `sudoArgs`.
    /// - Throws: `StreamError` with Mitogen's text when `sudoArgs` has an
    ///   unsupported option (`sudo: no such option: -s`) or a positional word
    ///   (`unsupported sudo arguments:['x']`).
    public init(
        username: String? = nil, sudoPath: String? = nil, password: Secret? = nil, preserveEnv: Bool? = nil,
        setHome: Bool? = nil, sudoArgs: [String]? = nil, login: Bool? = nil, selinuxRole: String? = nil,
        selinuxType: String? = nil, promptNonce: String? = nil
    ) throws(StreamError) {
        let flags = try SudoArguments.parse(sudoArgs ?? [])
        self.username = username ?? flags.user ?? "root"
        self.sudoPath = sudoPath ?? "sudo"
        self.password = password?.value.isEmpty == false ? password : nil
        self.preserveEnv = preserveEnv ?? flags.preserveEnv ?? false
        self.setHome = setHome ?? flags.setHome ?? false
        self.login = login ?? flags.login ?? false
        self.selinuxRole = selinuxRole ?? flags.role
        self.selinuxType = selinuxType ?? flags.type
        self.promptNonce = promptNonce
    }

    /// Rebuilds the method from a chain hop `sudo[:user]?key=value&…`.
    ///
    /// Keys: `username` (or the target), `sudo_path`, `preserve_env`,
    /// `set_home`, `sudo_args` (shell words), `login`, `selinux_type`,
    /// `selinux_role`; `password` is skipped (pass `password`).
    public init(hop target: String?, options: [HopOption], password: Secret? = nil) throws(StreamError) {
        let keys = [
            "username", "sudo_path", "password", "preserve_env", "set_home", "sudo_args", "login", "selinux_type",
            "selinux_role",
        ]
        let hop = try HopReader(method: "sudo", options: options, keys: keys)
        try self.init(
            username: try hop.target(target, or: "username", what: "user"), sudoPath: hop.string("sudo_path"),
            password: password, preserveEnv: try hop.bool("preserve_env"), setHome: try hop.bool("set_home"),
            sudoArgs: try hop.words("sudo_args"), login: try hop.bool("login"),
            selinuxRole: hop.string("selinux_role"), selinuxType: hop.string("selinux_type"))
    }

    public var methodName: String { "sudo" }
    public func defaultName(pid: Int32) -> String { "sudo.\(username)" }
    public var stdio: MethodStdio { .hybridPTY }
    public var preferCompression: Bool { false }

    /// The prompt passed with `-p` and awaited by the prompt engine.
    public var prompt: String {
        guard let promptNonce else { return Self.mitogenPrompt }
        return "mitogen-sudo-prompt-\(promptNonce):"
    }

    package var promptDialect: PromptDialect { .sudo(prompt: prompt) }

    /// - Throws: `StreamError` when ``promptNonce`` is not 1-64 ASCII letters or digits.
    public func command(stageArgv: [String], stageCommand: String) throws -> [String] {
        if let promptNonce {
            guard (1...64).contains(promptNonce.utf8.count),
                promptNonce.utf8.allSatisfy({ (0x30...0x39).contains($0) || (0x41...0x5a).contains($0) || (0x61...0x7a).contains($0) })
            else { throw StreamError("sudo: the prompt nonce must be 1 to 64 ASCII letters or digits") }
        }
        var bits = [sudoPath, "-p", prompt, "-u", username]
        if preserveEnv { bits.append("-E") }
        if setHome { bits.append("-H") }
        if login { bits.append("-i") }
        if let selinuxRole, !selinuxRole.isEmpty { bits += ["-r", selinuxRole] }
        if let selinuxType, !selinuxType.isEmpty { bits += ["-t", selinuxType] }
        bits.append("--")
        if login {
            let joined = stageArgv.map(ShellQuote.quote).joined(separator: " ")
            return bits + ["/bin/sh", "-c", ShellQuote.printfEval("exec " + joined)]
        }
        return bits + stageArgv
    }

    public var hopTarget: String? { username }

    public var hopOptions: [HopOption] {
        var options: [HopOption] = []
        if sudoPath != "sudo" { options.append(HopOption(key: "sudo_path", value: sudoPath)) }
        if preserveEnv { options.append(HopValue.bool("preserve_env", true)) }
        if setHome { options.append(HopValue.bool("set_home", true)) }
        if login { options.append(HopValue.bool("login", true)) }
        if let selinuxRole { options.append(HopOption(key: "selinux_role", value: selinuxRole)) }
        if let selinuxType { options.append(HopOption(key: "selinux_type", value: selinuxType)) }
        return options
    }
}

/// `sudo_args` parsed the way Mitogen's optparse-based `parse_sudo_flags`
/// does (Python 3.11 optparse texts, prefixed `sudo: `).
struct SudoArguments: Equatable {
    var preserveEnv: Bool?
    var setHome: Bool?
    var login: Bool?
    var role: String?
    var type: String?
    var user: String?

    private enum Option { case preserveEnv, setHome, login, role, type, stdin, nonInteractive, user, help }

    private static let shortOptions: [Character: Option] = [
        "E": .preserveEnv, "H": .setHome, "i": .login, "r": .role, "t": .type, "S": .stdin, "n": .nonInteractive,
        "u": .user, "h": .help,
    ]
    private static let longOptions: [String: Option] = [
        "--preserve-env": .preserveEnv, "--set-home": .setHome, "--login": .login, "--role": .role, "--type": .type,
        "--stdin": .stdin, "--non-interactive": .nonInteractive, "--user": .user, "--help": .help,
    ]

    static func parse(_ args: [String]) throws(StreamError) -> SudoArguments {
        var result = SudoArguments()
        var rest = args[...]
        var positional: [String] = []
        func fail(_ text: String) -> StreamError { StreamError("sudo: " + text) }
        while let arg = rest.first {
            if arg == "--" {
                rest = rest.dropFirst()
                break
            } else if arg.hasPrefix("--") {
                rest = rest.dropFirst()
                var name = arg
                var explicit: String?
                if let eq = arg.firstIndex(of: "=") {
                    name = String(arg[..<eq])
                    explicit = String(arg[arg.index(after: eq)...])
                }
                let (full, option) = try matchLong(name, fail)
                if takesValue(option) {
                    let value: String
                    if let explicit {
                        value = explicit
                    } else {
                        guard let next = rest.first else { throw fail("\(full) option requires 1 argument") }
                        rest = rest.dropFirst()
                        value = next
                    }
                    try result.apply(option, value: value, fail)
                } else {
                    if explicit != nil { throw fail("\(full) option does not take a value") }
                    try result.apply(option, value: nil, fail)
                }
            } else if arg.hasPrefix("-") && arg.count > 1 {
                rest = rest.dropFirst()
                var letters = arg.dropFirst()
                while let letter = letters.popFirst() {
                    guard let option = shortOptions[letter] else { throw fail("no such option: -\(letter)") }
                    if takesValue(option) {
                        let value: String
                        if !letters.isEmpty {
                            value = String(letters)
                            letters = ""
                        } else {
                            guard let next = rest.first else { throw fail("-\(letter) option requires 1 argument") }
                            rest = rest.dropFirst()
                            value = next
                        }
                        try result.apply(option, value: value, fail)
                    } else {
                        try result.apply(option, value: nil, fail)
                    }
                }
            } else {
                positional.append(arg)
                rest = rest.dropFirst()
            }
        }
        positional += rest
        if !positional.isEmpty {
            throw StreamError("unsupported sudo arguments:" + ShellQuote.pythonRepr(positional))
        }
        return result
    }

    /// optparse's `_match_abbrev`: an exact name, else the one long option it is a prefix of.
    private static func matchLong(_ name: String, _ fail: (String) -> StreamError) throws(StreamError) -> (String, Option) {
        if let option = longOptions[name] { return (name, option) }
        let candidates = longOptions.keys.filter { $0.hasPrefix(name) }.sorted()
        guard let first = candidates.first, let option = longOptions[first] else { throw fail("no such option: \(name)") }
        guard candidates.count == 1 else {
            throw fail("ambiguous option: \(name) (\(candidates.joined(separator: ", "))?)")
        }
        return (first, option)
    }

    private static func takesValue(_ option: Option) -> Bool { option == .role || option == .type || option == .user }

    private mutating func apply(_ option: Option, value: String?, _ fail: (String) -> StreamError) throws(StreamError) {
        switch option {
        case .preserveEnv: preserveEnv = true
        case .setHome: setHome = true
        case .login: login = true
        case .role: role = value
        case .type: type = value
        case .user: user = value
        case .stdin, .nonInteractive: break  // Mitogen: always a TTY, so ignored.
        case .help: throw fail("unsupported option")  // optparse's help action ends in exit().
        }
    }
}
