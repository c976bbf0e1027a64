extension Message {
    /// A message whose data is the pickle of `value`: Mitogen's
    /// `Message.pickled`, encoding `.pickled`. `srcID` and `authID` stay 0:
    /// send it with `Context.send` (which sets both to this router's id) or
    /// set them before `Router.route`.
    public static func pickled(_ value: Value, dstID: UInt32 = 0, handle: UInt32 = 0, replyTo: UInt32 = 0) -> Message {
        Message(encoding: .pickled, dstID: dstID, handle: handle, replyTo: replyTo, data: Pickle.dumps(value))
    }

    /// The pickled value of the data (`Pickle.loads`): one pickle that fills
    /// the data exactly. Raw (`.raw`) messages are unpickled too, as Mitogen's
    /// `unpickle()` does; a payload of several pickles needs `Pickle.loadsAll`.
    /// Dead messages are Core's business: this only decodes.
    /// - Throws: `PickleError` with code `.binaryMessage` for `.binary`
    ///   encoding ("cannot unpickle a binary message"), or the decode error.
    public func decodeValue(limits: PickleLimits = .default) throws(PickleError) -> Value {
        guard encoding != .binary else {
            throw PickleError(.binaryMessage, "cannot unpickle a binary message (\(self))")
        }
        return try Pickle.loads(data, limits: limits)
    }
}
