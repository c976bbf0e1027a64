public import MitogenWire
import MitogenSys
/// Context, Sender and CallError cross the wire as Mitogen's own pickled
/// objects, so they can be arguments and results of calls (a `Sender` handed
/// to a function that streams back, a `Context` naming a peer).
///
/// Decoding a Context or Sender needs the router that received it, to return
/// its canonical `Context`: Core's decoders put it in `userInfo[.mitogenRouter]`.
extension CodingUserInfoKey {
    /// The `Router` a `ValueDecoder` resolves contexts against.
    public static let mitogenRouter = CodingUserInfoKey(rawValue: "mitogen.router")!
}

extension Context: ValueConvertible, Codable {
    public var pickleValue: Value { .context(id: contextID, name: name) }

    public convenience init(pickleValue: Value, userInfo: [CodingUserInfoKey: any Sendable]) throws {
        guard case .context(let id, let name) = pickleValue else {
            throw Self.valueMismatch(expected: "mitogen.core.Context", got: pickleValue)
        }
        guard let router = userInfo[.mitogenRouter] as? Router else {
            throw StreamError("invalid message: Cannot unpickle Context: missing router")
        }
        // Return the router's canonical instance by copying its identity.
        let canonical = router.context(byID: id, name: name)
        self.init(router: canonical.router, id: canonical.contextID, name: canonical.name)
    }

    public convenience init(from decoder: any Decoder) throws {
        let value = try Value(from: decoder)
        try self.init(pickleValue: value, userInfo: routerInfo(decoder))
    }

    public func encode(to encoder: any Encoder) throws { try pickleValue.encode(to: encoder) }
}

extension Sender: ValueConvertible, Codable {
    public var pickleValue: Value { .sender(contextID: context.contextID, handle: handle) }

    public init(pickleValue: Value, userInfo: [CodingUserInfoKey: any Sendable]) throws {
        guard case .sender(let id, let handle) = pickleValue else {
            throw Self.valueMismatch(expected: "mitogen.core.Sender", got: pickleValue)
        }
        guard let router = userInfo[.mitogenRouter] as? Router else {
            throw StreamError("invalid message: Cannot unpickle Sender: missing router")
        }
        self.init(context: router.context(byID: id), handle: handle)
    }

    public init(from decoder: any Decoder) throws {
        let value = try Value(from: decoder)
        try self.init(pickleValue: value, userInfo: routerInfo(decoder))
    }

    public func encode(to encoder: any Encoder) throws { try pickleValue.encode(to: encoder) }
}

extension CallError: ValueConvertible, Codable {
    public var pickleValue: Value { .callError(text) }

    public init(pickleValue: Value, userInfo: [CodingUserInfoKey: any Sendable]) throws {
        guard case .callError(let text) = pickleValue else {
            throw Self.valueMismatch(expected: "mitogen.core.CallError", got: pickleValue)
        }
        self.init(text: text)
    }

    public init(from decoder: any Decoder) throws {
        try self.init(pickleValue: Value(from: decoder), userInfo: [:])
    }

    public func encode(to encoder: any Encoder) throws { try pickleValue.encode(to: encoder) }
}

/// The router a decoder carries, as the userInfo `ValueConvertible` wants.
private func routerInfo(_ decoder: any Decoder) -> [CodingUserInfoKey: any Sendable] {
    guard let router = decoder.userInfo[.mitogenRouter] as? Router else { return [:] }
    return [.mitogenRouter: router]
}
