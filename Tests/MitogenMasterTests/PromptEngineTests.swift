import Testing

import MitogenCore
import MitogenWire
@testable import MitogenMaster

private func b(_ text: String) -> [UInt8] { Array(text.utf8) }

/// Feeds `steps` (what the tool writes between our answers) in the given
/// chunking and returns the actions, consecutive passthroughs merged.
private func run(_ engine: inout PromptEngine, _ chunks: [[[UInt8]]]) -> [PromptAction] {
    var actions: [PromptAction] = []
    for step in chunks {
        for chunk in step {
            for action in engine.feed(chunk) {
                if case .finished(let more) = action, case .finished(let have)? = actions.last {
                    actions[actions.count - 1] = .finished(passthrough: have + more)
                } else {
                    actions.append(action)
                }
            }
        }
    }
    return actions
}

/// Checks `expected` for every way of splitting each step in two, and for
/// byte-at-a-time feeding.
private func expectEverySplit(
    _ steps: [String], _ make: () -> PromptEngine, _ expected: [PromptAction],
    sourceLocation: SourceLocation = #_sourceLocation
) {
    let bytes = steps.map(b)
    for (s, step) in bytes.enumerated() {
        for i in 0...step.count {
            var engine = make()
            var chunks = bytes.map { [$0] }
            chunks[s] = [Array(step[..<i]), Array(step[i...])]
            let got = run(&engine, chunks)
            #expect(got == expected, "step \(s) split at \(i)", sourceLocation: sourceLocation)
        }
    }
    var engine = make()
    #expect(run(&engine, bytes.map { $0.map { [$0] } }) == expected, "byte at a time", sourceLocation: sourceLocation)
}

private func sshEngine(_ password: String? = nil, accept: Bool = false, canAsk: Bool = false) -> () -> PromptEngine {
    { PromptEngine(dialect: .ssh(acceptHostKeys: accept), password: password.map(Secret.init), markersInBand: false, canAsk: canAsk) }
}
private func sudoEngine(_ password: String? = nil, prompt: String = "mitogen-sudo-prompt:") -> () -> PromptEngine {
    { PromptEngine(dialect: .sudo(prompt: prompt), password: password.map(Secret.init), markersInBand: false) }
}
private func suEngine(_ password: String? = nil, method: SuMethod = SuMethod()) -> () -> PromptEngine {
    { var m = method; m.password = password.map(Secret.init); return m.makePromptEngine() }
}
private func doasEngine(_ password: String? = nil) -> () -> PromptEngine {
    { var m = DoasMethod(); m.password = password.map(Secret.init); return m.makePromptEngine() }
}

private let pw: PromptAction = .send(b("hunter2\n"))
private func password(_ message: String) -> PromptAction { .fail(PromptFailure(.password, message)) }

@Suite struct SSHPromptTests {
    @Test func passwordThenWrong() {
        expectEverySplit(["deploy@web1's password: "], sshEngine("hunter2"), [pw])
        expectEverySplit(
            ["deploy@web1's password: ", "\r\nPermission denied, please try again.\r\n"], sshEngine("hunter2"),
            [pw, password("SSH password is incorrect")])
        // A second prompt fails at once: the secret is typed once.
        expectEverySplit(["Password: ", "\r\nPassword: "], sshEngine("hunter2"), [pw, password("SSH password is incorrect")])
        expectEverySplit(["(deploy@web1) Password: "], sshEngine(nil), [password("SSH password was requested, but none specified")])
    }

    @Test func permissionDenied() {
        expectEverySplit(
            ["Permission denied (publickey,password).\r\n"], sshEngine(nil),
            [password("SSH password was requested, but none specified")])
        expectEverySplit(
            ["deploy@web1: Permission denied (publickey,password).\r\n"], sshEngine("hunter2"),
            [password("SSH authentication is incorrect")])
        expectEverySplit(["deploy@web1: Permission denied (publickey).\r\n"], sshEngine(nil), [password("SSH authentication is incorrect")])
        // Not at the start of a line: a remote shell's complaint, not ssh's.
        expectEverySplit(["bash: /root: Permission denied\r\n"], sshEngine(nil), [])
    }

    @Test func hostKeys() {
        let failed = PromptAction.fail(PromptFailure(.hostKey, PromptDialect.sshHostKeyFailed))
        expectEverySplit(
            ["@@@ WARNING: REMOTE HOST IDENTIFICATION HAS CHANGED! @@@\r\nHost key verification failed.\r\n"], sshEngine(nil),
            [failed])
        let question =
            "The authenticity of host 'h (10.0.0.1)' can't be established.\r\nED25519 key fingerprint is SHA256:abc.\r\n"
            + "This key is not known by any other names.\r\nAre you sure you want to continue connecting (yes/no/[fingerprint])? "
        expectEverySplit([question], sshEngine(nil, accept: true), [.send(b("yes\n"))])
        expectEverySplit(["Are you sure you want to continue connecting (yes/no)? "], sshEngine(nil, accept: true), [.send(b("yes\n"))])
        expectEverySplit(
            [question], sshEngine(nil), [.fail(PromptFailure(.hostKey, PromptDialect.sshHostKeyConfig))])
        expectEverySplit(
            [question, "\r\nWarning: Permanently added 'h' (ED25519) to the list of known hosts.\r\n", "Password: "],
            sshEngine("hunter2", accept: true), [.send(b("yes\n")), pw])
    }

    @Test func debugLinesAreNotPrompts() {
        expectEverySplit(
            ["debug1: Authentications that can continue: publickey,password\r\n", "debug1: Next authentication method: password"],
            sshEngine("hunter2"), [])
    }

    @Test func questionsGoToTheCallback() {
        expectEverySplit(["Verification code: "], sshEngine("hunter2", canAsk: true), [.ask(prompt: "Verification code:")])
        expectEverySplit(
            ["Enter passphrase for key '/home/u/.ssh/id_ed25519': "], sshEngine(nil),
            [password("SSH asked \"Enter passphrase for key '/home/u/.ssh/id_ed25519':\", which only a prompt callback can answer")])
        var engine = sshEngine("hunter2", canAsk: true)()
        #expect(engine.feed(b("Password: ")) == [pw])
        #expect(engine.feed(b("\r\nVerification code: ")) == [.ask(prompt: "Verification code:")])
        #expect(engine.state == .awaitingAnswer)
        #expect(engine.answer(Secret("123456")) == [.send(b("123456\n"))])
        #expect(engine.answer(Secret("again")) == [])
        #expect(engine.feed(b("\r\nVerification code: ")) == [.ask(prompt: "Verification code:")])
        #expect(engine.answer(nil) == [password("SSH asked a question and the prompt callback gave no answer")])
    }

    @Test func fatalSSHMessages() {
        let line = "ssh: connect to host web1 port 22: Connection refused"
        expectEverySplit(
            [line + "\r\n"], sshEngine(nil),
            [.fail(PromptFailure(.stream, "SSH failed: \(line); last output received:\n\(line)\n"))])
    }

    @Test func markersOnStdoutAreTheCallersBusiness() {
        var engine = sshEngine("hunter2")()
        // ssh -v shows the remote command, which contains the marker text.
        #expect(engine.feed(b("debug1: Sending command: /bin/sh -c 'say() { printf MITOGEN0 $*; }'\r\n")) == [])
        #expect(!engine.isFinished)
        engine.stageReached()
        #expect(engine.isFinished)
        #expect(engine.feed(b("Password: ")) == [.finished(passthrough: b("Password: "))])
    }
}

@Suite struct SudoSuDoasPromptTests {
    @Test func sudo() {
        let lecture = "\r\nWe trust you have received the usual lecture from the local System\r\nAdministrator.\r\n\r\n"
        expectEverySplit([lecture + "mitogen-sudo-prompt:"], sudoEngine("hunter2"), [pw])
        expectEverySplit(
            ["mitogen-sudo-prompt:", "\r\nSorry, try again.\r\n"], sudoEngine("hunter2"), [pw, password("sudo password is incorrect")])
        expectEverySplit(
            ["mitogen-sudo-prompt:", "\r\nmitogen-sudo-prompt:"], sudoEngine("hunter2"), [pw, password("sudo password is incorrect")])
        expectEverySplit(["mitogen-sudo-prompt:"], sudoEngine(nil), [password("sudo password is required")])
        expectEverySplit(["sudo: 3 incorrect password attempts\r\n"], sudoEngine("hunter2"), [password("sudo password is incorrect")])
        expectEverySplit(
            ["[sudo: mitogen-sudo-prompt:] Password: ", "\r\nsudo-rs: Authentication failed, try again.\r\n"], sudoEngine("hunter2"),
            [pw, password("sudo password is incorrect")])
        expectEverySplit(["sudo: a password is required\r\n"], sudoEngine(nil), [password("sudo password is required")])
        // sudo-rs decorates the prompt; its password feedback stars end the match.
        expectEverySplit(["[sudo: mitogen-sudo-prompt:] Password: "], sudoEngine("hunter2"), [pw])
        expectEverySplit(["[sudo: mitogen-sudo-prompt-N0nce:] Password for deploy: "], sudoEngine("hunter2", prompt: "mitogen-sudo-prompt-N0nce:"), [pw])
        var engine = sudoEngine("hunter2")()
        #expect(engine.feed(b("[sudo: mitogen-sudo-prompt:] Password: ***")) == [])
        // With a nonce, Mitogen's fixed prompt printed by anyone else is not answered.
        expectEverySplit(["mitogen-sudo-prompt:"], sudoEngine("hunter2", prompt: "mitogen-sudo-prompt-N0nce:"), [])
        engine = sudoEngine("hunter2")()
        #expect(engine.feed(b("mitogen-sudo-prompt: not at the end")) == [])
    }

    @Test(arguments: [
        "deploy is not in the sudoers file.  This incident will be reported.",
        "sudo: a terminal is required to read the password; either use the -S option to read from standard input or configure an askpass helper",
        "sorry, you must have a tty to run sudo",
        "sudo: account validation failure, is your account locked?",
        "sudo: Account or password is expired, reset your password and try again",
        "Sorry, user deploy is not allowed to execute '/bin/sh -c x' as root on web1.",
        "sudo: unknown user nobody2",
        "Sorry, user deploy may not run sudo on web1.",
        "sudo-rs: I'm sorry deploy. I'm afraid I can't do that",
    ])
    func sudoFailures(_ line: String) {
        expectEverySplit(
            [line + "\r\n"], sudoEngine("hunter2"),
            [.fail(PromptFailure(.stream, "sudo failed: \(line); last output received:\n\(line)\n"))])
    }

    @Test func su() {
        let miss = "MITOGEN0 MISS Linux x86_64 xz,gzip,raw\n"
        expectEverySplit(["Password: ", "\r\n" + miss], suEngine("hunter2"), [pw, .finished(passthrough: b(miss))])
        // PAM may not end the prompt line: the stage starts on it.
        expectEverySplit(["Password: ", miss + "more"], suEngine("hunter2"), [pw, .finished(passthrough: b(miss + "more"))])
        expectEverySplit(["Password: ", "\r\nsu: Authentication failure\r\n"], suEngine("hunter2"), [pw, password("su password is incorrect")])
        expectEverySplit(["Password: ", "\r\nPassword: "], suEngine("hunter2"), [pw, password("su password is incorrect")])
        expectEverySplit(["Password: "], suEngine(nil), [password("su password is required")])
        expectEverySplit(["Passwort: ", "\r\nsu: Fehler bei Authentifizierung\r\n"], suEngine("hunter2"), [pw, password("su password is incorrect")])
        expectEverySplit(["Mot de passe : "], suEngine("hunter2"), [pw])
        expectEverySplit(["密码："], suEngine("hunter2"), [pw])
        expectEverySplit(["su: Sorry\r\n"], suEngine("hunter2"), [password("su password is incorrect")])
        // An explicit password_prompt replaces the defaults.
        expectEverySplit(["Passwort: "], suEngine("hunter2", method: SuMethod(passwordPrompt: "Kennwort:")), [])
        expectEverySplit(["KENNWORT: "], suEngine("hunter2", method: SuMethod(passwordPrompt: "Kennwort:")), [pw])
        // Cache hit: the child is ready at once; what follows is frames.
        expectEverySplit(["MITO002\n\u{4d}\u{4a}\u{0}"], suEngine(nil), [.finished(passthrough: b("MITO002\nMJ\u{0}"))])
        let line = "su: user nobody2 does not exist or the user entry does not contain all the required fields"
        expectEverySplit(
            [line + "\r\n"], suEngine("hunter2"),
            [.fail(PromptFailure(.stream, "su failed: \(line); last output received:\n\(line)\n"))])
    }

    @Test func doas() {
        expectEverySplit(
            ["doas (deploy@web1) password: ", "\r\ndoas: Authentication failed\r\n"], doasEngine("hunter2"),
            [pw, password("doas password is incorrect")])
        expectEverySplit(["Password:", "\r\nPassword:"], doasEngine("hunter2"), [pw, password("doas password is incorrect")])
        expectEverySplit(["doas: authentication failed\r\n"], doasEngine("hunter2"), [])
        expectEverySplit(["Password:"], doasEngine(nil), [password("doas password is required")])
        expectEverySplit(
            ["doas: Operation not permitted\r\n"], doasEngine(nil),
            [.fail(PromptFailure(.stream, "doas failed: doas: Operation not permitted; last output received:\ndoas: Operation not permitted\n"))])
    }

    @Test func containersOnlyWatchForTheStage() throws {
        let make = { (try? DockerMethod(container: "c"))?.makePromptEngine() ?? PromptEngine(dialect: .none, password: nil, markersInBand: true) }
        let noise = "Unable to use a TTY - input is not a terminal or the right kind of file\nPassword: \n"
        expectEverySplit([noise + "MITOGEN0 MISS Linux aarch64 raw\n"], make, [.finished(passthrough: b("MITOGEN0 MISS Linux aarch64 raw\n"))])
        var engine = make()
        _ = engine.feed(b("Error: No such container: c\n"))
        #expect(engine.recentOutput == "Error: No such container: c\n")
    }
}

@Suite struct SecretTests {
    @Test func echoedSecretsAreMasked() {
        var engine = suEngine("hunter2")()
        #expect(engine.feed(b("Password: ")) == [pw])
        let line = "su: user hunter2 does not exist"
        let actions = engine.feed(b("hunter2\r\n\u{1b}[31m" + line + "\u{1b}[0m\r\n"))
        guard case .fail(let failure)? = actions.first else {
            Issue.record("no failure: \(actions)")
            return
        }
        #expect(!failure.message.contains("hunter2"))
        #expect(failure.message == "su failed: su: user [secret] does not exist; last output received:\nPassword: [secret]\nsu: user [secret] does not exist\n")
        #expect(!engine.recentOutput.contains("hunter2"))
    }

    @Test func answersAreMaskedToo() {
        var engine = sshEngine(nil, canAsk: true)()
        _ = engine.feed(b("Verification code: "))
        _ = engine.answer(Secret("987654"))
        _ = engine.feed(b("987654\r\n"))
        #expect(engine.recentOutput == "Verification code: [secret]\n")
    }

    @Test func secretsCutByTheWindowAreMasked() {
        let secret = [b("hunter2")]
        #expect(OutputTail.render(b("nter2 and more")[...], masking: secret, limit: 300) == "[secret] and more")
        #expect(OutputTail.render(b("typed: hunt")[...], masking: secret, limit: 300) == "typed: [secret]")
        // A secret straddling the shown window is masked from the kept bytes.
        var tail = OutputTail()
        tail.append(b("hunter2") + [UInt8](repeating: UInt8(ascii: "x"), count: 296))
        #expect(tail.render(masking: secret) == "[secret]" + String(repeating: "x", count: 296))
    }

    @Test func sanitising() {
        #expect(OutputTail.sanitize(b("a\u{1b}[1;31mred\u{1b}[0m\u{1b}]0;title\u{7}b\r\n\tc\u{7}\u{202e}d")[...]) == "aredb\n c\\u{7}\\u{202E}d")
        #expect(OutputTail.render([0x80, 0x80, 0x41][...], masking: [], limit: 300) == "A")
        var tail = OutputTail()
        tail.append([UInt8](repeating: UInt8(ascii: "y"), count: 2000))
        #expect(tail.render(masking: []).count == OutputTail.shownBytes)
    }

    /// No method puts its password in argv, hop options, description, prompt
    /// actions' descriptions or failure texts.
    @Test func passwordsNeverLeak() throws {
        let secret = "S3cr3t-pw"
        let methods: [any SpawnedMethod] = [
            SSHMethod(hostname: "h", password: Secret(secret)),
            SSHMethod(hostname: "h", checkHostKeys: .accept, password: Secret(secret)),
            try SudoMethod(password: Secret(secret)),
            try SudoMethod(password: Secret(secret), login: true),
            SuMethod(password: Secret(secret)),
            DoasMethod(password: Secret(secret)),
        ]
        for method in methods {
            let argv = try method.command(stageArgv: stageArgv, stageCommand: stageCommand)
            #expect(!argv.joined(separator: " ").contains(secret))
            #expect(!method.hopOptions.contains { $0.value.contains(secret) })
            #expect(!method.description.contains(secret))
            #expect(!String(describing: method).contains(secret))
            #expect(!String(reflecting: method.password as Any).contains(secret))
            var dumped = ""
            dump(method, to: &dumped)
            #expect(!dumped.contains(secret))
            var engine = method.makePromptEngine()
            let prompt: String
            switch method.promptDialect {
            case .sudo(let p): prompt = p
            default: prompt = "Password: "
            }
            var actions = engine.feed(b(prompt))
            #expect(actions == [.send(b(secret + "\n"))], "\(method)")
            #expect(!actions.map(\.description).joined().contains(secret))
            actions = engine.feed(b(secret + "\r\n" + prompt))
            for action in actions {
                #expect(!action.description.contains(secret))
                if case .fail(let failure) = action {
                    #expect(failure.kind == .password)
                    #expect(!failure.message.contains(secret))
                }
            }
            #expect(!engine.recentOutput.contains(secret))
        }
    }

    @Test func failureKindsMapToStreamErrors() {
        #expect(PromptFailure(.password, "x").streamError == StreamError("x", kind: .password))
        #expect(PromptFailure(.hostKey, "x").streamError == StreamError("x", kind: .hostKey))
        #expect(PromptFailure(.stream, "x").streamError == StreamError("x", kind: .stream))
    }
}
