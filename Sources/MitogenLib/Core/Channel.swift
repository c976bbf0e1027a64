public import MitogenWire

/// A `Sender` and a `Receiver` together, for two-way traffic with one peer
/// handle (Mitogen's deprecated `Channel`, which inherits from both). It is
/// usable wherever either is: it sends like a `Sender`, reads and iterates
/// like a `Receiver`, and a `Select` accepts it as a member. Closing it
/// closes the local receiver and sends a dead message to the remote end.
public final class Channel: Sendable {
    public let sender: Sender
    public let receiver: Receiver

    /// - Parameters:
    ///   - context: the peer.
    ///   - dstHandle: the peer's handle to send to.
    ///   - handle: the local handle to receive on (nil for a new one).
    public init(router: Router, context: Context, dstHandle: UInt32, handle: UInt32? = nil) throws(RouterError) {
        sender = Sender(context: context, handle: dstHandle)
        receiver = try Receiver(router: router, handle: handle, respondent: context)
    }

    // MARK: The Sender side

    /// The peer context.
    public var context: Context { sender.context }
    /// The peer's handle this channel sends to.
    public var dstHandle: UInt32 { sender.handle }

    public func send(_ value: Value) { sender.send(value) }
    @_disfavoredOverload  // a literal is a Value, not a throwing encode
    public func send<T: Encodable>(_ value: T) throws { try sender.send(value) }
    public func sendBinary(_ bytes: [UInt8]) { sender.sendBinary(bytes) }

    // MARK: The Receiver side

    /// The local handle this channel receives on.
    public var handle: UInt32 { receiver.handle }
    public var isEmpty: Bool { receiver.isEmpty }
    public var notify: (@Sendable (Receiver) -> Void)? {
        get { receiver.notify }
        set { receiver.notify = newValue }
    }

    public func get(timeout: Double? = nil) throws -> Message { try receiver.get(timeout: timeout) }
    public func get() async throws -> Message { try await receiver.get() }
    public func getData(timeout: Double? = nil) throws -> Value { try receiver.getData(timeout: timeout) }
    public func getData<T: Decodable>(_ type: T.Type, timeout: Double? = nil) throws -> T {
        try receiver.getData(type, timeout: timeout)
    }
    /// A sender for the local handle, to give to a third party.
    public func toSender() -> Sender { receiver.toSender() }

    /// Closes both directions.
    public func close() {
        receiver.close()
        sender.close()
    }
}

extension Channel: Sequence {
    public func makeIterator() -> Receiver.Iterator { receiver.makeIterator() }
}

extension Channel: AsyncSequence {
    public typealias Element = Message
    public func makeAsyncIterator() -> Receiver.AsyncIterator { receiver.makeAsyncIterator() }
}

extension Channel: CustomStringConvertible {
    public var description: String { "Channel(\(sender), \(receiver))" }
}

extension Select {
    /// Adds a channel's receiving side (the seed's `Select.add(recv)` takes a
    /// Receiver or a Channel).
    /// - Throws: `SelectError` if another Select already owns it.
    public func add(_ channel: Channel) throws(SelectError) { try add(channel.receiver) }

    /// Removes a channel added with `add(_:)`.
    /// - Throws: `SelectError` if it is not a member.
    public func remove(_ channel: Channel) throws(SelectError) { try remove(channel.receiver) }

    /// A Select over channels.
    public convenience init(channels: [Channel], oneshot: Bool = true) throws {
        try self.init(channels.map(\.receiver), oneshot: oneshot)
    }
}
