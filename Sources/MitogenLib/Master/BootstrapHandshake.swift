import MitogenCalls
import MitogenCore
import MitogenSys
import MitogenWire
/// The master's side of the first-stage conversation: reads what the target
/// prints until the child is ready, uploading the child on a cache miss.
///
/// Feed it every chunk read from the target's stdout (and, optionally,
/// stderr through ``feedDiagnostics(_:)``) and perform the returned actions
/// in order. It does no I/O itself, so it is driven the same way by the
/// broker, a test or any transport.
///
/// ```swift
/// var handshake = BootstrapHandshake(child: child, preferCompression: true)
/// for action in handshake.feed(bytesFromTarget) {
///     switch action {
///     case .send(let bytes): queueWrite(bytes)
///     case .log(let line): logger.debug("\(line)")
///     case .progress(let sent, let total): publish(sent, total)
///     case .ready(let leftover): startFraming(with: leftover)
///     case .failed(let reason): fail(reason)
///     }
/// }
/// ```
///
/// Protocol (``FirstStage`` prints the other side):
/// - A line starting with `MITOGEN0 ` is the first stage's: `MISS <os> <arch>
///   <formats>` asks for an upload, `WARN <text>` is logged, `ERROR <text>`
///   fails the handshake. Any other line is shell noise (motd, rc files) and
///   is logged. A trailing `\r` (PTY) is ignored.
/// - On `MISS` the target must be the child's platform, else the master
///   answers `ABORT <reason>` and fails with "target is Linux/aarch64 but this
///   master's mitogen-child is built for Linux/x86_64". Otherwise it picks a
///   format (raw, or with `preferCompression` the first of xz, zstd, gzip,
///   raw that the target lists and this host can produce), sends the line
///   `<format> <size>` and the payload in chunks, each followed by a
///   `progress` action.
/// - The line `MITO002` means the child is ready: bytes after it in the same
///   chunk are the first frames, returned in `ready(leftover:)`.
/// - Lines are capped at ``maxLineLength`` bytes, so a target that prints
///   without newlines cannot grow memory; the excess is dropped. The last
///   ``keptLineCount`` lines are kept for the end-of-file error, which reads
///   like Mitogen's "EOF on stream; last 100 lines received:".
///
/// After `ready` or `failed` the handshake is finished and ignores input.
package struct BootstrapHandshake: Sendable {
    /// One thing for the caller to do, in the order returned.
    package enum Action: Sendable, Equatable {
        /// Write these bytes to the target's stdin.
        case send([UInt8])
        /// Record this line (target output that is not part of the protocol, or a warning).
        case log(String)
        /// `sent` of `total` payload bytes have been queued by preceding `send`s.
        case progress(sent: Int, total: Int)
        /// The child is running; `leftover` are the first bytes of its frame stream.
        case ready(leftover: [UInt8])
        /// The bootstrap failed; the text says why. The target should be killed.
        case failed(String)
    }

    /// Where the conversation stands.
    package enum Phase: Sendable, Equatable {
        /// Waiting for `MITOGEN0 MISS` (upload needed) or `MITO002` (cache hit).
        case awaitingStage
        /// The upload was sent; waiting for `MITO002`.
        case awaitingReady
        /// The child is ready; the stream now carries frames.
        case ready
        /// The bootstrap failed.
        case failed
    }

    /// Longest line kept; longer lines are truncated.
    package static let maxLineLength = 64 << 10
    /// How many recent lines the end-of-file error quotes.
    package static let keptLineCount = 100

    package let child: ChildBinary
    package let preferCompression: Bool
    package let chunkSize: Int
    package private(set) var phase = Phase.awaitingStage
    /// The format uploaded, or nil if none was (cache hit, or not yet).
    package private(set) var uploadedFormat: ChildBinary.Format?
    /// Payload bytes queued for sending so far.
    package private(set) var uploadedBytes = 0

    private var stdoutLine = LineAccumulator()
    private var stderrLine = LineAccumulator()
    private var recentLines: [String] = []

    /// - Parameters:
    ///   - child: The executable to upload on a miss; its platform must match the target's.
    ///   - preferCompression: Send a compressed form (slow links such as ssh); when
    ///     false, send raw bytes (a local pipe moves 7 MiB in milliseconds).
    ///   - chunkSize: Payload bytes per `send` action.
    package init(child: ChildBinary, preferCompression: Bool, chunkSize: Int = 256 << 10) {
        precondition(chunkSize > 0, "BootstrapHandshake: chunkSize must be positive")
        self.child = child
        self.preferCompression = preferCompression
        self.chunkSize = chunkSize
    }

    /// Processes bytes read from the target's stdout.
    /// - Returns: What to do, in order; empty once the handshake is finished.
    package mutating func feed(_ bytes: [UInt8]) -> [Action] {
        var actions: [Action] = []
        var start = 0
        while start < bytes.count, phase == .awaitingStage || phase == .awaitingReady {
            guard let newline = bytes[start...].firstIndex(of: 0x0a) else {
                stdoutLine.append(bytes[start...])
                break
            }
            stdoutLine.append(bytes[start..<newline])
            start = newline + 1
            let line = stdoutLine.take()
            handle(line: line, into: &actions)
            if phase == .ready {
                actions.append(.ready(leftover: Array(bytes[start...])))
            }
        }
        return actions
    }

    /// Processes bytes read from the target's stderr: logged line by line and
    /// kept for the end-of-file error, never interpreted.
    package mutating func feedDiagnostics(_ bytes: [UInt8]) -> [Action] {
        var actions: [Action] = []
        var start = 0
        while let newline = bytes[start...].firstIndex(of: 0x0a) {
            stderrLine.append(bytes[start..<newline])
            start = newline + 1
            let line = stderrLine.take()
            remember(line)
            actions.append(.log(line))
        }
        stderrLine.append(bytes[start...])
        return actions
    }

    /// The target closed its stdout. Fails unless the handshake already finished.
    package mutating func eof() -> [Action] {
        guard phase == .awaitingStage || phase == .awaitingReady else { return [] }
        for partial in [stdoutLine.take(), stderrLine.take()] where !partial.isEmpty {
            remember(partial)
        }
        phase = .failed
        return [.failed("EOF on stream; last \(Self.keptLineCount) lines received:\n" + recentLines.joined(separator: "\n"))]
    }

    // MARK: - Lines

    private mutating func handle(line rawLine: String, into actions: inout [Action]) {
        let line = rawLine.hasSuffix("\r") ? String(rawLine.dropLast()) : rawLine
        remember(line)
        if line == BootstrapMarker.readyMarker {
            phase = .ready
            return
        }
        guard line.hasPrefix(BootstrapMarker.linePrefix) else {
            actions.append(.log(line))
            return
        }
        let body = line.dropFirst(BootstrapMarker.linePrefix.count)
        let verb = body.prefix { $0 != " " }
        let text = String(body.dropFirst(verb.count).drop { $0 == " " })
        switch verb {
        case "MISS" where phase == .awaitingStage:
            upload(answering: text, into: &actions)
        case "MISS":
            fail("protocol error: the first stage asked for the child twice", into: &actions)
        case "WARN":
            actions.append(.log("first stage: " + text))
        case "ERROR":
            fail(text, into: &actions)
        default:
            actions.append(.log(line))
        }
    }

    private mutating func remember(_ line: String) {
        recentLines.append(line.utf8.count > 4096 ? String(line.prefix(4096)) + " [...]" : line)
        if recentLines.count > Self.keptLineCount {
            recentLines.removeFirst(recentLines.count - Self.keptLineCount)
        }
    }

    private mutating func fail(_ reason: String, into actions: inout [Action]) {
        phase = .failed
        actions.append(.failed(reason))
    }

    // MARK: - Upload

    /// Answers `MISS <os> <arch> <formats>`.
    private mutating func upload(answering miss: String, into actions: inout [Action]) {
        let words = miss.split(separator: " ")
        guard words.count >= 3 else {
            fail("protocol error: malformed first-stage line \"MITOGEN0 MISS \(miss)\"", into: &actions)
            return
        }
        let target = ChildBinary.Platform(os: String(words[0]), arch: String(words[1]))
        guard target == child.platform else {
            let reason = "target is \(target) but this master's mitogen-child is built for \(child.platform)"
            actions.append(.send(Array("ABORT \(reason)\n".utf8)))
            fail(reason, into: &actions)
            return
        }
        let offered = Set(words[2].split(separator: ",").compactMap { ChildBinary.Format(rawValue: String($0)) })
        let order = preferCompression ? ChildBinary.Format.compressionPreference : [.raw]
        var payload: [UInt8]?
        var format = ChildBinary.Format.raw
        for candidate in order where offered.contains(candidate) || candidate == .raw {
            do {
                payload = try child.form(candidate)
                format = candidate
                break
            } catch {
                actions.append(.log("cannot use the \(candidate.rawValue) form: \(error)"))
            }
        }
        guard let payload else {
            fail("no form of \(child.path) could be prepared for upload", into: &actions)
            return
        }
        uploadedFormat = format
        phase = .awaitingReady
        actions.append(.send(Array("\(format.rawValue) \(payload.count)\n".utf8)))
        var offset = 0
        while offset < payload.count {
            let end = min(offset + chunkSize, payload.count)
            actions.append(.send(Array(payload[offset..<end])))
            offset = end
            uploadedBytes = offset
            actions.append(.progress(sent: offset, total: payload.count))
        }
    }
}

/// Collects one line's bytes, keeping at most ``BootstrapHandshake/maxLineLength``.
private struct LineAccumulator: Sendable {
    private var bytes: [UInt8] = []
    private var truncated = false

    mutating func append(_ more: ArraySlice<UInt8>) {
        let room = BootstrapHandshake.maxLineLength - bytes.count
        if more.count > room {
            bytes.append(contentsOf: more.prefix(room))
            truncated = true
        } else {
            bytes.append(contentsOf: more)
        }
    }

    /// The line so far (lossily decoded), resetting the accumulator.
    mutating func take() -> String {
        var line = String(decoding: bytes, as: UTF8.self)
        if truncated { line += " [line truncated]" }
        bytes.removeAll(keepingCapacity: true)
        truncated = false
        return line
    }
}
