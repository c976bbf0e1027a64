public import Logging
import Synchronization
import MitogenCalls
import MitogenCore
import MitogenMaster
import MitogenSys
import MitogenWire

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

    public func log(event: LogEvent) {
        let level = event.level, message = event.message
        guard label != "mitogen.io" else { return }
        if level >= .info { RecentLog.shared.append("\(level) \(label): \(message)") }
        let payload = "\(label)\u{0}\(PythonLogLevel.number(level))\u{0}\(message)"
        var msg = Message(dstID: 0, handle: Handle.forwardLog, data: Array(payload.utf8)).from(router.contextID)
        msg.encoding = .raw
        router.route(msg)
    }
}
