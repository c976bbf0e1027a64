import CMitogenSys
import Glibc
package import Logging
import Synchronization
import MitogenCalls
import MitogenCore
import MitogenSys
import MitogenWire

/// Sends this process's swift-log output to a file, or to stderr (the seed's
/// `mitogen.utils.log_to_file`).
///
/// The environment overrides the arguments, as in Mitogen:
/// `MITOGEN_LOG_LEVEL` (DEBUG, INFO, WARNING, ERROR) and `MITOGEN_LOG_IO=1`.
/// The first call bootstraps swift-log (allowed once per process); later
/// calls only move the output and change the level.
/// - Parameters:
///   - path: file to append to, or nil for stderr.
///   - io: include the very verbose `mitogen.io` records.
///   - level: minimum level name.
public func logToFile(path: String? = nil, io: Bool = false, level: String = "INFO") {
    let fd: Int32 = path.map { open($0, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o644) } ?? 2
    configureLogSink(fd: fd >= 0 ? fd : 2, io: io, level: level)
}

/// `logToFile` for a file at a predictable name in a shared directory: it
/// must be (or become) a private regular file of this user, never a planted
/// file or symlink; stderr otherwise, with the reason.
package func logToPrivateFile(path: String, level: String) {
    do {
        let fd = try openPrivateAppend(path)
        configureLogSink(fd: fd.rawValue, io: false, level: level)
    } catch {
        configureLogSink(fd: 2, io: false, level: level)
        logError("not logging to \(path): \(error)")
    }
}

private func configureLogSink(fd: Int32, io: Bool, level: String) {
    let levelName = (environmentValue("MITOGEN_LOG_LEVEL") ?? level).uppercased()
    LogSink.shared.configure(fd: fd, level: Logger.Level(name: levelName), io: io || environmentValue("MITOGEN_LOG_IO") == "1")
}

/// Where `logToFile` writes; one per process.
package final class LogSink: Sendable {
    package static let shared = LogSink()
    private struct Config { var fd: Int32 = 2; var level = Logger.Level.info; var io = false; var bootstrapped = false }
    private let config = Lock(Config())

    /// Records that swift-log was bootstrapped elsewhere (the child bootstraps
    /// its forwarding handler itself): `logToFile` then only moves the output,
    /// because a second `LoggingSystem.bootstrap` would stop the process.
    package func markBootstrapped() {
        config.withLock { $0.bootstrapped = true }
    }

    /// Points the sink at `fd`. With `bootstrap`, the first call also makes
    /// swift-log use it (a child bootstraps its own multiplexed handler).
    package func configure(fd: Int32, level: Logger.Level, io: Bool, bootstrap: Bool = true) {
        let mustBootstrap = config.withLock { c -> Bool in
            if c.fd > 2 && c.fd != fd { close(c.fd) }
            c.fd = fd
            c.level = level
            c.io = io
            defer { if bootstrap { c.bootstrapped = true } }
            return bootstrap && !c.bootstrapped
        }
        if mustBootstrap {
            LoggingSystem.bootstrap { label in SinkHandler(label: label, sink: LogSink.shared) }
        }
    }

    func write(label: String, level: Logger.Level, message: String) {
        let (fd, min, io) = config.withLock { ($0.fd, $0.level, $0.io) }
        guard level >= min, io || label != "mitogen.io" else { return }
        let line = "\(formatTime(wallClockNow())) \(level) \(label): \(message)\n"
        _ = line.withCString { Glibc.write(fd, $0, strlen($0)) }
    }

    private func formatTime(_ t: Double) -> String {
        var secs = time_t(t)
        var tm = tm()
        gmtime_r(&secs, &tm)
        func two(_ v: Int32) -> String { v < 10 ? "0\(v)" : "\(v)" }
        let ms = Int((t - t.rounded(.down)) * 1000)
        let msText = ms < 10 ? "00\(ms)" : ms < 100 ? "0\(ms)" : "\(ms)"
        return "\(tm.tm_year + 1900)-\(two(tm.tm_mon + 1))-\(two(tm.tm_mday)) \(two(tm.tm_hour)):\(two(tm.tm_min)):\(two(tm.tm_sec)).\(msText)"
    }
}

/// The swift-log handler that writes through a `LogSink`.
package struct SinkHandler: LogHandler {
    let label: String
    let sink: LogSink

    package init(label: String, sink: LogSink) {
        self.label = label
        self.sink = sink
    }
    package var metadata: Logger.Metadata = [:]
    package var logLevel: Logger.Level = .trace

    package subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    package func log(event: LogEvent) {
        sink.write(label: label, level: event.level, message: "\(event.message)")
    }
}
