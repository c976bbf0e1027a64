public import MitogenCore
public import MitogenWire

/// The `doas` method: a context as another user through OpenBSD's `doas`
/// (the seed's `Router.doas`, Mitogen 0.3.54's `mitogen.doas`).
///
/// Argv: `doas -u USER -- <stageArgv>`, exactly Mitogen's. doas runs with a
/// hybrid PTY (its prompt and messages on the PTY, the first stage on the
/// socketpair), as in Mitogen.
///
/// Prompts: ``passwordPrompt`` (default `Password:`, matched
/// case-insensitively anywhere in an unterminated line, so OpenDoas's
/// `doas (user@host) password:` matches too) and ``incorrectPrompts``
/// (default `doas: authentication failed`, `doas: Authorization failed`),
/// which count only after the password was typed, as in Mitogen.
public struct DoasMethod: SpawnedMethod, Equatable {
    /// Mitogen's default `password_prompt`.
    public static let mitogenPasswordPrompt = "Password:"
    /// Mitogen's default `incorrect_prompts`.
    public static let mitogenIncorrectPrompts = [
        "doas: authentication failed",  // slicer69/doas
        "doas: Authorization failed",  // openbsd/src
    ]

    /// The user to become, default `root`.
    public var username: String
    /// Typed when doas asks; never in argv, options or text.
    public var password: Secret?
    public var doasPath: String
    /// Text that shows doas asks for the password; nil for the default.
    public var passwordPrompt: String?
    /// Texts that show the password was wrong; nil for the defaults.
    public var incorrectPrompts: [String]?

    /// Mitogen's parameters and defaults.
    public init(
        username: String = "root", password: Secret? = nil, doasPath: String = "doas", passwordPrompt: String? = nil,
        incorrectPrompts: [String]? = nil
    ) {
        self.username = username
        self.password = password
        self.doasPath = doasPath
        self.passwordPrompt = passwordPrompt
        self.incorrectPrompts = incorrectPrompts
    }

    /// Rebuilds the method from a chain hop `doas[:user]?key=value&…`.
    ///
    /// Keys: `username` (or the target), `doas_path`, `password_prompt`,
    /// `incorrect_prompts` (shell words, one per text); `password` is skipped.
    public init(hop target: String?, options: [HopOption], password: Secret? = nil) throws(StreamError) {
        let keys = ["username", "password", "doas_path", "password_prompt", "incorrect_prompts"]
        let hop = try HopReader(method: "doas", options: options, keys: keys)
        self.init(
            username: try hop.target(target, or: "username", what: "user") ?? "root", password: password,
            doasPath: hop.string("doas_path") ?? "doas", passwordPrompt: hop.string("password_prompt"),
            incorrectPrompts: try hop.words("incorrect_prompts"))
        if passwordPrompt == "" { throw hop.fail("password_prompt= must not be empty") }
    }

    public var methodName: String { "doas" }
    public func defaultName(pid: Int32) -> String { "doas.\(username)" }
    public var stdio: MethodStdio { .hybridPTY }
    public var preferCompression: Bool { false }

    package var promptDialect: PromptDialect {
        .doas(
            prompt: passwordPrompt ?? Self.mitogenPasswordPrompt,
            incorrect: incorrectPrompts ?? Self.mitogenIncorrectPrompts)
    }

    /// `[doas_path, "-u", username, "--"] + stageArgv`.
    public func command(stageArgv: [String], stageCommand: String) throws -> [String] {
        [doasPath, "-u", username, "--"] + stageArgv
    }

    public var hopTarget: String? { username }

    public var hopOptions: [HopOption] {
        var options: [HopOption] = []
        if doasPath != "doas" { options.append(HopOption(key: "doas_path", value: doasPath)) }
        if let passwordPrompt { options.append(HopOption(key: "password_prompt", value: passwordPrompt)) }
        if let incorrectPrompts { options.append(HopValue.words("incorrect_prompts", incorrectPrompts)) }
        return options
    }
}
