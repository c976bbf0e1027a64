package import Logging

/// The library's loggers. Everything MitogenLib logs goes through swift-log;
/// in a child, a handler forwards each record to the master (FORWARD_LOG),
/// where it is logged again under `<name>.[<context name>]`.
package enum Log {
    package static let core = Logger(label: "mitogen")
    package static let io = Logger(label: "mitogen.io")
}

package func logError(_ text: @autoclosure () -> String) { Log.core.error("\(text())") }
package func logWarning(_ text: @autoclosure () -> String) { Log.core.warning("\(text())") }
package func logDebug(_ text: @autoclosure () -> String) { Log.core.debug("\(text())") }

/// Python's logging level numbers, which FORWARD_LOG carries on the wire.
package enum PythonLogLevel {
    package static let debug = 10
    package static let info = 20
    package static let warning = 30
    package static let error = 40
    package static let critical = 50

    /// The number for a swift-log level.
    package static func number(_ level: Logger.Level) -> Int {
        switch level {
        case .trace, .debug: debug
        case .info, .notice: info
        case .warning: warning
        case .error: error
        case .critical: critical
        }
    }
}

extension Logger.Level {
    /// The swift-log level for a Python level number.
    package init(pythonLevel: Int) {
        switch pythonLevel {
        case ..<PythonLogLevel.info: self = .debug
        case ..<PythonLogLevel.warning: self = .info
        case ..<PythonLogLevel.error: self = .warning
        case ..<PythonLogLevel.critical: self = .error
        default: self = .critical
        }
    }

    /// Parses Python's level names (DEBUG, INFO, WARNING, ERROR, CRITICAL); INFO otherwise.
    package init(name: String) {
        switch name {
        case "DEBUG": self = .debug
        case "WARNING", "WARN": self = .warning
        case "ERROR": self = .error
        case "CRITICAL": self = .critical
        case "TRACE": self = .trace
        default: self = .info
        }
    }
}
