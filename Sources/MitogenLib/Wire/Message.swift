/// One frame of the Mitogen protocol: header fields plus data.
///
/// A value type: copying a message is cheap (the data buffer is shared until
/// written). `router` and `receiver` of the seed are set by Core on ingress
/// and kept here as opaque references, so the wire layer knows nothing of
/// Core (DESIGN §2); Core exposes them typed.
public struct Message: Sendable {
    public var encoding: MessageEncoding
    /// Target context.
    public var dstID: UInt32
    /// Origin context; replies go here.
    public var srcID: UInt32
    /// The context under whose authority the message acts (normally `srcID`).
    public var authID: UInt32
    /// Target handle in the destination context.
    public var handle: UInt32
    /// Handle for the reply; `Handle.noReply` (0) for none, `Handle.isDead` for a dead message.
    public var replyTo: UInt32
    public var data: [UInt8]

    /// Core's router that delivered this message (opaque at this layer).
    package var routerRef: (any AnyObject & Sendable)?
    /// Core's receiver this message last arrived on (opaque at this layer).
    package var receiverRef: (any AnyObject & Sendable)?

    public init(
        encoding: MessageEncoding = .raw, dstID: UInt32 = 0, srcID: UInt32 = 0, authID: UInt32 = 0,
        handle: UInt32 = 0, replyTo: UInt32 = 0, data: [UInt8] = []
    ) {
        self.encoding = encoding
        self.dstID = dstID
        self.srcID = srcID
        self.authID = authID
        self.handle = handle
        self.replyTo = replyTo
        self.data = data
    }

    /// True if `replyTo` is `Handle.isDead`: the sender considers the channel dead.
    public var isDead: Bool { replyTo == Handle.isDead }

    /// A dead message carrying `reason` (UTF-8, possibly empty), raw-encoded as Mitogen sends it.
    public static func dead(reason: String = "", dstID: UInt32 = 0, handle: UInt32 = 0) -> Message {
        Message(encoding: .raw, dstID: dstID, handle: handle, replyTo: Handle.isDead, data: Array(reason.utf8))
    }

    /// The reason text of a dead message.
    public var deadReason: String { String(decoding: data, as: UTF8.self) }

    public var header: MessageHeader {
        MessageHeader(
            encoding: encoding, dstID: dstID, srcID: srcID, authID: authID,
            handle: handle, replyTo: replyTo, length: UInt32(truncatingIfNeeded: data.count))
    }

    /// The frame bytes: header then data.
    /// - Throws: `FrameError.tooLarge` if the data exceeds `maxMessageSize`.
    public func frame(maxMessageSize: Int = WireLimits.defaultMaxMessageSize) throws(FrameError) -> [UInt8] {
        guard data.count <= maxMessageSize else { throw .tooLarge(got: data.count, max: maxMessageSize) }
        var out: [UInt8] = []
        out.reserveCapacity(MessageHeader.size + data.count)
        header.write(to: &out)
        out.append(contentsOf: data)
        return out
    }
}

extension Message: CustomStringConvertible {
    public var description: String {
        "Message(\(dstID) <- \(srcID) auth \(authID), handle \(handle), reply_to \(replyTo), "
            + "\(encoding), \(data.count) bytes)"
    }
}
