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

// MARK: Text from peers

/// Most UTF-8 bytes of one log record taken from a peer (a child's log line,
/// its stderr): longer text is cut with a marker.
package let maxLogRecordBytes = 64 << 10

/// Bytes kept free for the cut marker (`" … [cut: N more bytes]"`).
private let cutMarkerReserve = 48

/// The visible escape for a scalar that must not reach a terminal or a log
/// file as it is, or nil when it may: C0 controls but tab, DEL, C1 controls,
/// the Unicode line and paragraph separators and the bidi overrides
/// (which reorder what a terminal shows).
private func logEscape(_ scalar: Unicode.Scalar) -> String? {
    switch scalar.value {
    case 0x09: return nil
    case 0x0A: return "\\n"
    case 0x0D: return "\\r"
    case 0x00...0x1F, 0x7F:
        let hex = String(scalar.value, radix: 16)
        return "\\x" + (hex.count < 2 ? "0" + hex : hex)
    case 0x80...0x9F, 0x2028, 0x2029, 0x202A...0x202E, 0x2066...0x2069:
        return "\\u{" + String(scalar.value, radix: 16) + "}"
    default: return nil
    }
}

/// Text a peer sent, made safe to log and to keep: every control character
/// except tab becomes a visible escape (`\n`, `\r`, `\x1b`, `\u{2028}`), so
/// a child can neither forge log lines nor send escape sequences to the
/// operator's terminal; and the result is at most `limit` UTF-8 bytes, cut
/// with the marker `" … [cut: N more bytes]"` (N counts the peer's bytes
/// not shown). Invalid UTF-8 becomes U+FFFD.
package func sanitizedForLog(utf8 bytes: some Collection<UInt8>, limit: Int = maxLogRecordBytes) -> String {
    let limit = max(limit, cutMarkerReserve * 2)
    // Never decode more than `limit` bytes of a large input.
    let head = String(decoding: bytes.prefix(limit), as: UTF8.self)
    let budget = limit - cutMarkerReserve
    var out = ""
    out.reserveCapacity(min(head.utf8.count, limit))
    var consumed = 0
    var cut = false
    for scalar in head.unicodeScalars {
        let escaped = logEscape(scalar)
        let size = escaped?.utf8.count ?? scalar.utf8.count
        if out.utf8.count + size > budget {
            cut = true
            break
        }
        if let escaped { out += escaped } else { out.unicodeScalars.append(scalar) }
        consumed += scalar.utf8.count
    }
    let total = bytes.count
    if cut || total > consumed && total > limit {
        out += " … [cut: \(max(0, total - consumed)) more bytes]"
    }
    return out
}

/// `sanitizedForLog(utf8:limit:)` for a `String`; returns `text` itself when
/// it is short and has nothing to escape.
package func sanitizedForLog(_ text: String, limit: Int = maxLogRecordBytes) -> String {
    if text.utf8.count <= limit && !text.unicodeScalars.contains(where: { logEscape($0) != nil }) { return text }
    return sanitizedForLog(utf8: text.utf8, limit: limit)
}
