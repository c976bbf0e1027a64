// libFuzzer entry point for the router: a live master `Router` fed arbitrary
// frames by a fake child. Built by scripts/fuzz-frames.sh together with the
// library layers it needs (Sys, Wire, Core, Calls, Master) and swift-log.
//
// One master for the whole run, with its parent duties installed
// (`router.parentState`: ALLOCATE_ID and FORWARD_LOG), a small maximum message
// size (`maxSize`) so the limits are in reach, and one "sentinel" child: a
// socketpair registered for the whole run whose far end the harness reads, a
// sibling the fake children may try to reach or impersonate.
//
// Per input, a fresh fake child: an id from `router.allocateID()`, a
// socketpair whose near end is a `Stream` registered with
// `router.register(_:stream:)` (as Connection.swift's attachChild does, minus
// the upload handshake). The master starts a call to it (a CALL_FUNCTION whose
// `Receiver` waits with the child as respondent). The harness writes the frames
// decoded from the input (below) to the far end, then a barrier frame, then
// shuts the far end down for writing. It checks, failing with `fatalError`
// (which libFuzzer records as a crash):
//   - when the barrier arrives (so every frame before it was routed): the
//     master has no route for its own id, and every id routed through the
//     child's stream was granted to it (its own id, blocks from ALLOCATE_ID);
//   - the stream is disconnected within `patience` seconds of EOF (else a hang);
//   - afterwards no route is left but the sentinel's, and the pending call's
//     receiver was woken (a reply or a dead message, never silence);
//   - every byte the master wrote to the child or the sentinel is a valid frame,
//     and nothing reached the sentinel with the master's authority (auth 0)
//     but the master's own answer to the probe;
//   - the router still answers: a probe from the sentinel to a handler of the
//     master comes back, through the broker thread, within `patience`;
//   - the master told the sentinel, which had said hello to the child, of the
//     child's loss (DEL_ROUTE), exactly once.
//
// Input to frames. The input is read front to back; past its end every byte
// reads as 0. Frames are decoded until the input is used up (at most 256).
// Each frame reads, in this order:
//
//   op       low nibble: encoding marker. 0-5 pickled "MJ", 6-10 raw "MI",
//            11-14 binary "MK", 15 two more input bytes as the marker (garbage,
//            valid only by chance).
//            high nibble: declared length. 0-11 the payload's length;
//            12 length + 1 + byte (the frame swallows what follows: truncation);
//            13 length - (1 + byte), floored at 0 (the payload's rest is read
//            as the next header); 14 maxSize - 2 + byte % 5 (around the limit:
//            above it the stream must be cut); 15 a raw big-endian u32.
//            The extra bytes of the length mode are read last, after the payload.
//   dst, src, auth   one id selector byte each (see `id`): below 128 the
//            field's usual value (dst: the master 0; src and auth: the child),
//            else 128 + (0-15 that literal id, 16-31 the master 0, 32-47 the
//            child, 48-63 the sentinel, 64-79 child + 1 + byte (the first block
//            ALLOCATE_ID grants: this harness is the only one taking ids, so a
//            child with id c gets [c+1, c+1001) first), 80-87 child + 999 + byte % 4
//            (that block's edge), 88-95 child - 1 - byte (earlier children, gone),
//            96-111 a raw u32, 112-119 UInt32.max - byte, 120-127 child + 1 +
//            1000 * (byte % 8) + byte (later blocks)).
//   handle   one byte (see `handle`): 0-111 the standard handles 100-113
//            (byte % 14), 112-159 the master's own dynamic handles (the pending
//            call's reply handle, the barrier's, the probe's, by byte % 3),
//            160-191 dynamic 1000-1031, 192-207 0-15, 208-215 999, 216-223 a raw
//            u32, 224-255 ALLOCATE_ID, ADD_ROUTE, DEL_ROUTE or FORWARD_LOG.
//   reply_to one byte: 0-95 0 (no reply), 96-159 999 (IS_DEAD: a dead
//            message), 160-223 1000-1063 (a handle of the child), 224-239 a
//            standard handle, 240-255 a raw u32.
//   payload  one kind byte, then what the kind reads (see `payload`). Below 128
//            the payload suits the handle: ADD_ROUTE "<id>:<name>", DEL_ROUTE
//            "<id>", FORWARD_LOG "<logger>\0<level>\0<message>", ALLOCATE_ID
//            empty, CALL_FUNCTION a pickled call tuple, the pending call's
//            handle a pickled reply value, others raw bytes. From 128, kind % 16:
//            0-5 raw (length byte, then that many input bytes), 6 ADD_ROUTE text,
//            7 DEL_ROUTE text, 8 FORWARD_LOG text, 9 a pickled CALL_FUNCTION
//            tuple, 10 a pickled reply value, 11-12 empty, 13 filler (a fill byte,
//            then 0-3: maxSize - 1, maxSize, maxSize + 1, 256 * byte bytes), 14 an id text from a list of near misses
//            ("+5", " 5", "5:", "-1", "4294967296", ...), 15 invalid UTF-8.
//
// Seeds (Fuzz/frame-corpus/, made by Fuzz/make-frame-seeds.py) are written in
// this encoding: a CALL_FUNCTION, ADD_ROUTE after ALLOCATE_ID, FORWARD_LOG, a
// dead message, an oversized length, ...

import Glibc
import Logging
import MitogenCore
import MitogenMaster
import MitogenSys
import MitogenWire
import Synchronization

@_cdecl("LLVMFuzzerTestOneInput")
public func frameFuzzOneInput(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    harness.run(Array(UnsafeBufferPointer(start: data, count: size)))
    return 0
}

/// Largest message the master and its streams accept: small, so the limit is
/// within a fuzz input's reach.
private let maxSize = 1 << 16
/// Seconds the harness waits for anything the router should do at once.
private let patience = 5.0

private let harness = Harness()

/// FRAME_FUZZ_TRACE=1 prints the frames of each input and what came of them
/// (to check what a seed does: `FRAME_FUZZ_TRACE=1 .build-fuzz/frame-fuzz SEED`).
private let tracing = getenv("FRAME_FUZZ_TRACE") != nil

private func trace(_ text: String) {
    let line = Array("frame-fuzz: \(text)\n".utf8)
    _ = line.withUnsafeBytes { write(2, $0.baseAddress, $0.count) }
}

// MARK: - Decoding the input

/// The ids and handles the input refers to symbolically.
private struct Scene {
    let child: UInt32
    let sentinel: UInt32
    let replyHandle: UInt32
    let barrierHandle: UInt32
    let probeHandle: UInt32
}

/// The input, read front to back; zeros past its end.
private struct Input {
    let bytes: [UInt8]
    var at = 0

    var isEmpty: Bool { at >= bytes.count }

    mutating func byte() -> UInt8 {
        guard at < bytes.count else { return 0 }
        defer { at += 1 }
        return bytes[at]
    }

    mutating func u32() -> UInt32 {
        (0..<4).reduce(0) { value, _ in value << 8 | UInt32(byte()) }
    }

    mutating func take(_ count: Int) -> [UInt8] {
        let end = min(bytes.count, at + count)
        guard at < end else { return [] }
        defer { at = end }
        return Array(bytes[at..<end])
    }
}

private struct FrameScript {
    var input: Input
    let scene: Scene

    /// The frames' bytes, as written to the master.
    mutating func bytes() -> [UInt8] {
        var out: [UInt8] = []
        var frames = 0
        while !input.isEmpty && frames < 256 {
            frame(into: &out)
            frames += 1
        }
        return out
    }

    mutating func frame(into out: inout [UInt8]) {
        let op = input.byte()
        let marker: UInt16 =
            switch op & 0x0F {
            case 0...5: MessageEncoding.pickled.rawValue
            case 6...10: MessageEncoding.raw.rawValue
            case 11...14: MessageEncoding.binary.rawValue
            default: UInt16(input.byte()) << 8 | UInt16(input.byte())
            }
        let dst = id(input.byte(), usual: 0)
        let src = id(input.byte(), usual: scene.child)
        let auth = id(input.byte(), usual: scene.child)
        let h = handle(input.byte())
        let reply = replyTo(input.byte())
        let data = payload(input.byte(), handle: h)
        let length: UInt32 =
            switch op >> 4 {
            case 0...11: UInt32(data.count)
            case 12: UInt32(data.count) + 1 + UInt32(input.byte())
            case 13: UInt32(max(0, data.count - 1 - Int(input.byte())))
            case 14: UInt32(maxSize - 2 + Int(input.byte() % 5))
            default: input.u32()
            }
        appendBigEndian(marker, to: &out)
        for field in [dst, src, auth, h, reply, length] { appendBigEndian(field, to: &out) }
        out += data
    }

    mutating func id(_ selector: UInt8, usual: UInt32) -> UInt32 {
        guard selector >= 128 else { return usual }
        let s = selector - 128
        return switch s {
        case 0..<16: UInt32(s)
        case 16..<32: 0
        case 32..<48: scene.child
        case 48..<64: scene.sentinel
        case 64..<80: scene.child &+ 1 &+ UInt32(input.byte())
        case 80..<88: scene.child &+ 999 &+ UInt32(input.byte() % 4)
        case 88..<96: scene.child &- 1 &- UInt32(input.byte())
        case 96..<112: input.u32()
        case 112..<120: UInt32.max &- UInt32(input.byte())
        default: scene.child &+ 1 &+ 1000 &* UInt32(input.byte() % 8) &+ UInt32(input.byte())
        }
    }

    mutating func handle(_ selector: UInt8) -> UInt32 {
        switch selector {
        case 0..<112: Handle.getModule + UInt32(selector % 14)
        case 112..<160: [scene.replyHandle, scene.barrierHandle, scene.probeHandle][Int(selector % 3)]
        case 160..<192: Handle.firstDynamic + UInt32(selector - 160)
        case 192..<208: UInt32(selector - 192)
        case 208..<216: Handle.isDead
        case 216..<224: input.u32()
        default: [Handle.allocateID, Handle.addRoute, Handle.delRoute, Handle.forwardLog][Int(selector % 4)]
        }
    }

    mutating func replyTo(_ selector: UInt8) -> UInt32 {
        switch selector {
        case 0..<96: Handle.noReply
        case 96..<160: Handle.isDead
        case 160..<224: Handle.firstDynamic + UInt32(selector - 160)
        case 224..<240: Handle.getModule + UInt32(selector % 14)
        default: input.u32()
        }
    }

    mutating func payload(_ kind: UInt8, handle: UInt32) -> [UInt8] {
        if kind < 128 {
            switch handle {
            case Handle.addRoute: return routeText()
            case Handle.delRoute: return Array(String(id(input.byte(), usual: scene.child &+ 1)).utf8)
            case Handle.forwardLog: return logText()
            case Handle.allocateID: return []
            case Handle.callFunction: return callTuple()
            case scene.replyHandle: return replyValue()
            default: return input.take(Int(input.byte()))
            }
        }
        switch kind % 16 {
        case 0...5: return input.take(Int(input.byte()))
        case 6: return routeText()
        case 7: return Array(String(id(input.byte(), usual: scene.child &+ 1)).utf8)
        case 8: return logText()
        case 9: return callTuple()
        case 10: return replyValue()
        case 11, 12: return []
        case 13:
            let fill = input.byte()
            let count =
                switch input.byte() % 4 {
                case 0: maxSize - 1
                case 1: maxSize
                case 2: maxSize + 1
                default: Int(input.byte()) << 8
                }
            return [UInt8](repeating: fill, count: count)
        case 14:
            let n = String(id(input.byte(), usual: scene.child &+ 1))
            let texts = ["+\(n)", " \(n)", "\(n):", "\(n)::x", "-1", "4294967296", "", ":", "0:master", "\(n) ", "0x10"]
            return Array(texts[Int(input.byte()) % texts.count].utf8)
        default:
            return [0xFF, 0xFE, 0xC0, 0x80, 0xED, 0xA0, 0x80] + input.take(Int(input.byte() % 16))
        }
    }

    /// ADD_ROUTE's `"<id>"`, `"<id>:<name>"` or a name longer than the limit.
    mutating func routeText() -> [UInt8] {
        let target = id(input.byte(), usual: scene.child &+ 1)
        let nameLength = input.byte()
        let name: [UInt8] =
            switch nameLength {
            case 0: []
            case 255: Array(":".utf8) + [UInt8](repeating: 0x78, count: 600)
            default: Array(":".utf8) + input.take(Int(nameLength) - 1)
            }
        return Array(String(target).utf8) + name
    }

    /// FORWARD_LOG's `"<logger>\0<level>\0<message>"`, sometimes with parts missing.
    mutating func logText() -> [UInt8] {
        let logger = input.take(Int(input.byte() % 32))
        let levels = ["10", "20", "30", "40", "50", "0", "-1", "99999999999999999999", "info", ""]
        let level = Array(levels[Int(input.byte()) % levels.count].utf8)
        let message = input.take(Int(input.byte()))
        return switch input.byte() % 4 {
        case 0: logger + [0] + level
        case 1: logger
        default: logger + [0] + level + [0] + message
        }
    }

    /// A pickled CALL_FUNCTION tuple `(chain, module, class, function, args, kwargs)`.
    mutating func callTuple() -> [UInt8] {
        let chain: Value = input.byte() % 2 == 0 ? .none : .str("fuzz-chain")
        let args = (0..<Int(input.byte() % 4)).map { _ in Value.int(Int(input.byte())) }
        var kwargs = PyDict()
        if input.byte() % 2 == 1 { kwargs = PyDict([("timeout", .int(Int(input.byte())))]) }
        let body = Value.tuple([chain, .str("os"), .none, .str("getpid"), .tuple(args), .kwargs(kwargs)])
        return Pickle.dumps(body)
    }

    /// A pickled value as a call's reply might carry.
    mutating func replyValue() -> [UInt8] {
        let n = Int(input.byte())
        let values: [Value] = [
            .int(n), .none, .callError("builtins.OSError: fuzz"), .str("reply"), .bytes([UInt8(n)]),
            .tuple([.int(n), .int(n + 1000)]), .context(id: scene.sentinel, name: "sentinel"),
            .sender(contextID: 0, handle: scene.probeHandle), .list([.int(n), .str("x")]),
        ]
        return Pickle.dumps(values[Int(input.byte()) % values.count])
    }
}

private func appendBigEndian<T: FixedWidthInteger>(_ value: T, to out: inout [UInt8]) {
    withUnsafeBytes(of: value.bigEndian) { out.append(contentsOf: $0) }
}

private func frameBytes(_ message: Message) -> [UInt8] {
    guard let bytes = try? message.frame(maxMessageSize: maxSize) else { fatalError("harness frame too large") }
    return bytes
}

// MARK: - The harness

/// What ends the harness's waits for one child.
private enum Event: Sendable {
    case barrier, contextGone, disconnected
}

/// Discards every log record, after rendering it (the rendering is code under
/// test too); prints it when tracing.
private struct RenderingNullHandler: LogHandler {
    var metadata: Logger.Metadata = [:]
    var logLevel: Logger.Level = .trace
    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }
    func log(event: LogEvent) {
        let text = event.message.description
        if tracing { trace("log: \(text)") }
    }
}

private final class Harness: @unchecked Sendable {
    // @unchecked: used from libFuzzer's thread only; handlers the broker
    // thread runs touch Latches and immutable values.
    let router: Router
    let sentinelID: UInt32
    let sentinelStream: Stream
    let sentinelPeer: FileDescriptor
    var sentinelDecoder = FrameDecoder(maxMessageSize: maxSize)
    let probeHandle: UInt32
    /// The handle the sentinel asks the probe's answer on (its own handle space).
    let sentinelReplyHandle: UInt32 = 5000
    var rng = SystemRandomNumberGenerator()
    /// The ids the sentinel sent to, as the master records them for DEL_ROUTE
    /// (`Stream.egressIDs`): at most `egressCap` (`Stream.maxEgressIDs`), never
    /// pruned, so past that the master no longer tells it of losses.
    var sentinelEgress = Set<UInt32>()
    let egressCap = 1 << 16

    func sentinelSent(to id: UInt32) {
        if sentinelEgress.count < egressCap { sentinelEgress.insert(id) }
    }

    init() {
        signal(SIGPIPE, SIG_IGN)
        LoggingSystem.bootstrap { _ in RenderingNullHandler() }
        router = Router(maxMessageSize: maxSize)
        _ = router.parentState
        do {
            sentinelID = try router.allocateID()
            let (mine, theirs) = try FileDescriptor.socketPair()
            try mine.setNonBlocking(true)
            sentinelPeer = theirs
            sentinelStream = Stream(
                name: "sentinel", remoteID: sentinelID, broker: router.broker, rx: mine, tx: mine,
                privileged: false, maxMessageSize: maxSize)
            router.register(router.context(byID: sentinelID, name: "sentinel"), stream: sentinelStream)
            let sentinel = sentinelStream
            probeHandle = try router.addHandler(policy: { _, stream in stream === sentinel }) { msg in
                guard !msg.isDead else { return }
                msg.reply(message: Message(encoding: .raw, data: msg.data))
            }
        } catch {
            fatalError("harness setup: \(error)")
        }
    }

    func nonce() -> [UInt8] { withUnsafeBytes(of: UInt64.random(in: .min ... .max, using: &rng)) { Array($0) } }

    func run(_ bytes: [UInt8]) {
        // Ids run out after 2^32 - 1 (ALLOCATE_ID spends 1000 at a time); then
        // every child reuses UInt32.max, which no allocation hands out.
        let childID = (try? router.allocateID()) ?? UInt32.max
        let (mine, theirs): (FileDescriptor, FileDescriptor)
        do {
            (mine, theirs) = try FileDescriptor.socketPair()
            try mine.setNonBlocking(true)
        } catch {
            fatalError("socketpair: \(error)")
        }
        defer { theirs.close() }
        let name = "fuzz.\(childID)"
        let context = router.context(byID: childID, name: name)
        let stream = Stream(
            name: name, remoteID: childID, broker: router.broker, rx: mine, tx: mine, privileged: false,
            maxMessageSize: maxSize)
        let events = Latch<Event>()
        // Before register: nothing runs on the stream yet. It runs before the
        // router's own hook (the probe below waits for that).
        stream.disconnectHooks.append { try? events.put(.disconnected) }
        context.onDisconnect { try? events.put(.contextGone) }
        router.register(context, stream: stream)

        let call = Value.tuple([.none, .str("os"), .none, .str("getpid"), .tuple([]), .kwargs(PyDict())])
        let receiver: Receiver
        let barrierHandle: UInt32
        let barrierNonce = nonce()
        do {
            receiver = try context.sendAsync(Message.pickled(call, handle: Handle.callFunction))
            barrierHandle = try router.addHandler { msg in
                if msg.data == barrierNonce { try? events.put(.barrier) }
            }
        } catch {
            fatalError("harness handlers: \(error)")
        }
        defer { try? router.delHandler(barrierHandle) }

        // The sentinel says hello to the new child; once the master forwarded
        // it, the master must tell the sentinel (DEL_ROUTE) when the child is gone.
        var fromMaster = FrameDecoder(maxMessageSize: maxSize)
        let hello = nonce()
        sendFromSentinel(
            Message(
                encoding: .raw, dstID: childID, srcID: sentinelID, authID: sentinelID, handle: Handle.firstDynamic,
                data: hello))
        readChild(theirs, &fromMaster, until: { $0.data == hello }, bytes: bytes)
        sentinelSent(to: childID)

        let scene = Scene(
            child: childID, sentinel: sentinelID, replyHandle: receiver.handle, barrierHandle: barrierHandle,
            probeHandle: probeHandle)
        var script = FrameScript(input: Input(bytes: bytes), scene: scene)
        let barrier = Message(
            encoding: .raw, dstID: 0, srcID: childID, authID: childID, handle: barrierHandle, data: barrierNonce)
        let all = script.bytes() + frameBytes(barrier)

        // Whether the barrier is a frame of its own, as the master's decoder will see it.
        var decoder = FrameDecoder(maxMessageSize: maxSize)
        decoder.append(all)
        var last: Message?
        var clean = true
        while true {
            do {
                guard let m = try decoder.next() else { break }
                last = m
                if tracing { trace("frame \(m) \(Value.bytes(Array(m.data.prefix(48))).displayText)") }
            } catch {
                clean = false
                if tracing { trace("then \(error)") }
                break
            }
        }
        if tracing { trace("child \(childID), \(decoder.bufferedCount) bytes left over") }
        let barrierExpected =
            clean && decoder.bufferedCount == 0 && last?.handle == barrierHandle && last?.data == barrierNonce

        // The master never blocks writing to us (it queues), so a blocking
        // write cannot deadlock; EPIPE means it already cut the stream.
        try? theirs.writeAll(all)

        var disconnected = false
        if barrierExpected {
            guard let event = try? events.get(timeout: patience) else {
                fatalError("hang: the barrier frame was not routed within \(patience) s (\(describe(bytes)))")
            }
            if event == .barrier {
                checkRoutes(via: stream, child: childID)
            }
            if tracing { trace("\(event); routes \(router.routeTable())") }
            disconnected = event == .disconnected
        }
        checkNoRouteToSelf()
        shutdown(theirs.rawValue, Int32(SHUT_WR))
        readChild(theirs, &fromMaster, until: nil, bytes: bytes)
        let deadline = monotonicNow() + patience
        while !disconnected {
            guard let event = try? events.get(timeout: max(0, deadline - monotonicNow())) else {
                fatalError("hang: the stream was not disconnected within \(patience) s of EOF (\(describe(bytes)))")
            }
            disconnected = event == .disconnected
        }
        // The probe's answer also means the broker finished the disconnect
        // (the router's own hooks run after ours, in the same broker turn).
        probe(lost: sentinelEgress.contains(childID) ? childID : nil)

        let left = router.routes.withLock { $0 }
        guard left.count == 1, left[sentinelID] === sentinelStream else {
            fatalError("routes left after the child is gone: \(left.map { "\($0.key) via \($0.value.name)" }) (\(describe(bytes)))")
        }
        do {
            let reply = try receiver.get(timeout: patience)
            let value = try? reply.unpickle(throw: false)
            if tracing { trace("the call's reply: \(value?.displayText ?? "undecodable")") }
        } catch let error as ChannelError {
            // Dead: the child answered so, or it disconnected.
            if tracing { trace("the call's reply: dead: \(error)") }
        } catch {
            fatalError("the pending call was not woken: \(error) (\(describe(bytes)))")
        }
        receiver.close()
    }

    /// At the barrier: every id routed through the child's stream was granted to it.
    func checkRoutes(via stream: Stream, child: UInt32) {
        let claimed = router.routes.withLock { map in map.compactMap { $0.value === stream ? $0.key : nil } }
        // (UInt32.max, the fallback id once ids ran out, cannot be granted.)
        for id in claimed where id != child && !stream.grantedIDs.withLock({ $0.contains(id) }) {
            fatalError("child \(child) holds a route to \(id), which was never granted to it")
        }
    }

    func checkNoRouteToSelf() {
        if let via = router.routes.withLock({ $0[router.contextID] }) {
            fatalError("the master has a route to its own id via \(via.name)")
        }
    }

    /// Reads what the master sends the child, checking it is well-formed
    /// frames, until `stop` accepts one (nil: until EOF, the master closed its end).
    func readChild(
        _ fd: FileDescriptor, _ decoder: inout FrameDecoder, until stop: ((Message) -> Bool)?, bytes: [UInt8]
    ) {
        let deadline = monotonicNow() + patience
        while true {
            let left = Int32(max(0, (deadline - monotonicNow()) * 1000))
            guard (try? fd.waitUntil(writable: false, timeoutMilliseconds: left)) == true else {
                if monotonicNow() < deadline { continue }
                fatalError("hang: the master did not \(stop == nil ? "close the child's stream" : "forward the sentinel's hello") within \(patience) s (\(describe(bytes)))")
            }
            guard let chunk = try? fd.read(upTo: 1 << 16), !chunk.isEmpty else {
                if stop != nil { fatalError("the master closed a new child's stream at once") }
                return
            }
            decoder.append(chunk)
            do {
                while let m = try decoder.next() {
                    if tracing { trace("to the child: \(m) \(Value.bytes(Array(m.data.prefix(64))).displayText)") }
                    if let stop, stop(m) { return }
                }
            } catch {
                fatalError("the master wrote a malformed frame to the child: \(error)")
            }
        }
    }

    func sendFromSentinel(_ message: Message) {
        do {
            try sentinelPeer.writeAll(frameBytes(message))
        } catch {
            fatalError("the master closed the sentinel's stream: \(error)")
        }
    }

    /// The sentinel sends a probe to the master's probe handler and waits for
    /// its echo, checking every frame it got meanwhile: only the master speaks
    /// as 0, and to the sentinel only to answer the probe or to report the
    /// loss (DEL_ROUTE) of `lost`, the child it said hello to, exactly once.
    func probe(lost: UInt32?) {
        let nonce = nonce()
        sentinelSent(to: 0)
        sendFromSentinel(
            Message(
                encoding: .raw, dstID: 0, srcID: sentinelID, authID: sentinelID, handle: probeHandle,
                replyTo: sentinelReplyHandle, data: nonce))
        var losses = 0
        let deadline = monotonicNow() + patience
        while true {
            let left = Int32(max(0, (deadline - monotonicNow()) * 1000))
            guard (try? sentinelPeer.waitUntil(writable: false, timeoutMilliseconds: left)) == true else {
                if monotonicNow() < deadline { continue }
                fatalError("the router no longer answers: no reply to the sentinel's probe within \(patience) s")
            }
            guard let chunk = try? sentinelPeer.read(upTo: 1 << 17), !chunk.isEmpty else {
                fatalError("the master closed the sentinel's stream")
            }
            sentinelDecoder.append(chunk)
            do {
                while let m = try sentinelDecoder.next() {
                    guard m.authID == 0 || m.srcID == 0 else { continue }  // forwarded from the child
                    if m.handle == sentinelReplyHandle && m.srcID == 0 && m.data == nonce {
                        if let lost, losses != 1 {
                            fatalError("the sentinel talked to child \(lost) and was told of its loss \(losses) times")
                        }
                        return
                    }
                    let text = String(decoding: m.data, as: UTF8.self)
                    if m.handle == Handle.delRoute && m.srcID == 0 && m.authID == 0 && text == lost.map({ String($0) }) {
                        losses += 1
                        continue
                    }
                    fatalError("the sentinel got a message with the master's authority: \(m) \(Value.bytes(m.data).displayText)")
                }
            } catch {
                fatalError("the master wrote a malformed frame to the sentinel: \(error)")
            }
        }
    }

    func describe(_ bytes: [UInt8]) -> String {
        "input of \(bytes.count) bytes: " + bytes.prefix(64).map { String($0, radix: 16) }.joined(separator: " ")
    }
}
