/// Mitogen's standard handle numbers and sentinels (notes/mitogen-wire.md §2).
/// The numbers are the wire contract: they never change.
public enum Handle {
    public static let getModule: UInt32 = 100
    public static let callFunction: UInt32 = 101
    public static let forwardLog: UInt32 = 102
    public static let addRoute: UInt32 = 103
    public static let delRoute: UInt32 = 104
    public static let allocateID: UInt32 = 105
    public static let shutdown: UInt32 = 106
    public static let loadModule: UInt32 = 107
    public static let forwardModule: UInt32 = 108
    public static let detaching: UInt32 = 109
    public static let callService: UInt32 = 110
    public static let stubCallService: UInt32 = 111
    public static let getResource: UInt32 = 112
    public static let loadResource: UInt32 = 113

    /// In `reply_to`, marks a dead message: the sender considers the channel dead.
    public static let isDead: UInt32 = 999
    /// In `reply_to`, no reply is wanted.
    public static let noReply: UInt32 = 0
    /// Dynamically allocated handles start here in every router.
    public static let firstDynamic: UInt32 = 1000
}

/// Limits every stream enforces on frames.
public enum WireLimits {
    /// Mitogen's default `max_message_size`: 128 MiB.
    public static let defaultMaxMessageSize = 134_217_728
    /// Mitogen's read size and socket buffer size.
    public static let chunkSize = 131_072
}
