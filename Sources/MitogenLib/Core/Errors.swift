import MitogenWire
import MitogenSys
/// The errors of the seed (`mitogen.core.Error` and its family), Swift-style.
///
/// Every error MitogenLib raises to callers conforms to `MitogenError`, the
/// counterpart of `mitogen.core.Error`, so `catch let e as any MitogenError`
/// catches them all. Each prints a sentence that says what failed and why.
public protocol MitogenError: Error, Sendable, CustomStringConvertible {}

/// A function call failed in the remote context: its exception type, message
/// and remote traceback, as Mitogen formats them
/// (`"<module>.<type>: <message>\n<trace>"`).
public struct CallError: MitogenError, Equatable {
    /// Qualified exception type, e.g. `"builtins.FileNotFoundError"`.
    public var type: String
    public var message: String
    /// Remote trace lines (may be empty).
    public var trace: String
    /// The context that raised it as this process names it (`Context.name`,
    /// e.g. `"worker"`), set when the reply came to a receiver with a known
    /// respondent. The trace names the context as it calls itself (by
    /// default `user@host:pid` of its master), which an operator who opened
    /// it as `worker` would not recognise.
    public var context: String?

    public init(type: String, message: String, trace: String = "", context: String? = nil) {
        self.type = type
        self.message = message
        self.trace = trace
        self.context = context
    }

    /// Parses Mitogen's text form: first line `type: message`, the rest the trace.
    public init(text: String) {
        let firstLine: Substring
        let rest: Substring
        if let nl = text.firstIndex(of: "\n") {
            firstLine = text[..<nl]
            rest = text[text.index(after: nl)...]
        } else {
            firstLine = Substring(text)
            rest = ""
        }
        if let colon = firstLine.indices.first(where: {
            firstLine[$0] == ":" && firstLine.index(after: $0) < firstLine.endIndex
                && firstLine[firstLine.index(after: $0)] == " "
        }) {
            type = String(firstLine[..<colon])
            message = String(firstLine[firstLine.index(colon, offsetBy: 2)...])
        } else {
            type = String(firstLine)
            message = ""
        }
        trace = String(rest)
    }

    /// Mitogen's wire text: `type: message` plus `"\n" + trace` when there is one.
    public var text: String { trace.isEmpty ? "\(type): \(message)" : "\(type): \(message)\n\(trace)" }

    /// ``text`` with the context named as this process knows it: the
    /// trace's `context <self-name> (id N, pid P)` becomes
    /// `context worker (id N, pid P)`, or a line is added when the trace
    /// names none.
    public var description: String {
        guard let context else { return text }
        var lines = trace.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        if let i = lines.firstIndex(where: { $0.hasPrefix("  in ") && $0.contains(", context ") }),
            let start = lines[i].firstRange(of: ", context "),
            let end = lines[i][start.upperBound...].firstRange(of: " (id ")
        {
            lines[i].replaceSubrange(start.upperBound..<end.lowerBound, with: context)
            return "\(type): \(message)\n" + lines.joined(separator: "\n")
        }
        return text + (text.hasSuffix("\n") ? "" : "\n") + "  in context \(context)"
    }
}

/// A channel is dead: the remote end closed it, its context disconnected, or
/// the local receiver was closed. `reason` is Mitogen's text.
public struct ChannelError: MitogenError, Equatable {
    public var reason: String
    /// The context the channel led to, as this process names it
    /// (`Context.name`), when the receiver had a respondent.
    public var context: String?
    public init(_ reason: String, context: String? = nil) {
        self.reason = reason
        self.context = context
    }
    /// Mitogen's text, then the context it concerns when known:
    /// `the respondent Context has disconnected (context worker, id 3)`.
    public var description: String { context.map { "\(reason) (context \($0))" } ?? reason }

    static let localEnd = "Channel closed by local end."
    static let remoteEnd = "Channel closed by remote end."
    static let receiverClosed = "the Receiver has been closed"
    package static let brokerExited = "Broker has exitted"
    static let respondentDisconnected = "the respondent Context has disconnected"
}

/// A `Latch` was closed while (or before) waiting on it.
public struct LatchError: MitogenError, Equatable {
    public init() {}
    public var description: String { "the Latch has been closed" }
}

/// A wait ran out of time. (Mitogen's `TimeoutError`; its text there is `None`.)
public struct TimeoutError: MitogenError, Equatable {
    public var operation: String
    public init(_ operation: String = "wait") { self.operation = operation }
    public var description: String { "\(operation) timed out" }
}

/// A stream (connection) failed: a bad frame or message, a connection that
/// could not be made, a wrong password, an unknown host key.
///
/// The seed's `PasswordError`, `HostKeyError`, `EofError` and `CancelledError`
/// are kinds of `StreamError`, as they subclass it in Mitogen.
public struct StreamError: MitogenError, Equatable {
    public struct Kind: Hashable, Sendable, CustomStringConvertible {
        fileprivate enum Code: String { case stream, password, hostKey, eof, cancelled, timeout, refused }
        fileprivate let code: Code
        public static let stream = Kind(code: .stream)
        /// A password was needed and missing, or it was wrong (`PasswordError`).
        public static let password = Kind(code: .password)
        /// A host key was unknown or did not match (`HostKeyError`).
        public static let hostKey = Kind(code: .hostKey)
        /// The connection ended before the child was ready (`EofError`).
        public static let eof = Kind(code: .eof)
        /// The broker began to shut down during the connection (`CancelledError`).
        public static let cancelled = Kind(code: .cancelled)
        /// `connect_timeout` elapsed ("Connection timed out.").
        public static let timeout = Kind(code: .timeout)
        /// The target cannot run the child (wrong OS/arch, no /proc, noexec, bad cache dir).
        public static let refused = Kind(code: .refused)
        public var description: String { code.rawValue }
    }

    public var kind: Kind
    public var message: String

    public init(_ message: String, kind: Kind = .stream) {
        self.message = message
        self.kind = kind
    }

    public var description: String { message }
}
