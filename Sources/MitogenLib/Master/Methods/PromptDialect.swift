import MitogenCore
import MitogenWire

/// What one tool's prompts and failure messages look like: Mitogen 0.3.54's
/// patterns (notes/mitogen-wire.md §8) plus a few fatal messages Mitogen
/// only reports as end-of-file.
///
/// Matching works on bytes: "case-insensitive" folds ASCII letters only, as
/// Python's `re.I` does on bytes patterns. Line rules see complete lines
/// (without the `\n`, and without a trailing `\r` from a PTY); prompt rules
/// see the unterminated tail of the output, re-tested as it grows.
package enum PromptDialect: Sendable, Equatable {
    /// No prompts (container tools, setns): the engine only watches for the
    /// first stage and keeps the output for error texts.
    case none
    /// OpenSSH: password prompt, host key question, keyboard-interactive
    /// questions; `accept` answers the host key question with `yes`.
    case ssh(acceptHostKeys: Bool)
    /// sudo with `-p prompt`: sudo.ws prints the prompt as is, sudo-rs as
    /// `[sudo: prompt] Password: `.
    case sudo(prompt: String)
    /// su: any of `prompts` anywhere in the tail asks for the password; any of
    /// `incorrect` in a line means it was wrong.
    case su(prompts: [String], incorrect: [String])
    /// doas: as su, but `incorrect` counts only after the password was typed.
    case doas(prompt: String, incorrect: [String])

    // MARK: Mitogen's texts

    package static let sshPasswordIncorrect = "SSH password is incorrect"
    package static let sshPasswordRequired = "SSH password was requested, but none specified"
    package static let sshAuthIncorrect = "SSH authentication is incorrect"
    package static let sshHostKeyFailed =
        "Host key checking is enabled, and SSH reported an unrecognized or mismatching host key."
    package static let sshHostKeyConfig =
        "SSH requested permission to accept unknown host key, but check_host_keys=ignore. This is likely due to ssh_args=  conflicting with check_host_keys=. Please correct your configuration."

    /// Linux-PAM's translations of `Password:` (from its `.mo` catalogues):
    /// su's prompt on non-English systems, recognised when `password_prompt`
    /// is not set.
    package static let suLocalizedPrompts = [
        "Adgangskode:", "Contraseña:", "Hasło:", "Heslo:", "Jelszó:", "Lösenord:", "Mot de passe :",
        "Mot de passe\u{a0}:", "Palavra-passe:", "Parola:", "Passord:", "Passwort:", "Salasana:", "Senha:",
        "Wachtwoord:", "Пароль:", "パスワード:", "密码：", "密碼：", "암호:",
    ]

    /// Linux-PAM's translations of `Authentication failure` (su prints
    /// `su: <text>`), recognised when `incorrect_prompts` is not set.
    package static let suLocalizedFailures = [
        "Autenticazione non riuscita", "Autentiseringsfeil", "Autentiseringsfel", "Authenticatiefout",
        "Falha de autenticação", "Fallo de autenticación", "Fehler bei Authentifizierung", "Fejl ved godkendelse",
        "Hitelesítési hiba", "Selhání autentizace", "Tunnistautumisvirhe", "Uwierzytelnienie się nie powiodło",
        "Yetkilendirme hatası", "Échec de l’authentification", "Помилка розпізнавання",
        "Сбой при проверке подлинности", "認証失敗", "鉴定故障", "驗證失敗", "인증 실패",
    ]

    /// The tool's name in messages.
    var tool: String {
        switch self {
        case .none: "the connection tool"
        case .ssh: "SSH"
        case .sudo: "sudo"
        case .su: "su"
        case .doas: "doas"
        }
    }

    /// Mitogen's "password is required" text for this tool.
    var requiredMessage: String {
        if case .ssh = self { return Self.sshPasswordRequired }
        return "\(tool) password is required"
    }

    /// Mitogen's "password is incorrect" text for this tool.
    var incorrectMessage: String {
        if case .ssh = self { return Self.sshPasswordIncorrect }
        return "\(tool) password is incorrect"
    }

    // MARK: Rules

    /// What a complete line means, if anything. First match wins.
    func lineEvent(_ line: ArraySlice<UInt8>, passwordSent: Bool, hasPassword: Bool) -> PromptEvent? {
        switch self {
        case .none:
            return nil
        case .ssh:
            if Self.isDebugLine(line) { return nil }
            if Bytes.containsCI(line, "host key verification failed.") {
                return .fail(.hostKey, Self.sshHostKeyFailed)
            }
            if Self.isPermissionDenied(line) {
                if hasPassword && passwordSent { return .incorrect }
                if !hasPassword && Bytes.containsCI(line, "password") { return .required }
                return .fail(.password, Self.sshAuthIncorrect)
            }
            if Bytes.hasPrefix(line, "ssh: ") || Bytes.containsCI(line, "kex_exchange_identification:") {
                return .toolFailure
            }
            return nil
        case .sudo:
            if Bytes.containsAnyCI(line, ["sorry, try again", "authentication failed, try again"]) {
                return passwordSent ? .incorrect : nil
            }
            if Bytes.containsAnyCI(line, ["incorrect password attempt", "incorrect authentication attempt"]) {
                return .incorrect
            }
            if Bytes.containsCI(line, "a password is required") { return .required }
            if Bytes.containsAnyCI(line, Self.sudoFailures) { return .toolFailure }
            return nil
        case .su(_, let incorrect):
            if Bytes.containsAnyCI(line, incorrect) { return .incorrect }
            if Bytes.containsAnyCI(line, Self.suFailures) { return .toolFailure }
            return nil
        case .doas(_, let incorrect):
            if Bytes.containsAnyCI(line, incorrect) { return passwordSent ? .incorrect : nil }
            if Bytes.containsCI(line, "doas: authentication required") { return .required }
            if Bytes.containsAnyCI(line, Self.doasFailures) { return .toolFailure }
            return nil
        }
    }

    /// What the unterminated tail means, if anything. First match wins.
    func partialEvent(_ partial: ArraySlice<UInt8>) -> PromptEvent? {
        switch self {
        case .none:
            return nil
        case .ssh:
            // Mitogen tests these against every partial; we skip debug and
            // "Permission denied (…,password)" lines still being written.
            if Self.isDebugLine(partial) || Self.isPermissionDenied(partial) { return nil }
            if Bytes.containsCI(partial, "password") { return .passwordPrompt }
            if Bytes.containsAnyCI(partial, Self.hostKeyQuestions) { return .hostKeyQuestion }
            if Self.looksLikeQuestion(partial) { return .question }
            return nil
        case .sudo(let prompt):
            if Bytes.hasSuffix(partial, prompt) { return .passwordPrompt }
            return Self.hasSudoRSPrompt(partial, prompt) ? .passwordPrompt : nil
        case .su(let prompts, _):
            return Bytes.containsAnyCI(partial, prompts) ? .passwordPrompt : nil
        case .doas(let prompt, _):
            return Bytes.containsCI(partial, prompt) ? .passwordPrompt : nil
        }
    }

    // MARK: Pattern helpers

    /// Fatal sudo messages (sudo.ws and sudo-rs) Mitogen leaves to EOF.
    static let sudoFailures = [
        "is not in the sudoers file", "is not allowed to run sudo", "is not allowed to execute", "may not run sudo",
        "i'm afraid i can't do that",
        "a terminal is required", "you must have a tty", "no tty present", "account validation failure",
        "account or password is expired", "account has expired", "password has expired", "unknown user",
    ]
    /// Fatal su messages (util-linux, shadow, BSD) Mitogen leaves to EOF.
    static let suFailures = [
        "su: user ", "no passwd entry", "su: must be run from a terminal", "su: permission denied",
        "su: failed to execute", "su: unknown login", "su: cannot set",
    ]
    /// Fatal doas messages Mitogen leaves to EOF.
    static let doasFailures = ["doas: operation not permitted", "doas: a tty is required", "doas: not installed setuid"]

    /// `are you sure you want to continue connecting \(yes/no(?:/\[fingerprint\])?\)\?`
    static let hostKeyQuestions = [
        "are you sure you want to continue connecting (yes/no)?",
        "are you sure you want to continue connecting (yes/no/[fingerprint])?",
    ]

    /// `^debug[123]:`, case-sensitive.
    static func isDebugLine(_ line: ArraySlice<UInt8>) -> Bool {
        Bytes.hasPrefix(line, "debug1:") || Bytes.hasPrefix(line, "debug2:") || Bytes.hasPrefix(line, "debug3:")
    }

    /// `^(?:[^@]+@[^:]+: )?Permission denied`, case-insensitive: the optional
    /// group can only end at the first `:` after the first `@`.
    static func isPermissionDenied(_ line: ArraySlice<UInt8>) -> Bool {
        if Bytes.hasPrefixCI(line, "permission denied") { return true }
        guard let at = line.firstIndex(of: UInt8(ascii: "@")), at > line.startIndex else { return false }
        guard let colon = line[(at + 1)...].firstIndex(of: UInt8(ascii: ":")), colon > at + 1 else { return false }
        return Bytes.hasPrefixCI(line[colon...], ": permission denied")
    }

    /// sudo-rs: `\[sudo: PROMPT\] [^*\n]{1,50}?\Z`, i.e. some `[sudo: PROMPT] `
    /// followed by 1-50 bytes, none `*` or newline, up to the end.
    static func hasSudoRSPrompt(_ partial: ArraySlice<UInt8>, _ prompt: String) -> Bool {
        let marker = Array("[sudo: \(prompt)] ".utf8)
        var from = partial.startIndex
        while let start = Bytes.firstRange(of: marker, in: partial[from...]) {
            let rest = partial[(start + marker.count)...]
            if (1...50).contains(rest.count), !rest.contains(UInt8(ascii: "*")), !rest.contains(0x0a) { return true }
            from = start + 1
        }
        return false
    }

    /// A keyboard-interactive question that is not the password: the tail,
    /// without trailing blanks, ends in `:` or `?` and names a code, token,
    /// PIN or passphrase. (Our addition; Mitogen waits for the timeout.)
    static func looksLikeQuestion(_ partial: ArraySlice<UInt8>) -> Bool {
        var end = partial.endIndex
        while end > partial.startIndex, partial[end - 1] == 0x20 || partial[end - 1] == 0x09 { end -= 1 }
        guard end > partial.startIndex, partial[end - 1] == UInt8(ascii: ":") || partial[end - 1] == UInt8(ascii: "?")
        else { return false }
        return Bytes.containsAnyCI(
            partial[..<end], ["passphrase", "code", "token", "otp", "one-time", "pin", "response", "challenge"])
    }
}

/// One thing a dialect recognised; the engine decides what to do with it.
enum PromptEvent: Equatable {
    /// The tool asks for the password.
    case passwordPrompt
    /// ssh asks whether to accept an unknown host key.
    case hostKeyQuestion
    /// Another question (one-time code, passphrase) for the caller's callback.
    case question
    /// The password was wrong: the dialect's incorrect text.
    case incorrect
    /// A password is needed and none was given: the dialect's required text.
    case required
    /// Fail with exactly this text.
    case fail(PromptFailure.Kind, String)
    /// The tool printed a fatal message: `<tool> failed: <line>` plus the output.
    case toolFailure
}
