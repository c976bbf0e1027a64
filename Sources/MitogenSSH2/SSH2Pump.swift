import CLibSSH2
import Glibc
import MitogenCore
import MitogenMaster
import MitogenSys

/// Moves bytes between the libssh2 channel and two local socket pairs whose
/// other ends the master's `Stream` and stderr reader use, as they would a
/// spawned tool's. Broker thread only.
///
/// Why socket pairs: the Core `Stream` reads and writes descriptors, so the
/// transport stays out of the core (DESIGN §6) at the cost of one more copy
/// through the kernel per chunk and four descriptors per host. Reads go
/// through a scratch buffer on the stack; bytes are kept only while the
/// other side is full (backpressure), so an idle host costs no buffer.
///
/// Ends: the channel's EOF closes the local ends (the stream sees EOF); the
/// stream closing its end closes the session. A keepalive goes out every
/// `keepalive_interval` seconds (at least 2, libssh2's floor) with
/// want-reply; after `keepalive_count` intervals with nothing received the
/// peer is dead and the session closes, which the stream reports like any
/// dead stream.
final class SSH2Pump: @unchecked Sendable {
    // @unchecked: broker thread only (asserted by the session's design).
    /// Strong: the session holds the pump until it closes, which drops it.
    private let owner: SSH2Session
    private let session: OpaquePointer
    private let channel: OpaquePointer
    private let local: FileDescriptor
    private let localSide: BrokerSide
    private let errors: FileDescriptor
    private let errorSide: BrokerSide
    /// Bytes read from one side that the other has not taken yet.
    private var toLocal: [UInt8] = []
    private var toErrors: [UInt8] = []
    private var toChannel: [UInt8] = []
    private var channelEOF = false
    private var localEOF = false
    private var errorsClosed = false
    private var stopped = false
    private var closedLocal = false
    /// Keepalive intervals since anything arrived on the socket.
    private var silentIntervals = 0
    private var keepaliveTimer: BrokerTimer?

    static let chunk = 32 << 10

    /// Makes the socket pairs and returns the master's ends.
    static func make(session owner: SSH2Session, libssh2 s: OpaquePointer, channel: OpaquePointer) throws(StreamError)
        -> (SSH2Pump, InProcessSSHChannel)
    {
        do {
            let (mine, theirs) = try FileDescriptor.socketPair()
            let errPair: (FileDescriptor, FileDescriptor)
            do { errPair = try FileDescriptor.socketPair() } catch {
                mine.close()
                theirs.close()
                throw error
            }
            for fd in [mine, errPair.0] { try fd.setNonBlocking(true) }
            let pump = SSH2Pump(owner: owner, session: s, channel: channel, local: mine, errors: errPair.0)
            return (pump, InProcessSSHChannel(channel: theirs, diagnostics: errPair.1))
        } catch {
            throw StreamError("ssh: cannot make the channel's socket pair: \(error)")
        }
    }

    private init(owner: SSH2Session, session: OpaquePointer, channel: OpaquePointer, local: FileDescriptor, errors: FileDescriptor) {
        self.owner = owner
        self.session = session
        self.channel = channel
        self.local = local
        self.localSide = BrokerSide(fd: local.rawValue, keepAlive: false)
        self.errors = errors
        self.errorSide = BrokerSide(fd: errors.rawValue, keepAlive: false)
    }

    /// Moves everything that can move now, then sets each descriptor's interest.
    ///
    /// Every libssh2 channel read or write starts by reading the socket (a
    /// `recv`, usually `EAGAIN`). So the channel is read only when libssh2
    /// may have input (`socketReady`: the socket woke us, or the command just
    /// started, or a keepalive went out) or already holds parsed data for it
    /// (asked without a syscall); the local side is read again only after a
    /// full chunk (level-triggered epoll wakes us for the rest). A call's
    /// round trip costs five syscalls here instead of fourteen.
    func pump(socketReady: Bool = false) {
        guard !stopped else { return }
        // Bytes in the socket that only a channel read takes in; with both
        // local sides full they wait (wantsSocketInput).
        var socketPending = socketReady
        var localMayHaveMore = !socketReady
        var idleRounds = 0
        while !stopped {
            var moved = false
            if toLocal.isEmpty && !channelEOF && (socketPending || queued(0)) {
                socketPending = false
                moved = readChannel(stream: 0) > 0 || moved
            }
            if toErrors.isEmpty && (socketPending || queued(1)) {
                socketPending = false
                moved = readChannel(stream: Int32(SSH_EXTENDED_DATA_STDERR)) > 0 || moved
            }
            if !toLocal.isEmpty { moved = flush(&toLocal, to: local, isErrors: false) || moved }
            if !toErrors.isEmpty { moved = flush(&toErrors, to: errors, isErrors: true) || moved }
            if toChannel.isEmpty && !localEOF && localMayHaveMore {
                let n = readLocal()
                localMayHaveMore = n == Self.chunk
                moved = n > 0 || localEOF || moved
            }
            if !toChannel.isEmpty { moved = writeChannel() || moved }
            if moved { continue }
            // A channel write reads the socket too, and what it took in has no
            // socket event of its own: go round again if that can move.
            let stdoutQueued = toLocal.isEmpty && !channelEOF && queued(0)
            let stderrQueued = toErrors.isEmpty && queued(1) && !queued(0)
            idleRounds += 1
            guard (stdoutQueued || stderrQueued) && idleRounds <= 2 else { break }
        }
        guard !stopped else { return }
        // An EOF that came with the last data has no socket event of its own.
        if !channelEOF && toLocal.isEmpty && libssh2_channel_eof(channel) != 0 { channelEOF = true }
        if channelEOF && toLocal.isEmpty {
            return owner.close(reason: "the remote command ended")
        }
        if localEOF && toChannel.isEmpty {
            return owner.close(reason: "the stream closed")
        }
        updateInterest()
    }

    /// Whether libssh2 already holds data of `stream` (1 counts stdout too),
    /// without a syscall. False once stopped: the channel may be freed.
    private func queued(_ stream: Int32) -> Bool {
        !stopped && libssh2_poll_channel_read(channel, stream) == 1
    }

    /// Reads one chunk of `stream` (0 stdout, 1 stderr) into the matching
    /// local side, writing it at once where possible.
    /// - Returns: the bytes read; 0 when nothing was there (or at EOF).
    private func readChannel(stream: Int32) -> Int {
        guard !stopped else { return 0 }
        return withUnsafeTemporaryAllocation(byteCount: Self.chunk, alignment: 16) { buf in
            let n = libssh2_channel_read_ex(channel, stream, buf.baseAddress?.assumingMemoryBound(to: CChar.self), buf.count)
            if n == Int(LIBSSH2_ERROR_EAGAIN) { return 0 }
            if n < 0 {
                owner.close(reason: "ssh: channel read failed: \(owner.lastError())")
                stopped = true
                return 0
            }
            if n == 0 {
                if stream == 0, libssh2_channel_eof(channel) != 0 { channelEOF = true }
                return 0
            }
            if stream == 0 {
                toLocal.append(contentsOf: UnsafeRawBufferPointer(rebasing: buf[0..<n]))
            } else if !errorsClosed {
                toErrors.append(contentsOf: UnsafeRawBufferPointer(rebasing: buf[0..<n]))
            }
            return n
        }
    }

    private func flush(_ pending: inout [UInt8], to fd: FileDescriptor, isErrors: Bool) -> Bool {
        guard !stopped else { return false }
        let r = pending.withUnsafeBytes { b in Result { () throws(SystemError) in try fd.write(b) } }
        switch r {
        case .success(.bytes(let n)):
            pending.removeFirst(n)
            if pending.isEmpty { pending = [] }  // give the capacity back while idle
            return n > 0
        case .success(.wouldBlock):
            return false
        default:
            if isErrors {
                errorsClosed = true
                pending = []
                return true
            }
            localEOF = true
            pending = []
            toChannel = []
            return true
        }
    }

    /// Reads what the stream wrote, up to a chunk.
    /// - Returns: the bytes read; 0 when nothing was there (or at EOF).
    private func readLocal() -> Int {
        guard !stopped else { return 0 }
        return withUnsafeTemporaryAllocation(byteCount: Self.chunk, alignment: 16) { buf in
            let r = Result { () throws(SystemError) in try local.read(into: UnsafeMutableRawBufferPointer(buf)) }
            switch r {
            case .success(.bytes(let n)):
                toChannel.append(contentsOf: UnsafeRawBufferPointer(rebasing: buf[0..<n]))
                return n
            case .success(.wouldBlock):
                return 0
            default:
                localEOF = true
                return 0
            }
        }
    }

    /// Writes pending bytes to the channel. After `EAGAIN` libssh2 wants the
    /// same bytes again, which `toChannel` still holds.
    private func writeChannel() -> Bool {
        guard !stopped else { return false }
        let n = toChannel.withUnsafeBytes { b in
            libssh2_channel_write_ex(channel, 0, b.baseAddress?.assumingMemoryBound(to: CChar.self), b.count)
        }
        if n == Int(LIBSSH2_ERROR_EAGAIN) { return false }
        if n < 0 {
            owner.close(reason: "ssh: channel write failed: \(owner.lastError())")
            stopped = true
            return false
        }
        toChannel.removeFirst(n)
        if toChannel.isEmpty { toChannel = [] }
        return n > 0
    }

    /// The TCP socket was readable: the peer is alive.
    func sawInbound() { silentIntervals = 0 }

    /// Reads the socket only while a channel read can take what arrives
    /// (else level-triggered epoll would spin), or libssh2 waits for input.
    private var wantsSocketInput: Bool {
        toLocal.isEmpty || toErrors.isEmpty
            || libssh2_session_block_directions(session) & LIBSSH2_SESSION_BLOCK_INBOUND != 0
    }

    private func updateInterest() {
        let broker = owner.broker
        owner.waitForSocket(read: wantsSocketInput)
        if toChannel.isEmpty && !localEOF {
            broker.startReceive(localSide) { [self] in pump() }
        } else {
            broker.stopReceive(localSide)
        }
        if toLocal.isEmpty {
            broker.stopTransmit(localSide)
        } else {
            broker.startTransmit(localSide) { [self] in pump() }
        }
        if toErrors.isEmpty {
            broker.stopTransmit(errorSide)
        } else {
            broker.startTransmit(errorSide) { [self] in pump() }
        }
    }

    /// Starts the keepalive timer, when `ServerAliveInterval` is set
    /// (`keepalive_enabled`, else the ssh config).
    func startKeepalive() {
        let options = owner.options
        guard options.keepaliveInterval > 0 else { return }
        let interval = max(2, options.keepaliveInterval)
        libssh2_keepalive_config(session, 1, UInt32(interval))
        scheduleKeepalive(Double(interval), limit: max(1, options.keepaliveCount))
    }

    private func scheduleKeepalive(_ interval: Double, limit: Int) {
        keepaliveTimer = owner.broker.after(interval) { [weak self] in
            guard let self, !self.stopped else { return }
            if self.silentIntervals >= limit {
                let host = self.owner.options.host
                self.owner.close(reason: "Timeout, server \(host) not responding.")
                return
            }
            if self.wantsSocketInput { self.silentIntervals += 1 }
            // Not while a packet is half sent: libssh2 would interleave it.
            if self.toChannel.isEmpty, libssh2_session_block_directions(self.session) & LIBSSH2_SESSION_BLOCK_OUTBOUND == 0 {
                var next: Int32 = 0
                _ = libssh2_keepalive_send(self.session, &next)
            }
            self.scheduleKeepalive(interval, limit: limit)
            self.pump(socketReady: true)  // whatever libssh2 took in meanwhile
        }
    }

    /// Stops moving bytes and closes the local ends (the stream sees EOF).
    func stop() {
        guard !closedLocal else { return }
        closedLocal = true
        stopped = true
        keepaliveTimer?.cancel()
        owner.broker.remove(localSide)
        owner.broker.remove(errorSide)
        local.close()
        errors.close()
    }
}
