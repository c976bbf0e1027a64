import CMitogenSys
import Glibc
package import Synchronization
package import MitogenWire
package import MitogenSys

/// What a stream does with bytes before framing starts (the child upload
/// handshake). The master's connection code supplies one; Core only feeds it.
public protocol StreamHandshake: AnyObject {
    /// Consumes bytes read from the peer. Return `.ready(leftover)` once
    /// framing starts (leftover bytes are already frames), `.failed` to
    /// disconnect, or `.continue` with bytes to send back (may be empty).
    func feed(_ bytes: [UInt8]) -> HandshakeStep
    /// The peer closed before the handshake finished: the error to report.
    func eof() -> StreamError
}

public enum HandshakeStep {
    case `continue`(send: [UInt8])
    case ready(leftover: [UInt8])
    case failed(StreamError)
}

/// Traffic counters of one stream, cheap to read from any thread.
public struct StreamCounters: Sendable, Equatable {
    public var bytesIn: UInt64 = 0
    public var bytesOut: UInt64 = 0
    public var messagesIn: UInt64 = 0
    public var messagesOut: UInt64 = 0
    /// Bytes accepted for sending but not yet written.
    public var queuedBytes: UInt64 = 0
    /// Messages refused because the transmit queue was full (see `Stream.maxQueuedBytes`).
    public var droppedMessages: UInt64 = 0
    /// Messages from the peer that were refused (no route, bad authority,
    /// refused by policy, ...).
    public var refusedMessages: UInt64 = 0
}

/// What became of bytes handed to `Stream.sendRaw`.
package enum StreamSendResult: Equatable {
    /// Written or queued.
    case accepted
    /// The stream is closed: nothing was sent.
    case closed
    /// More than `Stream.maxQueuedBytes` were already waiting: dropped.
    case full
}

/// A connection to one directly connected context: a pair of descriptors
/// (often one socket), a frame decoder, and a transmit queue.
///
/// Receiving runs on the broker thread. Sending is safe from any thread: when
/// nothing is queued the caller writes straight to the descriptor, which keeps
/// the broker thread (and a cross-CPU wake-up) off the call path; what does
/// not fit is queued and the broker finishes it.
///
/// Memory is bounded whatever the peer does (DESIGN §6):
/// - A sender on another thread blocks while more than `highWater` bytes are
///   queued (flow control), until the queue drains to `lowWater` or no byte
///   has left for `drainStallTimeout` seconds.
/// - The broker thread never blocks, so a stream to a child stops reading
///   that child while more than `highWater` bytes wait for it: a child that
///   does not read its replies cannot make this side queue more of them.
/// - Nothing is queued beyond `maxQueuedBytes` (a message that finds the queue
///   below it is taken whole): later messages are dropped, counted in
///   `counters.droppedMessages` and logged once per episode.
///
/// Descriptors are registered, written and closed in one order: `disconnect`
/// runs on the broker thread, marks the stream closed under the transmit lock
/// before it unregisters and closes, and a registration deferred to the
/// broker thread checks that mark first, so a closed (or reused) descriptor
/// is never watched or written.
public final class Stream: @unchecked Sendable {
    // @unchecked: `decoder`, `handshake`, `egress`, `disconnectHooks` and the
    // sides' handlers are touched only on the broker thread; everything other
    // threads reach is in `tx` (a Mutex) or atomics.

    /// A name for logs and the console, e.g. `local.4242`.
    public let name: String
    /// The id of the context at the other end (0 until known for a parent).
    public let remoteID: UInt32
    /// When set, messages arriving here carry this authority (Mitogen's stream `auth_id`).
    package var authID: UInt32?
    /// True when the peer is a parent or acts with parent authority.
    public internal(set) var isPrivileged: Bool
    /// Process id of the local process behind the stream, when there is one.
    public let pid: Int32?

    let broker: Broker
    let rx: FileDescriptor
    let tx: FileDescriptor
    package let rxSide: BrokerSide
    package let txSide: BrokerSide
    var decoder: FrameDecoder
    package var handshake: (any StreamHandshake)?
    /// Destination ids seen arriving on this stream (for DEL_ROUTE propagation).
    var egress = EgressSet()
    /// The ids this stream's subtree was given (its own id, id blocks): the
    /// only ids it may claim routes for with ADD_ROUTE.
    package let grantedIDs = Lock(IDRanges())
    var onMessage: ((Message, Stream) -> Void)?
    package var disconnectHooks: [() -> Void] = []
    let maxMessageSize: Int

    /// Queued bytes above which other threads' sends wait, and a child's
    /// stream stops being read.
    static let highWater = 4 << 20
    /// Queued bytes at which waiting senders resume and reading restarts.
    static let lowWater = 1 << 20
    /// Most bytes a stream queues: a message that finds more waiting is dropped.
    package static let maxQueuedBytes = 16 << 20
    /// Most routes (ADD_ROUTE claims) the subtree behind one stream may hold.
    package static let maxRoutes = 16_384
    /// Default seconds a blocked sender waits with no byte leaving before it
    /// gives up waiting (its message stays queued).
    package static let defaultDrainStallTimeout = 30.0
    /// Small queued writes are merged up to this size: one array per write
    /// would cost more than the bytes for tiny messages.
    static let coalesceLimit = 64 << 10

    private struct TxState {
        var queue: [[UInt8]] = []
        var offset = 0
        var queued = 0
        var armed = false
        var closed = false
        var waiters = 0
        var stallTimeout = Stream.defaultDrainStallTimeout
        /// Set when a drop was logged; cleared when the queue drains.
        var overflowLogged = false
    }
    private let txState = Lock(TxState())
    private let drained = Latch<Bool>()
    private let bytesIn = Atomic<UInt64>(0)
    private let bytesOut = Atomic<UInt64>(0)
    private let messagesIn = Atomic<UInt64>(0)
    private let messagesOut = Atomic<UInt64>(0)
    private let dropped = Atomic<UInt64>(0)
    private let refused = Atomic<UInt64>(0)
    private let disconnectedFlag = Atomic<Bool>(false)
    /// Routes claimed through this stream (ADD_ROUTE), at most `maxRoutes`.
    package let claimedRoutes = Atomic<Int>(0)
    /// True while reading is paused because the peer does not drain what
    /// this side queued for it (broker thread only).
    private var readingPaused = false

    /// Seconds a sender blocked by flow control waits with no byte leaving
    /// before it stops waiting (`defaultDrainStallTimeout` unless set).
    package var drainStallTimeout: Double {
        get { txState.withLock { $0.stallTimeout } }
        set { txState.withLock { $0.stallTimeout = newValue } }
    }

    package init(
        name: String, remoteID: UInt32, broker: Broker, rx: FileDescriptor, tx: FileDescriptor,
        privileged: Bool, pid: Int32? = nil, maxMessageSize: Int = WireLimits.defaultMaxMessageSize
    ) {
        self.name = name
        self.remoteID = remoteID
        self.broker = broker
        self.rx = rx
        self.tx = tx
        self.isPrivileged = privileged
        self.pid = pid
        self.maxMessageSize = maxMessageSize
        self.decoder = FrameDecoder(maxMessageSize: maxMessageSize)
        rxSide = BrokerSide(fd: rx.rawValue)
        txSide = rx == tx ? rxSide : BrokerSide(fd: tx.rawValue)
    }

    public var counters: StreamCounters {
        StreamCounters(
            bytesIn: bytesIn.load(ordering: .relaxed), bytesOut: bytesOut.load(ordering: .relaxed),
            messagesIn: messagesIn.load(ordering: .relaxed), messagesOut: messagesOut.load(ordering: .relaxed),
            queuedBytes: UInt64(txState.withLock { $0.queued }), droppedMessages: dropped.load(ordering: .relaxed),
            refusedMessages: refused.load(ordering: .relaxed))
    }

    /// Counts a message from the peer that was refused. Returns true when the
    /// refusal should be logged: the first ten, then every power of two, so
    /// a peer cannot flood the log.
    package func noteRefusal() -> (log: Bool, count: UInt64) {
        let n = refused.add(1, ordering: .relaxed).newValue
        return (n <= 10 || n & (n - 1) == 0, n)
    }

    public var isDisconnected: Bool { disconnectedFlag.load(ordering: .acquiring) }

    // MARK: Receive (broker thread)

    /// Starts reading. Call on the broker thread; does nothing once disconnected.
    func start() {
        guard !isDisconnected else { return }
        rxSide.onHandOff = { [self] in drainFrames() }
        broker.startReceive(rxSide) { [self] in onReadable() }
    }

    /// True when reading from the peer should wait: it is a child (not
    /// privileged) and does not drain what is queued for it.
    private var mustPauseReading: Bool {
        !isPrivileged && txState.withLock { $0.queued > Self.highWater }
    }

    /// Stops reading until `onWritable` drains the queue (broker thread).
    private func pauseReading() {
        guard !readingPaused, !isDisconnected else { return }
        readingPaused = true
        logDebug("\(name): peer is not reading (over \(Self.highWater) bytes queued): reading paused")
        broker.stopReceive(rxSide)
    }

    /// Reads again after a pause, first routing frames already buffered
    /// (broker thread). Stays paused while a receiver holds the stream.
    private func resumeReading() {
        guard readingPaused, holds == 0, !isDisconnected else { return }
        readingPaused = false
        logDebug("\(name): queue drained: reading resumed")
        broker.startReceive(rxSide) { [self] in onReadable() }
        drainFrames()
    }

    /// Receivers over their byte budget that asked this stream to stop
    /// reading (broker thread only).
    private var holds = 0

    /// Stops reading from the peer until a matching ``releaseReading()``:
    /// a receiver fed by this stream is over its byte budget. Safe from any
    /// thread.
    package func holdReading() {
        broker.defer { [self] in
            holds += 1
            if holds == 1 {
                logDebug("\(name): a receiver is over its byte budget: reading paused")
                pauseReading()
            }
        }
    }

    /// Ends one ``holdReading()``; reading resumes when none is left (and
    /// the peer is draining what is queued for it). Safe from any thread.
    package func releaseReading() {
        broker.defer { [self] in
            holds = max(0, holds - 1)
            if holds == 0 && !mustPauseReading { resumeReading() }
        }
    }

    private static let readBufferSize = WireLimits.chunkSize

    private func onReadable() {
        var chunk = [UInt8](repeating: 0, count: Self.readBufferSize)
        let result = chunk.withUnsafeMutableBytes { buf in Result { () throws(SystemError) in try rx.read(into: buf) } }
        switch result {
        case .failure(let error):
            disconnect(reason: "read failed: \(error)")
        case .success(.wouldBlock):
            return
        case .success(.eof):
            if let handshake {
                self.handshake = nil
                failHandshake(handshake.eof())
            }
            disconnect(reason: "EOF")
        case .success(.bytes(let n)):
            bytesIn.add(UInt64(n), ordering: .relaxed)
            if let handshake {
                switch handshake.feed(Array(chunk[0..<n])) {
                case .continue(let reply):
                    if !reply.isEmpty { sendRaw(reply) }
                case .ready(let leftover):
                    self.handshake = nil
                    decoder.append(leftover)
                    drainFrames()
                case .failed(let error):
                    self.handshake = nil
                    failHandshake(error)
                    disconnect(reason: error.message)
                }
            } else {
                chunk.withUnsafeBytes { decoder.append(UnsafeRawBufferPointer(rebasing: $0[0..<n])) }
                drainFrames()
            }
        }
    }

    /// Set by connection code: called once if the handshake fails.
    package var onHandshakeFailure: ((StreamError) -> Void)?

    private func failHandshake(_ error: StreamError) {
        let fn = onHandshakeFailure
        onHandshakeFailure = nil
        fn?(error)
    }

    private func drainFrames() {
        while !isDisconnected {
            if mustPauseReading || holds > 0 {
                pauseReading()
                return
            }
            let message: Message?
            do {
                message = try decoder.next()
            } catch {
                logError("\(name): \(error)")
                disconnect(reason: error.description)
                return
            }
            guard let message else { return }
            messagesIn.add(1, ordering: .relaxed)
            onMessage?(message, self)
            if !broker.isOnBrokerThread {
                // A handler handed the loop to another thread and ran long work
                // here; the new leader resumed draining (rxSide.onHandOff), so
                // the decoder is no longer ours to touch.
                return
            }
        }
    }

    // MARK: Transmit (any thread)

    /// Frames and sends `message`. Safe from any thread. Returns false if the
    /// stream is closed or its queue is full (the message is dropped; callers
    /// send dead replies).
    /// - Throws: `FrameError.tooLarge` if it exceeds the maximum message size.
    @discardableResult
    package func send(_ message: Message) throws(FrameError) -> Bool {
        try trySend(message) == .accepted
    }

    /// `send` that says why a message was not taken.
    /// - Throws: `FrameError.tooLarge` if it exceeds the maximum message size.
    func trySend(_ message: Message) throws(FrameError) -> StreamSendResult {
        let frame = try message.frame(maxMessageSize: maxMessageSize)
        let result = sendRaw(frame)
        if result == .accepted { messagesOut.add(1, ordering: .relaxed) }
        return result
    }

    /// Sends bytes as they are (handshake replies, or frames). Safe from any
    /// thread; see the type's comment for when it waits and when it drops.
    @discardableResult
    func sendRaw(_ bytes: [UInt8]) -> StreamSendResult {
        var arm = false
        var mustWait = false
        var logDrop: Int?
        let result = txState.withLock { st -> StreamSendResult in
            if st.closed { return .closed }
            if st.queued >= Self.maxQueuedBytes {
                if !st.overflowLogged {
                    st.overflowLogged = true
                    logDrop = st.queued
                }
                return .full
            }
            var rest = bytes[...]
            if st.queue.isEmpty {
                // Fast path: write now on the calling thread.
                while !rest.isEmpty {
                    let r = rest.withUnsafeBytes { buf in Result { () throws(SystemError) in try tx.write(buf) } }
                    guard case .success(.bytes(let n)) = r else { break }
                    bytesOut.add(UInt64(n), ordering: .relaxed)
                    rest = rest.dropFirst(n)
                }
            }
            if !rest.isEmpty {
                if let last = st.queue.indices.last, st.queue[last].count < Self.coalesceLimit {
                    st.queue[last].append(contentsOf: rest)
                } else {
                    st.queue.append(Array(rest))
                }
                st.queued += rest.count
                if !st.armed {
                    st.armed = true
                    arm = true
                }
                if st.queued > Self.highWater && !broker.isOnBrokerThread {
                    st.waiters += 1
                    mustWait = true
                }
            }
            return .accepted
        }
        if result == .full {
            dropped.add(1, ordering: .relaxed)
            if let logDrop {
                logWarning("\(name): \(logDrop) bytes wait for a peer that does not read: dropping messages until the queue drains")
            }
        }
        if arm {
            broker.defer { [self] in
                // Runs after a disconnect that happened meanwhile: never watch
                // the closed (possibly reused) descriptor.
                guard !isDisconnected else { return }
                broker.startTransmit(txSide) { [self] in onWritable() }
            }
        }
        if mustWait { waitForDrain() }
        return result
    }

    /// Blocks (a thread other than the broker's) until the queue is down to
    /// `lowWater`, the stream closes, or no byte has left for
    /// `drainStallTimeout` seconds; the message that made it wait stays queued.
    private func waitForDrain() {
        var progress = bytesOut.load(ordering: .relaxed)
        var lastProgress = monotonicNow()
        while true {
            _ = try? drained.get(timeout: 0.25)
            let (done, stall, queued) = txState.withLock { st -> (Bool, Double, Int) in
                if st.closed || st.queued <= Self.lowWater {
                    st.waiters -= 1
                    return (true, st.stallTimeout, st.queued)
                }
                return (false, st.stallTimeout, st.queued)
            }
            if done { return }
            let written = bytesOut.load(ordering: .relaxed)
            let now = monotonicNow()
            if written != progress {
                (progress, lastProgress) = (written, now)
            } else if now - lastProgress >= stall {
                txState.withLock { $0.waiters -= 1 }
                logWarning("\(name): the peer read nothing for \(stall) s with \(queued) bytes queued: sender stops waiting")
                return
            }
        }
    }

    private func onWritable() {
        var wakeWaiters = false
        var failed: SystemError?
        let empty = txState.withLock { st -> Bool in
            while let first = st.queue.first {
                let r = first.withUnsafeBytes { buf in
                    Result { () throws(SystemError) in
                        try tx.write(UnsafeRawBufferPointer(rebasing: buf[st.offset...]))
                    }
                }
                switch r {
                case .success(.bytes(let n)):
                    bytesOut.add(UInt64(n), ordering: .relaxed)
                    st.offset += n
                    st.queued -= n
                    if st.offset == first.count {
                        st.queue.removeFirst()
                        st.offset = 0
                    }
                case .success(.wouldBlock):
                    return false
                case .success(.eof):
                    st.closed = true
                    return true
                case .failure(let e):
                    failed = e
                    st.closed = true
                    return true
                }
            }
            st.armed = false
            wakeWaiters = st.waiters > 0
            return true
        }
        if empty { broker.stopTransmit(txSide) }
        let (wake, drainedLow) = txState.withLock { st -> (Bool, Bool) in
            let low = st.queued <= Self.lowWater
            if low { st.overflowLogged = false }
            return (wakeWaiters || (st.waiters > 0 && low), low)
        }
        if wake { try? drained.put(true) }
        if let failed {
            disconnect(reason: "write failed: \(failed)")
        } else if drainedLow && readingPaused {
            resumeReading()
        }
    }

    // MARK: Disconnect (broker thread)

    /// Closes the stream: stops watching, closes the descriptors, wakes blocked
    /// senders, and runs the disconnect hooks (the router deletes routes and
    /// wakes waiters). Idempotent. Runs on the broker thread (called from
    /// another, it is deferred there), so the descriptors are unregistered
    /// before they are closed and no deferred registration can follow.
    package func disconnect(reason: String) {
        guard broker.isOnBrokerThread else {
            broker.defer { [self] in disconnect(reason: reason) }
            return
        }
        guard !disconnectedFlag.exchange(true, ordering: .acquiringAndReleasing) else { return }
        // Closed first: from here no thread writes to the descriptors.
        txState.withLock { st in
            st.closed = true
            st.queue.removeAll()
            st.queued = 0
        }
        broker.remove(rxSide)
        if txSide !== rxSide { broker.remove(txSide) }
        drained.close()
        rx.close()
        if tx != rx { tx.close() }
        if handshake != nil {
            handshake = nil
            failHandshake(StreamError("\(name): disconnected during bootstrap: \(reason)", kind: .eof))
        }
        // Mitogen's order: the stream's signal, then what depends on it
        // (the router's bookkeeping, which fires the contexts' own).
        Signals.fire(self, "disconnect", [.str(reason)])
        let hooks = disconnectHooks
        disconnectHooks.removeAll()
        for hook in hooks { hook() }
    }

    deinit { Signals.forget(self) }

    /// Writes what is queued, blocking up to `timeout` seconds: the last
    /// replies and logs of a child leave before it exits. Broker thread only.
    func flushBlocking(timeout: Double) {
        let deadline = monotonicNow() + timeout
        while txState.withLock({ !$0.queue.isEmpty && !$0.closed }) {
            let left = deadline - monotonicNow()
            if left <= 0 { return }
            var pfd = pollfd(fd: tx.rawValue, events: Int16(POLLOUT), revents: 0)
            if poll(&pfd, 1, Int32(left * 1000) + 1) <= 0 { return }
            onWritable()
        }
    }

    /// Closes the sending direction only (half-close on a socket), so the peer
    /// sees EOF after the queued data; used for graceful shutdown of pipes.
    func closeWrite() {
        txState.withLock { $0.closed = true }
        if tx == rx { shutdown(tx.rawValue, Int32(SHUT_WR)) }
    }
}

extension Stream: CustomStringConvertible {
    public var description: String { "Stream(\(name), remote \(remoteID))" }
}
