public import MitogenWire
import MitogenSys
/// The seed's Message API that needs Core: typed `router`/`receiver`,
/// `unpickle(throw:)` and `reply(...)`.
extension Message {
    /// The router that delivered this message; nil for locally built messages.
    public var router: Router? {
        get { routerRef as? Router }
        set { routerRef = newValue }
    }

    /// The receiver this message last arrived on (set by `Receiver` and `Select`).
    public var receiver: Receiver? {
        get { receiverRef as? Receiver }
        set { receiverRef = newValue }
    }

    /// The data as a `Value`.
    /// - Parameter throw: if true (the default), a `CallError` payload is thrown.
    /// - Throws: `ChannelError` for a dead message, `CallError` (when `throw`),
    ///   `StreamError("invalid message: ...")` for data that does not decode.
    public func unpickle(throw: Bool = true) throws -> Value {
        if isDead { throw ChannelError(deadText) }
        let value: Value
        do {
            value = try decodeValue()
        } catch {
            throw StreamError("invalid message: \(error)")
        }
        if `throw`, case .callError(let text) = value {
            var error = CallError(text: text)
            error.context = receiver?.respondent?.name
            throw error
        }
        return value
    }

    /// Decodes the data into `T` (throwing a remote `CallError` as such).
    public func unpickle<T: Decodable>(_ type: T.Type = T.self) throws -> T {
        let value = try unpickle(throw: true)
        var decoder = ValueDecoder()
        if let router { decoder.userInfo[.mitogenRouter] = router }
        return try decoder.decode(T.self, from: value)
    }

    /// The text of a dead message: its reason, or Mitogen's default when empty.
    var deadText: String {
        if !data.isEmpty { return deadReason }
        if let router, router.contextID == srcID { return ChannelError.localEnd }
        return ChannelError.remoteEnd
    }

    /// Sends `value`, pickled, as the reply to this message (Mitogen's
    /// `Message.reply(obj, router=None, **kwargs)`).
    ///
    /// The reply goes to `srcID`'s `replyTo` handle. `overrides` then may
    /// change any field, as Mitogen's `kwargs` do (for example a `replyTo`
    /// of its own, to continue a conversation). Nothing is sent when the
    /// resulting handle is 0 (no reply was asked for) or this message is dead.
    /// - Parameter router: the router to use when this message has none.
    public func reply(_ value: Value, router: Router? = nil, overrides: (inout Message) -> Void = { _ in }) {
        reply(message: Message.pickled(value), router: router, overrides: overrides)
    }

    /// Sends `message` as the reply: its destination and handle are
    /// overwritten as for ``reply(_:router:overrides:)``, then `overrides` run.
    public func reply(message: Message, router: Router? = nil, overrides: (inout Message) -> Void = { _ in }) {
        guard !isDead, let r = router ?? self.router else { return }
        var m = message
        m.dstID = srcID
        m.handle = replyTo
        m.srcID = r.contextID
        m.authID = r.contextID
        overrides(&m)
        guard m.handle != 0 else { return }
        r.route(m)
    }

    /// Sends an `Encodable` reply.
    @_disfavoredOverload  // a literal is a Value, not a throwing encode
    public func reply<T: Encodable>(_ value: T, router: Router? = nil) throws {
        reply(try ValueEncoder().encode(value), router: router)
    }
}
