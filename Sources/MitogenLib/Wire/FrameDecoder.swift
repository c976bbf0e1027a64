/// Turns a byte stream, in any chunking, into whole messages.
///
/// Append whatever arrived, then call `next()` until it returns nil. The
/// buffer holds at most one partial frame plus what was appended; consumed
/// bytes are dropped lazily so appending stays amortised O(n).
///
/// Errors are fatal for the stream: after one, the decoder stays failed.
public struct FrameDecoder: Sendable {
    /// Frames with more data than this are refused (Mitogen's `max_message_size`).
    public var maxMessageSize: Int

    private var buffer: [UInt8] = []
    private var start = 0
    private var pendingHeader: MessageHeader?
    private var failure: FrameError?

    public init(maxMessageSize: Int = WireLimits.defaultMaxMessageSize) {
        self.maxMessageSize = maxMessageSize
    }

    /// Bytes received but not yet returned as messages.
    public var bufferedCount: Int { buffer.count - start }

    public mutating func append(_ bytes: some Collection<UInt8>) {
        compactIfWorthIt()
        buffer.append(contentsOf: bytes)
    }

    public mutating func append(_ bytes: UnsafeRawBufferPointer) {
        compactIfWorthIt()
        buffer.append(contentsOf: bytes)
    }

    /// The next whole message, or nil when more bytes are needed.
    /// - Throws: `FrameError.badMagic` or `.tooLarge`; the same error again on every later call.
    public mutating func next() throws(FrameError) -> Message? {
        if let failure { throw failure }
        if pendingHeader == nil {
            guard bufferedCount >= MessageHeader.size else { return nil }
            let result = buffer.withUnsafeBytes { raw in
                Result { () throws(FrameError) in
                    try MessageHeader.parse(UnsafeRawBufferPointer(rebasing: raw[start..<start + MessageHeader.size]))
                }
            }
            let parsed: MessageHeader
            switch result {
            case .success(let header): parsed = header
            case .failure:
                // Report up to 2048 bytes from the bad header on, as Mitogen does.
                failure = .badMagic(Array(buffer[start..<min(buffer.count, start + 2048)]))
                throw failure!
            }
            guard Int(parsed.length) <= maxMessageSize else {
                failure = .tooLarge(got: Int(parsed.length), max: maxMessageSize)
                throw failure!
            }
            start += MessageHeader.size
            pendingHeader = parsed
        }
        let header = pendingHeader!
        let length = Int(header.length)
        guard bufferedCount >= length else { return nil }
        let data = Array(buffer[start..<start + length])
        start += length
        pendingHeader = nil
        if start == buffer.count {
            buffer.removeAll(keepingCapacity: true)
            start = 0
        }
        return Message(
            encoding: header.encoding, dstID: header.dstID, srcID: header.srcID, authID: header.authID,
            handle: header.handle, replyTo: header.replyTo, data: data)
    }

    private mutating func compactIfWorthIt() {
        if start > 0 && start >= buffer.count / 2 {
            buffer.removeSubrange(0..<start)
            start = 0
        }
    }
}
