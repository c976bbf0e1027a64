import CLibSSH2
import Glibc
import MitogenCore
import MitogenMaster
import MitogenSys
import MitogenWire
import Synchronization

/// One way of logging in, tried in order.
enum SSH2AuthAttempt: Equatable {
    /// A private key file; `explicit` when it is `identity_file` (its
    /// passphrase is asked for), false for ssh's default files.
    case keyFile(String, explicit: Bool)
    /// Every identity of the ssh-agent at this socket.
    case agent(String)
    case password
    /// Keyboard-interactive, answered with the password on the broker thread.
    case keyboardInteractive
    /// Keyboard-interactive whose prompts go to the caller's callback, on a thread.
    case keyboardInteractivePrompted
}

/// Where authentication stands (broker thread).
struct SSH2AuthState {
    var attempts: [SSH2AuthAttempt]?
    var index = 0
    /// The methods the server offered.
    var offered: [String] = []
    /// The passphrase of the current key file, once asked.
    var passphrase: Secret?
    var askedPassphrase = false
    var agent: OpaquePointer?
    var agentIdentity: UnsafeMutablePointer<libssh2_agent_publickey>?
    /// The server rejected our password.
    var passwordRejected = false
    /// A keyboard-interactive prompt nobody could answer.
    var unanswered: String?
    /// Password prompts answered in the current keyboard-interactive round.
    var passwordAnswers = 0
}

/// The order of attempts, like OpenSSH's: keys (the identity files, else
/// the agent and the default files), then the password (the `password`
/// method, else keyboard-interactive answered with it), then
/// keyboard-interactive through the prompt callback. `IdentitiesOnly yes`
/// (which `identities_only` sets with an identity file or a password, as on
/// the OpenSSH path) leaves the agent out.
func authPlan(method: SSHMethod, options: SSH2Options, offered: [String], canAsk: Bool) -> [SSH2AuthAttempt] {
    var plan: [SSH2AuthAttempt] = []
    let hasPassword = method.password != nil
    if offered.contains("publickey") {
        plan += options.identityFiles.map { .keyFile($0, explicit: true) }
        if let agent = options.agentSocket, !options.identitiesOnly { plan.append(.agent(agent)) }
        if options.identityFiles.isEmpty {
            plan += options.defaultKeys.filter { access($0, R_OK) == 0 }.map { .keyFile($0, explicit: false) }
        }
    }
    if hasPassword {
        if offered.contains("password") {
            plan.append(.password)
        } else if offered.contains("keyboard-interactive") {
            plan.append(canAsk ? .keyboardInteractivePrompted : .keyboardInteractive)
        }
    } else if canAsk, offered.contains("keyboard-interactive") {
        plan.append(.keyboardInteractivePrompted)
    }
    return plan
}

extension SSH2Session {
    /// The outcome of one try of the current attempt.
    private enum Try { case success, again, failed, suspended }

    func stepAuth() {
        guard let s = session else { return }
        let user = options.user
        if auth.attempts == nil {
            guard let list = libssh2_userauth_list(s, user, UInt32(user.utf8.count)) else {
                if libssh2_userauth_authenticated(s) != 0 { return authenticated() }
                if libssh2_session_last_errno(s) == LIBSSH2_ERROR_EAGAIN { return waitForSocket() }
                return fail(StreamError("ssh: cannot list the authentication methods: \(lastError())"))
            }
            auth.offered = String(cString: list).split(separator: ",").map(String.init)
            auth.attempts = authPlan(
                method: request.method, options: options, offered: auth.offered, canAsk: request.promptCallback != nil)
        }
        let attempts = auth.attempts ?? []
        while auth.index < attempts.count {
            switch tryAttempt(attempts[auth.index], s) {
            case .success: return authenticated()
            case .again: return waitForSocket()
            case .suspended: return
            case .failed: nextAttempt()
            }
        }
        fail(authFailure())
    }

    private func nextAttempt() {
        auth.index += 1
        auth.passphrase = nil
        auth.askedPassphrase = false
        auth.passwordAnswers = 0
        if let agent = auth.agent {
            libssh2_agent_disconnect(agent)
            libssh2_agent_free(agent)
        }
        auth.agent = nil
        auth.agentIdentity = nil
    }

    /// Mitogen's texts, like the OpenSSH path: a rejected password, a
    /// password needed and not given, or keys that were not accepted.
    private func authFailure() -> StreamError {
        if auth.passwordRejected { return StreamError(PromptDialect.sshPasswordIncorrect, kind: .password) }
        if let prompt = auth.unanswered, !prompt.lowercased().contains("password") {
            return StreamError(
                "SSH keyboard-interactive asked \"\(prompt)\", and no prompt callback answered it", kind: .password)
        }
        if request.method.password == nil,
            auth.unanswered != nil || auth.offered.contains("password") || auth.offered.contains("keyboard-interactive")
        {
            return StreamError(PromptDialect.sshPasswordRequired, kind: .password)
        }
        return StreamError(PromptDialect.sshAuthIncorrect, kind: .password)
    }

    private func tryAttempt(_ attempt: SSH2AuthAttempt, _ s: OpaquePointer) -> Try {
        let user = options.user
        let ulen = UInt32(user.utf8.count)
        switch attempt {
        case .keyFile(let path, let explicit):
            let rc = libssh2_userauth_publickey_fromfile_ex(s, user, ulen, nil, path, auth.passphrase?.value)
            if rc == 0 { return .success }
            if rc == LIBSSH2_ERROR_EAGAIN { return .again }
            // An encrypted key without (or with a wrong) passphrase reads as a file error.
            if rc == LIBSSH2_ERROR_FILE, !auth.askedPassphrase, explicit || request.promptCallback != nil,
                let ask = request.promptCallback
            {
                askPassphrase("Enter passphrase for key '\(path)': ", ask)
                return .suspended
            }
            return .failed
        case .agent(let socket):
            return tryAgent(socket, s)
        case .password:
            guard let password = request.method.password?.value else { return .failed }
            let rc = libssh2_userauth_password_ex(s, user, ulen, password, UInt32(password.utf8.count), nil)
            if rc == 0 { return .success }
            if rc == LIBSSH2_ERROR_EAGAIN { return .again }
            if rc == LIBSSH2_ERROR_AUTHENTICATION_FAILED || rc == LIBSSH2_ERROR_PASSWORD_EXPIRED {
                auth.passwordRejected = true
            }
            return .failed
        case .keyboardInteractive:
            let rc = libssh2_userauth_keyboard_interactive_ex(s, user, ulen, kbdintResponder)
            if rc == 0 { return .success }
            if rc == LIBSSH2_ERROR_EAGAIN { return .again }
            if auth.passwordAnswers > 0 { auth.passwordRejected = true }
            return .failed
        case .keyboardInteractivePrompted:
            lendForPrompts()
            return .suspended
        }
    }

    private func tryAgent(_ socket: String, _ s: OpaquePointer) -> Try {
        if auth.agent == nil {
            guard let agent = libssh2_agent_init(s) else { return .failed }
            auth.agent = agent
            libssh2_agent_set_identity_path(agent, socket)
            // A local Unix socket: connecting and listing do not wait on the network.
            guard libssh2_agent_connect(agent) == 0, libssh2_agent_list_identities(agent) == 0 else { return .failed }
            var first: UnsafeMutablePointer<libssh2_agent_publickey>?
            guard libssh2_agent_get_identity(agent, &first, nil) == 0 else { return .failed }
            auth.agentIdentity = first
        }
        guard let agent = auth.agent else { return .failed }
        while let identity = auth.agentIdentity {
            let rc = libssh2_agent_userauth(agent, options.user, identity)
            if rc == 0 { return .success }
            if rc == LIBSSH2_ERROR_EAGAIN { return .again }
            var next: UnsafeMutablePointer<libssh2_agent_publickey>?
            auth.agentIdentity = libssh2_agent_get_identity(agent, &next, identity) == 0 ? next : nil
        }
        return .failed
    }

    /// Asks the caller for a key's passphrase on a thread of its own (it may
    /// wait for an operator); the answer comes back on the broker thread.
    private func askPassphrase(_ prompt: String, _ ask: @escaping @Sendable (String) -> String?) {
        phase = .asking
        stage = "waiting for an answer to \"\(prompt)\""
        auth.askedPassphrase = true
        pauseSocket()
        startThread(name: "mitogen.ssh2-ask") { [self] in
            let answer = ask(prompt).map(Secret.init)
            broker.defer { [self] in
                guard phase == .asking else { return }
                phase = .auth
                stage = "authenticating as \(options.user)"
                auth.passphrase = answer
                if answer == nil { nextAttempt() }
                stepAuth()
            }
        }
    }

    /// Runs keyboard-interactive on a thread of its own, polling the socket
    /// itself, so that the callback may block; hands the session back to the
    /// broker when the login ends. The broker does not watch the socket meanwhile.
    private func lendForPrompts() {
        guard let s = session else { return }
        // The session pointer crosses to the lending thread, which alone uses it until the hand-back.
        let lent = LentSession(pointer: s)
        phase = .lent
        promptsLent.store(true, ordering: .releasing)
        stage = "keyboard-interactive authentication as \(options.user)"
        pauseSocket()
        let fd = self.fd
        let user = options.user
        let deadline = request.deadline
        startThread(name: "mitogen.ssh2-kbdint") { [self] in
            let s = lent.pointer
            var rc: Int32
            repeat {
                rc = libssh2_userauth_keyboard_interactive_ex(s, user, UInt32(user.utf8.count), kbdintResponder)
                guard rc == LIBSSH2_ERROR_EAGAIN else { break }
                let left = deadline - monotonicNow()
                if left <= 0 { break }
                var poller = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
                if libssh2_session_block_directions(s) & LIBSSH2_SESSION_BLOCK_OUTBOUND != 0 { poller.events |= Int16(POLLOUT) }
                _ = poll(&poller, 1, Int32(min(left * 1000, 1000)))
            } while true
            let result = rc
            broker.defer { [self] in lentAuthEnded(result) }
        }
    }

    private func lentAuthEnded(_ rc: Int32) {
        promptsLent.store(false, ordering: .releasing)
        guard phase == .lent else {
            // Failed (timed out) while lent: the session is ours to free now.
            release()
            return
        }
        phase = .auth
        stage = "authenticating as \(options.user)"
        if rc == 0 { return authenticated() }
        if auth.passwordAnswers > 0, request.method.password != nil { auth.passwordRejected = true }
        nextAttempt()
        stepAuth()
    }

    /// The answer to one keyboard-interactive prompt: the password for a
    /// password prompt (once per round), else the caller's callback when
    /// this round runs on a lent thread, else nothing (recorded for the error).
    fileprivate func answer(prompt: String) -> String? {
        if prompt.lowercased().contains("password"), let password = request.method.password?.value {
            auth.passwordAnswers += 1
            if auth.passwordAnswers == 1 { return password }
            auth.passwordRejected = true
            return nil
        }
        if promptsLent.load(ordering: .acquiring), let ask = request.promptCallback {
            if let reply = ask(prompt) { return reply }
        }
        auth.unanswered = prompt
        return nil
    }
}

/// libssh2's keyboard-interactive callback: the session is in the abstract
/// pointer given to `libssh2_session_init_ex`. Responses are malloc'd; libssh2 frees them.
private let kbdintResponder:
    @convention(c) (
        UnsafePointer<CChar>?, Int32, UnsafePointer<CChar>?, Int32, Int32,
        UnsafePointer<LIBSSH2_USERAUTH_KBDINT_PROMPT>?, UnsafeMutablePointer<LIBSSH2_USERAUTH_KBDINT_RESPONSE>?,
        UnsafeMutablePointer<UnsafeMutableRawPointer?>?
    ) -> Void = { _, _, _, _, count, prompts, responses, abstract in
        guard let raw = abstract?.pointee, let prompts, let responses, count > 0 else { return }
        let session = Unmanaged<SSH2Session>.fromOpaque(raw).takeUnretainedValue()
        for i in 0..<Int(count) {
            let p = prompts[i]
            // Bounded, lossy: the server's text is hostile input.
            let length = min(Int(p.length), 4096)
            let text = p.text.map { ptr in
                String(decoding: UnsafeRawBufferPointer(start: ptr, count: length), as: UTF8.self)
            } ?? ""
            let reply = session.answer(prompt: text) ?? ""
            responses[i].text = strdup(reply)
            responses[i].length = UInt32(reply.utf8.count)
        }
    }

/// A libssh2 session handed to one other thread for a while.
private struct LentSession: @unchecked Sendable {
    // @unchecked: the broker stops using the session while it is lent (phase `.lent`).
    let pointer: OpaquePointer
}
