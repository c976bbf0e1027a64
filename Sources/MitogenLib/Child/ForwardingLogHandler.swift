public import Logging
import Synchronization

/// A swift-log handler that sends each record to the master as a
/// FORWARD_LOG message (`"<logger>\0<levelno>\0<text>"`), the way a Mitogen
/// child forwards Python logging. `mitogen.io` records are never forwarded.
public struct ForwardingLogHandler: LogHandler {
    public var metadata: Logger.Metadata = [:]
    public var logLevel: Logger.Level
    let label: String
    let router: Router

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    /// Python's level numbers.
    static func levelNumber(_ level: Logger.Level) -> Int {
        switch level {
        case .trace, .debug: 10
        case .info, .notice: 20
        case .warning: 30
        case .error: 40
        case .critical: 50
        }
    }

    public func log(event: LogEvent) {
        let level = event.level, message = event.message
        guard label != "mitogen.io" else { return }
        let payload = "\(label)\u{0}\(Self.levelNumber(level))\u{0}\(message)"
        var msg = Message(dstID: 0, handle: Handle.forwardLog, data: Array(payload.utf8)).from(router.contextID)
        msg.encoding = .raw
        router.route(msg)
    }
}

extension Logger.Level {
    /// The swift-log level for a Python level number.
    init(pythonLevel: Int) {
        switch pythonLevel {
        case ..<20: self = .debug
        case 20..<30: self = .info
        case 30..<40: self = .warning
        case 40..<50: self = .error
        default: self = .critical
        }
    }
}
