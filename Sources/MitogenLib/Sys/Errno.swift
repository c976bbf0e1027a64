import CMitogenSys
import Glibc

/// A C `errno` value, read once right after the call that set it
/// (STYLE.md habit 2).
///
/// The description is the C library's `strerror` text, which is also what
/// Python prints in `[Errno 2] No such file or directory`.
package struct Errno: Error, Equatable, Hashable, Sendable, CustomStringConvertible {
    package let rawValue: Int32

    package init(rawValue: Int32) { self.rawValue = rawValue }

    /// The calling thread's current `errno`.
    package static var current: Errno { Errno(rawValue: Glibc.errno) }

    package static let interrupted = Errno(rawValue: EINTR)
    package static let wouldBlock = Errno(rawValue: EAGAIN)
    package static let badFileDescriptor = Errno(rawValue: EBADF)
    package static let badAddress = Errno(rawValue: EFAULT)
    package static let noSuchFile = Errno(rawValue: ENOENT)
    package static let noSuchProcess = Errno(rawValue: ESRCH)
    package static let brokenPipe = Errno(rawValue: EPIPE)
    package static let connectionReset = Errno(rawValue: ECONNRESET)
    package static let ioError = Errno(rawValue: EIO)
    package static let noChild = Errno(rawValue: ECHILD)

    /// `strerror_r(rawValue)`, e.g. `"No such file or directory"`.
    package var description: String { Errno.text(rawValue) }

    /// The C library's message for `code`.
    package static func text(_ code: Int32) -> String {
        withUnsafeTemporaryAllocation(of: CChar.self, capacity: 256) { buffer in
            mitogen_strerror(code, buffer.baseAddress!, buffer.count)
            return String(cString: buffer.baseAddress!)
        }
    }
}

/// A failed system call as the API reports it: which operation on what, and
/// the errno it ended with.
///
/// `description` reads `"exec /nope: No such file or directory (errno 2)"`.
public struct SystemError: Error, Sendable, CustomStringConvertible, Equatable {
    /// The operation and its argument, e.g. `"read fd 7"`, `"exec /usr/bin/x"`.
    public let operation: String
    /// The C `errno`.
    public let errno: Int32
    /// The file the operation was about, when there is one (`exec`, `chdir`,
    /// `open`): what Python puts after the colon of an `OSError`.
    public let path: String?

    public init(_ operation: String, errno: Int32, path: String? = nil) {
        self.operation = operation
        self.errno = errno
        self.path = path
    }

    package init(_ operation: String, _ errno: Errno, path: String? = nil) {
        self.init(operation, errno: errno.rawValue, path: path)
    }

    public var description: String { "\(operation): \(Errno.text(errno)) (errno \(errno))" }
}

/// The one place a libc call's `-1` becomes an `Errno` (STYLE.md habit 2).
///
/// Runs `body`; a result of `-1` reads `errno` at once. `EINTR` is retried
/// when `retryOnInterrupt` is set. `EBADF` and `EFAULT` mean we passed a
/// closed descriptor or a bad pointer: our bug, so they trap.
package func valueOrErrno<T: FixedWidthInteger>(retryOnInterrupt: Bool = true, _ body: () -> T) -> Result<T, Errno> {
    while true {
        let value = body()
        guard value == -1 else { return .success(value) }
        let error = Errno.current
        if error == .interrupted && retryOnInterrupt { continue }
        precondition(error != .badFileDescriptor, "system call on a bad file descriptor (EBADF): a bug in MitogenLib")
        precondition(error != .badAddress, "system call with a bad address (EFAULT): a bug in MitogenLib")
        return .failure(error)
    }
}

/// `valueOrErrno` for calls whose failure the API throws as `SystemError`.
///
/// - Parameter operation: names the call and its argument for the error text,
///   built only on failure.
/// - Throws: `SystemError(operation, errno)`.
package func systemCall<T: FixedWidthInteger>(
    _ operation: @autoclosure () -> String, path: String? = nil, _ body: () -> T
) throws(SystemError) -> T {
    switch valueOrErrno(body) {
    case .success(let value): return value
    case .failure(let error): throw SystemError(operation(), error, path: path)
    }
}
