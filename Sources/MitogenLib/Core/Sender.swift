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
    @_disfavoredOverload  // a literal is a Value, not a throwing encode
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
