import CLibSSH2
import Glibc
import MitogenCore
import MitogenMaster
import MitogenSys
import Synchronization

/// One SSH connection driven by the master's broker: non-blocking TCP
/// connect, libssh2 handshake, host key check, authentication, a session
/// channel running the first stage, then the byte pump (``SSH2Pump``).
///
/// Every libssh2 call runs on the broker thread, which calls ``step()``
/// whenever the TCP socket is ready; a call that would block returns
/// `LIBSSH2_ERROR_EAGAIN` and the socket's interest follows
/// `libssh2_session_block_directions`. The one exception is a
/// keyboard-interactive login whose prompts go to the caller's callback
/// (which may wait for an operator): the session is then lent to a thread
/// of its own until the login ends (``SSH2Session/lendForPrompts()``), and
/// the broker does not touch it meanwhile.
///
/// `connect_timeout` bounds the whole start; when it expires the error
/// names the stage (TCP, handshake, authentication, channel).
final class SSH2Session: @unchecked Sendable {
    // @unchecked: all state is touched on the broker thread only, except
    // while `phase == .lent`, when the lending thread alone uses `session`.

    enum Phase: Equatable {
        /// Waiting for the TCP connect to complete.
        case tcp
        /// Key exchange (and then the host key check).
        case handshake
        /// Trying the authentication methods in order.
        case auth
        /// Waiting for the caller's answer to a passphrase question.
        case asking
        /// A thread runs keyboard-interactive with the caller's callback.
        case lent
        /// Opening the session channel and starting the command.
        case channel
        case exec
        /// The first stage runs; the pump moves bytes.
        case running
        case closed
    }

    let request: InProcessSSHRequest
    let options: SSH2Options
    /// The known_hosts entries for this host, read once on the caller's thread.
    let knownHosts: KnownHostsFile
    let broker: Broker
    private var addresses: [SocketAddress]
    private(set) var fd: Int32 = -1
    private(set) var side: BrokerSide?
    private(set) var session: OpaquePointer?
    private var channel: OpaquePointer?
    var phase = Phase.tcp
    /// Where the start is, for the timeout's message.
    var stage: String
    var auth = SSH2AuthState()
    private var pump: SSH2Pump?
    /// True while a keyboard-interactive login runs on a lent thread: what the
    /// prompt responder, on that thread, reads instead of `phase`, which the
    /// broker may change meanwhile (a connect timeout closes the session).
    let promptsLent = Atomic<Bool>(false)
    private var deadlineTimer: BrokerTimer?
    private var connectTimer: BrokerTimer?
    /// Receives the outcome of the start, once.
    let outcome = Latch<Result<InProcessSSHChannel, StreamError>>()
    private var reported = false

    init(request: InProcessSSHRequest, options: SSH2Options, addresses: [SocketAddress]) {
        self.request = request
        self.options = options
        knownHosts = KnownHostsFile(files: options.userKnownHosts + options.globalKnownHosts).narrowed(
            to: [KnownHostsFile.lookupName(host: options.host, port: options.port), options.host.lowercased()])
        self.broker = request.broker
        self.addresses = addresses
        stage = "connecting to \(options.host) port \(options.port) (TCP)"
    }

    /// Broker thread: starts the TCP connect and the deadline.
    func start() {
        // A broker that exits first frees the session (weak: a closed session is gone).
        broker.addLifecycleHandlers(exit: { [weak self] in self?.close(reason: "the broker exited") })
        let left = max(0, request.deadline - monotonicNow())
        deadlineTimer = broker.after(left) { [self] in
            guard phase != .running, phase != .closed else { return }
            fail(StreamError("Connection timed out. (after \(request.timeout) s, while \(stage))", kind: .timeout))
        }
        if let seconds = options.connectTimeout, Double(seconds) < left {
            // ssh's ConnectTimeout: the TCP connect and the handshake only.
            connectTimer = broker.after(Double(seconds)) { [self] in
                guard phase == .tcp || phase == .handshake else { return }
                fail(
                    StreamError(
                        "ssh: connect to host \(options.host) port \(options.port): Connection timed out "
                            + "(ConnectTimeout \(seconds) s, while \(stage))", kind: .timeout))
            }
        }
        connectNext()
    }

    private func connectNext() {
        guard !addresses.isEmpty else { return }
        let address = addresses.removeFirst()
        do {
            fd = try TCPConnect.start(address)
        } catch {
            if addresses.isEmpty { fail(error) } else { connectNext() }
            return
        }
        let side = BrokerSide(fd: fd, keepAlive: false)
        self.side = side
        broker.startTransmit(side) { [self] in step(socketReady: true) }
    }

    // MARK: The state machine

    /// Advances as far as the socket allows. Broker thread.
    /// - Parameter socketReady: the socket itself woke us (not a local side).
    func step(socketReady: Bool = false) {
        switch phase {
        case .tcp: stepTCP()
        case .handshake: stepHandshake()
        case .auth: stepAuth()
        case .channel, .exec: stepChannel()
        case .running: pump?.pump(socketReady: socketReady)
        case .asking, .lent, .closed: return
        }
    }

    private func stepTCP() {
        let error = TCPConnect.result(fd)
        guard error == 0 else {
            let text = "ssh: connect to host \(options.host) port \(options.port): \(Errno(rawValue: error))"
            if let side { broker.remove(side) }
            Glibc.close(fd)
            fd = -1
            if addresses.isEmpty { fail(StreamError(text)) } else { connectNext() }
            return
        }
        guard
            let s = libssh2_session_init_ex(ssh2Allocate, ssh2Free, ssh2Reallocate, Unmanaged.passUnretained(self).toOpaque())
        else {
            fail(StreamError("ssh: libssh2_session_init failed"))
            return
        }
        session = s
        SSH2Memory.dropZeroPages(UnsafeMutableRawPointer(s))
        libssh2_session_set_blocking(s, 0)
        for (method, list) in [
            (LIBSSH2_METHOD_KEX, SSH2Algorithms.kex),
            (LIBSSH2_METHOD_HOSTKEY, KnownHosts.hostKeyPreference(options: options, files: knownHosts)),
            (LIBSSH2_METHOD_CRYPT_CS, SSH2Algorithms.cipher), (LIBSSH2_METHOD_CRYPT_SC, SSH2Algorithms.cipher),
            (LIBSSH2_METHOD_MAC_CS, SSH2Algorithms.mac), (LIBSSH2_METHOD_MAC_SC, SSH2Algorithms.mac),
            (LIBSSH2_METHOD_COMP_CS, SSH2Algorithms.compression), (LIBSSH2_METHOD_COMP_SC, SSH2Algorithms.compression),
        ] {
            // Only names this libssh2 knows: 1.10 strips unknown ones with an
            // overlapping memcpy (AddressSanitizer reports it).
            let usable = Self.supported(by: s, Int32(method), list)
            if !usable.isEmpty { _ = libssh2_session_method_pref(s, Int32(method), usable) }
        }
        phase = .handshake
        stage = "the SSH handshake with \(options.host) port \(options.port)"
        stepHandshake()
    }

    private func stepHandshake() {
        guard let s = session else { return }
        let rc = libssh2_session_handshake(s, fd)
        if rc == LIBSSH2_ERROR_EAGAIN { return waitForSocket() }
        guard rc == 0 else { return fail(StreamError("ssh: handshake with \(options.host) failed: \(lastError())")) }
        do {
            try KnownHosts.check(session: s, options: options, files: knownHosts, policy: request.method.checkHostKeys)
        } catch {
            return fail(error)
        }
        phase = .auth
        stage = "authenticating as \(options.user)"
        stepAuth()
    }

    private func stepChannel() {
        guard let s = session else { return }
        if phase == .channel {
            guard let ch = libssh2_channel_open_ex(s, "session", 7, 2 * 1024 * 1024, 32768, nil, 0) else {
                if libssh2_session_last_errno(s) == LIBSSH2_ERROR_EAGAIN { return waitForSocket() }
                return fail(StreamError("ssh: cannot open a session channel: \(lastError())"))
            }
            channel = ch
            phase = .exec
        }
        guard let ch = channel else { return }
        let command = request.command
        let rc = libssh2_channel_process_startup(ch, "exec", 4, command, UInt32(command.utf8.count))
        if rc == LIBSSH2_ERROR_EAGAIN { return waitForSocket() }
        guard rc == 0 else { return fail(StreamError("ssh: the server refused to run the first stage: \(lastError())")) }
        startRunning(s, ch)
    }

    /// Auth succeeded: open the channel.
    func authenticated() {
        phase = .channel
        stage = "opening the session channel"
        stepChannel()
    }

    private func startRunning(_ s: OpaquePointer, _ ch: OpaquePointer) {
        do {
            let (pump, opened) = try SSH2Pump.make(session: self, libssh2: s, channel: ch)
            self.pump = pump
            phase = .running
            deadlineTimer?.cancel()
            connectTimer?.cancel()
            report(.success(opened))
            pump.startKeepalive()
            // libssh2 returns from the exec as soon as the server's answer is
            // in, and may hold, unparsed, the first stage's output that came
            // in the same read: no socket event will announce it.
            pump.pump(socketReady: true)
        } catch {
            fail(error)
        }
    }

    /// Sets the socket's interest to what libssh2 waits for. Broker thread.
    func waitForSocket(read: Bool = true) {
        guard let side, let s = session else { return }
        let directions = libssh2_session_block_directions(s)
        if read {
            broker.startReceive(side) { [self] in
                pump?.sawInbound()
                step(socketReady: true)
            }
        } else {
            broker.stopReceive(side)
        }
        if directions & LIBSSH2_SESSION_BLOCK_OUTBOUND != 0 {
            broker.startTransmit(side) { [self] in step(socketReady: true) }
        } else {
            broker.stopTransmit(side)
        }
    }

    /// Stops watching the socket (while the session is lent or waiting for an answer).
    func pauseSocket() {
        guard let side else { return }
        broker.stopReceive(side)
        broker.stopTransmit(side)
    }

    /// The names of comma-separated `list` that libssh2 supports for `method`, in order.
    static func supported(by s: OpaquePointer, _ method: Int32, _ list: String) -> String {
        var algorithms: UnsafeMutablePointer<UnsafePointer<CChar>?>?
        let count = libssh2_session_supported_algs(s, method, &algorithms)
        guard count > 0, let algorithms else { return list }  // cannot tell: leave it to libssh2
        defer { libssh2_free(s, algorithms) }
        let known = Set((0..<Int(count)).compactMap { algorithms[$0].map { String(cString: $0) } })
        return list.split(separator: ",").filter { known.contains(String($0)) }.joined(separator: ",")
    }

    /// libssh2's last error message.
    func lastError() -> String {
        guard let s = session else { return "no session" }
        var text: UnsafeMutablePointer<CChar>?
        var length: Int32 = 0
        let code = libssh2_session_last_error(s, &text, &length, 0)
        return text.map { String(cString: $0) + " (\(code))" } ?? "error \(code)"
    }

    // MARK: Ending

    private func report(_ result: Result<InProcessSSHChannel, StreamError>) {
        guard !reported else { return }
        reported = true
        try? outcome.put(result)
    }

    /// Fails the start (if it is still going) and closes everything. Broker thread.
    func fail(_ error: StreamError) {
        report(.failure(error))
        close(reason: error.message)
    }

    /// Closes the session: a best-effort disconnect message, then the
    /// socket is shut down so that freeing cannot block, then everything is
    /// freed. Broker thread (or the lending thread's hand-back).
    func close(reason: String) {
        guard phase != .closed else { return }
        let wasLent = phase == .lent
        phase = .closed
        deadlineTimer?.cancel()
        connectTimer?.cancel()
        pump?.stop()
        pump = nil
        if let side { broker.remove(side) }
        side = nil
        // A lent session is freed by the lending thread's hand-back.
        guard !wasLent else { return }
        release()
    }

    /// Frees libssh2's objects and the socket.
    func release() {
        if let s = session {
            _ = libssh2_session_disconnect_ex(s, SSH_DISCONNECT_BY_APPLICATION, "closed", "")
            if fd >= 0 { shutdown(fd, Int32(SHUT_RDWR)) }
            libssh2_session_set_blocking(s, 1)
            if let ch = channel { libssh2_channel_free(ch) }
            libssh2_session_free(s)
        }
        channel = nil
        session = nil
        if fd >= 0 { Glibc.close(fd) }
        fd = -1
    }
}
