package import CMitogenSys
import Glibc

/// An open Unix file descriptor: a typed `Int32` whose methods each wrap one
/// libc call (`read`, `write`, `close`, `fcntl`, `pipe2`, `socketpair`, `open`).
///
/// The value does not own the descriptor: whoever opened it calls `close()`
/// exactly once. Closing twice is a bug and traps (EBADF).
package struct FileDescriptor: Hashable, Sendable, CustomStringConvertible {
    package let rawValue: Int32

    package init(rawValue: Int32) { self.rawValue = rawValue }

    package static let standardInput = FileDescriptor(rawValue: 0)
    package static let standardOutput = FileDescriptor(rawValue: 1)
    package static let standardError = FileDescriptor(rawValue: 2)

    package var description: String { "fd \(rawValue)" }

    /// How much one read asks of a pipe or socket outside the Broker's
    /// streams (a Linux pipe holds 64 KiB by default).
    package static let pipeChunkSize = 64 << 10
}

/// The outcome of a read or write on a descriptor that may be non-blocking:
/// "would block" and "the other end is gone" are values, not errors
/// (STYLE.md habit 2).
package enum IOResult: Equatable, Sendable {
    /// This many bytes moved (never 0).
    case bytes(Int)
    /// A non-blocking descriptor has no data (read) or no room (write) now.
    case wouldBlock
    /// End of stream: a read returned 0, or the peer is gone (EIO on a PTY
    /// master whose slave closed, ECONNRESET, EPIPE).
    case eof
}

extension FileDescriptor {
    /// Reads up to `buffer.count` bytes with `read(2)`.
    ///
    /// `EINTR` is retried; `EAGAIN` is `.wouldBlock`; a 0 return, `EIO` (PTY
    /// master after the slave side closed) and `ECONNRESET` are `.eof`.
    /// An empty buffer returns `.bytes(0)` only if the kernel says so.
    /// - Throws: `SystemError("read fd N", errno)` for any other failure.
    package func read(into buffer: UnsafeMutableRawBufferPointer) throws(SystemError) -> IOResult {
        switch valueOrErrno({ Glibc.read(rawValue, buffer.baseAddress, buffer.count) }) {
        case .success(0): return .eof
        case .success(let n): return .bytes(n)
        case .failure(let e) where e == .wouldBlock: return .wouldBlock
        case .failure(let e) where e == .ioError || e == .connectionReset: return .eof
        case .failure(let e): throw SystemError("read \(self)", e)
        }
    }

    /// Writes up to `buffer.count` bytes with `write(2)`.
    ///
    /// `EINTR` is retried; `EAGAIN` is `.wouldBlock`; `EPIPE`, `ECONNRESET`
    /// and `EIO` (PTY with no slave) are `.eof`. SIGPIPE must be ignored by
    /// the process for `EPIPE` to be seen rather than killing it.
    /// - Throws: `SystemError("write fd N", errno)` for any other failure.
    package func write(_ buffer: UnsafeRawBufferPointer) throws(SystemError) -> IOResult {
        switch valueOrErrno({ Glibc.write(rawValue, buffer.baseAddress, buffer.count) }) {
        case .success(let n): return .bytes(n)
        case .failure(let e) where e == .wouldBlock: return .wouldBlock
        case .failure(let e) where e == .brokenPipe || e == .connectionReset || e == .ioError: return .eof
        case .failure(let e): throw SystemError("write \(self)", e)
        }
    }

    /// Reads up to `count` bytes, waiting with `poll(2)` when a non-blocking
    /// descriptor has nothing yet.
    /// - Returns: the bytes read; empty at end of stream.
    /// - Throws: `SystemError("read fd N", errno)`.
    package func read(upTo count: Int) throws(SystemError) -> [UInt8] {
        var buffer = [UInt8](repeating: 0, count: count)
        while true {
            let attempt = buffer.withUnsafeMutableBytes { raw in
                Result { () throws(SystemError) -> IOResult in try read(into: raw) }
            }
            switch try attempt.get() {
            case .bytes(let n):
                if n < count { buffer.removeSubrange(n...) }
                return buffer
            case .eof: return []
            case .wouldBlock: _ = try waitUntil(writable: false, timeoutMilliseconds: -1)
            }
        }
    }

    /// Reads exactly `count` bytes.
    /// - Returns: the bytes, or nil when the stream ends first.
    /// - Throws: `SystemError("read fd N", errno)`.
    package func read(exactly count: Int) throws(SystemError) -> [UInt8]? {
        var out: [UInt8] = []
        out.reserveCapacity(count)
        while out.count < count {
            let chunk = try read(upTo: count - out.count)
            if chunk.isEmpty { return nil }
            out += chunk
        }
        return out
    }

    /// Writes every byte of `bytes`, waiting with `poll(2)` when a
    /// non-blocking descriptor is full. For small control writes, not for the
    /// Broker's streams.
    /// - Throws: `SystemError("write fd N", EPIPE)` when the reader is gone
    ///   before everything was written, or the error of `write`/`poll`.
    package func writeAll(_ bytes: [UInt8]) throws(SystemError) {
        var offset = 0
        while offset < bytes.count {
            let attempt = bytes.withUnsafeBytes { all in
                Result { () throws(SystemError) -> IOResult in try write(UnsafeRawBufferPointer(rebasing: all[offset...])) }
            }
            switch try attempt.get() {
            case .bytes(let n): offset += n
            case .wouldBlock: _ = try waitUntil(writable: true, timeoutMilliseconds: -1)
            case .eof: throw SystemError("write \(self)", .brokenPipe)
            }
        }
    }

    /// Waits with `poll(2)` until the descriptor is readable (or writable),
    /// or the timeout (-1: none) passes.
    /// - Returns: false on timeout or when a signal interrupted the wait.
    /// - Throws: `SystemError("poll fd N", errno)`.
    package func waitUntil(writable: Bool, timeoutMilliseconds: Int32) throws(SystemError) -> Bool {
        var entry = pollfd(fd: rawValue, events: Int16(writable ? POLLOUT : POLLIN), revents: 0)
        switch valueOrErrno(retryOnInterrupt: false, { poll(&entry, 1, timeoutMilliseconds) }) {
        case .success(let n): return n > 0
        case .failure(let e) where e == .interrupted: return false
        case .failure(let e): throw SystemError("poll \(self)", e)
        }
    }

    /// Closes the descriptor with `close(2)`.
    ///
    /// `EINTR` is ignored: on Linux the descriptor is released anyway, and
    /// retrying could close a descriptor another thread just opened.
    /// Traps on `EBADF`: closing what is not open is a bug.
    package func close() {
        if Glibc.close(rawValue) == -1 {
            let error = Errno.current
            precondition(error != .badFileDescriptor, "close of \(self), which is not open (EBADF): a bug in MitogenLib")
        }
    }

    /// Sets or clears `O_NONBLOCK` with `fcntl(F_GETFL/F_SETFL)`.
    /// - Throws: `SystemError("set O_NONBLOCK on fd N", errno)`.
    package func setNonBlocking(_ on: Bool) throws(SystemError) {
        let flags = try systemCall("get flags of \(self)") { fcntl(rawValue, F_GETFL) }
        let wanted = on ? flags | O_NONBLOCK : flags & ~O_NONBLOCK
        guard wanted != flags else { return }
        _ = try systemCall("set O_NONBLOCK=\(on) on \(self)") { fcntl(rawValue, F_SETFL, wanted) }
    }

    /// Sets or clears `FD_CLOEXEC` with `fcntl(F_GETFD/F_SETFD)`.
    /// - Throws: `SystemError("set FD_CLOEXEC on fd N", errno)`.
    package func setCloseOnExec(_ on: Bool) throws(SystemError) {
        let flags = try systemCall("get descriptor flags of \(self)") { fcntl(rawValue, F_GETFD) }
        let wanted = on ? flags | FD_CLOEXEC : flags & ~FD_CLOEXEC
        guard wanted != flags else { return }
        _ = try systemCall("set FD_CLOEXEC=\(on) on \(self)") { fcntl(rawValue, F_SETFD, wanted) }
    }

    /// True when `FD_CLOEXEC` is set (`fcntl(F_GETFD)`).
    /// - Throws: `SystemError("get descriptor flags of fd N", errno)`.
    package func isCloseOnExec() throws(SystemError) -> Bool {
        let flags = try systemCall("get descriptor flags of \(self)") { fcntl(rawValue, F_GETFD) }
        return flags & FD_CLOEXEC != 0
    }

    /// A new pipe from `pipe2(O_CLOEXEC)`; both ends blocking.
    /// - Throws: `SystemError("pipe", errno)` (EMFILE when out of descriptors).
    package static func pipe() throws(SystemError) -> (read: FileDescriptor, write: FileDescriptor) {
        var fds: [Int32] = [-1, -1]
        _ = try systemCall("pipe") { mitogen_pipe_cloexec(&fds) }
        return (FileDescriptor(rawValue: fds[0]), FileDescriptor(rawValue: fds[1]))
    }

    /// A connected pair from `socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC)`.
    /// - Throws: `SystemError("socketpair", errno)`.
    package static func socketPair() throws(SystemError) -> (FileDescriptor, FileDescriptor) {
        var fds: [Int32] = [-1, -1]
        _ = try systemCall("socketpair") {
            socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0, &fds)
        }
        return (FileDescriptor(rawValue: fds[0]), FileDescriptor(rawValue: fds[1]))
    }

    /// Opens `path` with `open(2)`; `O_CLOEXEC` is always added.
    /// - Parameters:
    ///   - flags: `O_RDONLY`, `O_WRONLY | O_CREAT | O_TRUNC`, ...
    ///   - mode: permissions for a created file, before the umask.
    /// - Throws: `SystemError("open <path>", errno, path: path)`.
    package static func open(_ path: String, flags: Int32, mode: mode_t = 0o644) throws(SystemError) -> FileDescriptor {
        let fd = try systemCall("open \(path)", path: path) { Glibc.open(path, flags | O_CLOEXEC, mode) }
        return FileDescriptor(rawValue: fd)
    }
}
