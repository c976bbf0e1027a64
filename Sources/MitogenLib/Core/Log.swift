import Logging

/// The library's loggers. Everything MitogenLib logs goes through swift-log;
/// in a child, a handler forwards each record to the master (FORWARD_LOG),
/// where it is logged again under `<name>.[<context name>]`.
enum Log {
    static let core = Logger(label: "mitogen")
    static let io = Logger(label: "mitogen.io")
}

func logError(_ text: @autoclosure () -> String) { Log.core.error("\(text())") }
func logWarning(_ text: @autoclosure () -> String) { Log.core.warning("\(text())") }
func logDebug(_ text: @autoclosure () -> String) { Log.core.debug("\(text())") }
