public import MitogenWire
import MitogenSys
/// Sends messages to a handle in some context (Mitogen's `Sender`), the
/// other end of a `Receiver`. Senders can be passed to other contexts as
/// call arguments: they pickle as `mitogen.core.Sender(context_id, handle)`.
public struct Sender: Sendable, Hashable {
    public let context: Context
    public let handle: UInt32

    public init(context: Context, handle: UInt32) {
        self.context = context
        self.handle = handle
    }

    /// Sends `value` pickled.
    public func send(_ value: Value) {
        context.send(Message.pickled(value, handle: handle))
    }

    /// Sends an `Encodable` value, pickled.
    public func send<T: Encodable>(_ value: T) throws {
        send(try ValueEncoder().encode(value))
    }

    /// Sends raw bytes with the binary encoding (not unpicklable: for bulk data).
    public func sendBinary(_ bytes: [UInt8]) {
        context.send(Message(encoding: .binary, handle: handle, data: bytes))
    }

    /// Tells the receiving end the channel is finished: its `get` raises
    /// `ChannelError("Sender was explicitly closed")`.
    public func close() {
        context.send(Message.dead(reason: "Sender was explicitly closed", handle: handle))
    }
}

extension Sender: CustomStringConvertible {
    public var description: String { "Sender(\(context.contextID), \(handle))" }
}

/// A `Sender` and a `Receiver` together, for two-way traffic with one peer
/// handle (Mitogen's deprecated `Channel`). Closing it closes the local
/// receiver and sends a dead message to the remote end.
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

    public func send(_ value: Value) { sender.send(value) }
    public func get(timeout: Double? = nil) throws -> Message { try receiver.get(timeout: timeout) }

    public func close() {
        receiver.close()
        sender.close()
    }
}
