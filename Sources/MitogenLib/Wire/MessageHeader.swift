/// How a message's data is encoded: the first header field.
///
/// Mitogen 0.3.54 accepts three markers; anything else is corruption.
public enum MessageEncoding: UInt16, Sendable {
    /// `0x4d49` "MI": raw bytes (legacy marker; control messages and dead messages use it).
    case raw = 0x4d49
    /// `0x4d4a` "MJ": a pickle (calls, replies, `Sender.send`).
    case pickled = 0x4d4a
    /// `0x4d4b` "MK": raw binary that must not be unpickled.
    case binary = 0x4d4b
}

/// The 26-byte big-endian header of every frame, Mitogen's `>hLLLLLL`.
public struct MessageHeader: Sendable, Equatable {
    public static let size = 26

    public var encoding: MessageEncoding
    public var dstID: UInt32
    public var srcID: UInt32
    public var authID: UInt32
    public var handle: UInt32
    public var replyTo: UInt32
    public var length: UInt32

    public init(
        encoding: MessageEncoding, dstID: UInt32, srcID: UInt32, authID: UInt32,
        handle: UInt32, replyTo: UInt32, length: UInt32
    ) {
        self.encoding = encoding
        self.dstID = dstID
        self.srcID = srcID
        self.authID = authID
        self.handle = handle
        self.replyTo = replyTo
        self.length = length
    }

    /// Appends the 26 header bytes to `out`.
    public func write(to out: inout [UInt8]) {
        out.reserveCapacity(out.count + Self.size)
        appendBE(encoding.rawValue, to: &out)
        for field in [dstID, srcID, authID, handle, replyTo, length] { appendBE(field, to: &out) }
    }

    /// Parses a header from exactly 26 bytes at `bytes[offset...]`.
    /// - Throws: `FrameError.badMagic` when the first field is no known marker.
    public static func parse(_ bytes: UnsafeRawBufferPointer) throws(FrameError) -> MessageHeader {
        precondition(bytes.count >= size, "MessageHeader.parse needs 26 bytes")
        func u32(_ at: Int) -> UInt32 {
            UInt32(bytes[at]) << 24 | UInt32(bytes[at + 1]) << 16 | UInt32(bytes[at + 2]) << 8 | UInt32(bytes[at + 3])
        }
        let marker = UInt16(bytes[0]) << 8 | UInt16(bytes[1])
        guard let encoding = MessageEncoding(rawValue: marker) else {
            throw FrameError.badMagic(Array(bytes.prefix(2048)))
        }
        return MessageHeader(
            encoding: encoding, dstID: u32(2), srcID: u32(6), authID: u32(10),
            handle: u32(14), replyTo: u32(18), length: u32(22))
    }
}

@inline(__always)
func appendBE<T: FixedWidthInteger>(_ value: T, to out: inout [UInt8]) {
    var v = value.bigEndian
    withUnsafeBytes(of: &v) { out.append(contentsOf: $0) }
}

/// Why a byte stream is not a valid sequence of frames. Either is fatal for
/// the stream: Mitogen disconnects it (notes/mitogen-wire.md §1).
public enum FrameError: Error, Equatable, CustomStringConvertible {
    /// The first two bytes of a header are not a known encoding marker; the
    /// payload holds up to 2048 bytes received from that point.
    case badMagic([UInt8])
    /// A frame claims more data than the stream's maximum message size.
    case tooLarge(got: Int, max: Int)

    public var description: String {
        switch self {
        case .badMagic(let bytes):
            "Corruption detected: frame signature incorrect. This likely means some external process is "
                + "interfering with the connection. Received:\n\n\(Value.bytesRepr(bytes))"
        case .tooLarge(let got, let max):
            "Maximum message size exceeded (got \(got), max \(max))"
        }
    }
}
