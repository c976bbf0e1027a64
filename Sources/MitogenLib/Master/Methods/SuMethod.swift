public import MitogenCore
public import MitogenWire

/// The `su` method: a context as another user through `su` (the seed's
/// `Router.su`, Mitogen 0.3.54's `mitogen.su`).
///
/// Argv: `su USER -c <stageCommand>`. Mitogen's third word is its boot argv
/// joined with `mitogen.parent.Argv` (double quotes, five characters
/// escaped); `su` hands that string to the target user's **login shell**
/// with `-c`, which may be csh, fish or anything else, so we pass
/// `stageCommand`, the one-line, single-quoted form of the first stage that
/// any of them hands to `/bin/sh` unchanged. The target shell therefore runs
/// exactly `/bin/sh -c '<first stage>' mitogen-stage1`.
///
/// `su` runs on a full PTY (Mitogen's `tty_create_child`): the prompt, the
/// failure messages and the first stage's own lines share one channel, so
/// the prompt engine also watches for the first-stage markers.
///
/// Prompts: ``passwordPrompt`` (Mitogen's `password_prompt`, default
/// `password:`, matched case-insensitively anywhere in an unterminated line)
/// and ``incorrectPrompts`` (default: Mitogen's four English texts). When a
/// parameter is left nil we also recognise Linux-PAM's translations of
/// `Password:` and `Authentication failure` for common locales
/// (``PromptDialect/suLocalizedPrompts``), which Mitogen does not: on a
/// German system `su` asks `Passwort:`.
public struct SuMethod: SpawnedMethod, Equatable {
    /// Mitogen's default `password_prompt`.
    public static let mitogenPasswordPrompt = "password:"
    /// Mitogen's default `incorrect_prompts`.
    public static let mitogenIncorrectPrompts = [
        "su: sorry",  // BSD
        "su: authentication failure",  // Linux
        "su: incorrect password",  // CentOS 6
        "authentication is denied",  // AIX
    ]

    /// The user to become, default `root`.
    public var username: String
    /// Typed when su asks; never in argv, options or text.
    public var password: Secret?
    public var suPath: String
    /// Text that shows su asks for the password; nil for the defaults.
    public var passwordPrompt: String?
    /// Texts that show the password was wrong; nil for the defaults.
    public var incorrectPrompts: [String]?

    /// Mitogen's parameters and defaults.
    public init(
        username: String = "root", password: Secret? = nil, suPath: String = "su", passwordPrompt: String? = nil,
        incorrectPrompts: [String]? = nil
    ) {
        self.username = username
        self.password = password
        self.suPath = suPath
        self.passwordPrompt = passwordPrompt
        self.incorrectPrompts = incorrectPrompts
    }

    /// Rebuilds the method from a chain hop `su[:user]?key=value&…`.
    ///
    /// Keys: `username` (or the target), `su_path`, `password_prompt`,
    /// `incorrect_prompts` (shell words, one per text); `password` is skipped.
    public init(hop target: String?, options: [HopOption], password: Secret? = nil) throws(StreamError) {
        let keys = ["username", "password", "su_path", "password_prompt", "incorrect_prompts"]
        let hop = try HopReader(method: "su", options: options, keys: keys)
        self.init(
            username: try hop.target(target, or: "username", what: "user") ?? "root", password: password,
            suPath: hop.string("su_path") ?? "su", passwordPrompt: hop.string("password_prompt"),
            incorrectPrompts: try hop.words("incorrect_prompts"))
        if passwordPrompt == "" { throw hop.fail("password_prompt= must not be empty") }
    }

    public var methodName: String { "su" }
    public func defaultName(pid: Int32) -> String { "su.\(username)" }
    public var stdio: MethodStdio { .fullPTY }
    public var preferCompression: Bool { false }

    package var promptDialect: PromptDialect {
        let prompts = passwordPrompt.map { [$0] } ?? [Self.mitogenPasswordPrompt] + PromptDialect.suLocalizedPrompts
        let incorrect = incorrectPrompts ?? Self.mitogenIncorrectPrompts + PromptDialect.suLocalizedFailures
        return .su(prompts: prompts, incorrect: incorrect)
    }

    /// `[su_path, username, "-c", stageCommand]`.
    public func command(stageArgv: [String], stageCommand: String) throws -> [String] {
        [suPath, username, "-c", stageCommand]
    }

    public var hopTarget: String? { username }

    public var hopOptions: [HopOption] {
        var options: [HopOption] = []
        if suPath != "su" { options.append(HopOption(key: "su_path", value: suPath)) }
        if let passwordPrompt { options.append(HopOption(key: "password_prompt", value: passwordPrompt)) }
        if let incorrectPrompts { options.append(HopValue.words("incorrect_prompts", incorrectPrompts)) }
        return options
    }
}
