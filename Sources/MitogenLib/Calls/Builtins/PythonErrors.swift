import CMitogenSys
import Glibc
import MitogenCore
import MitogenSys
import MitogenWire

/// Python's texts for failures, so a builtin fails the way CPython would
/// (PEP 3151's errno-to-class mapping, `[Errno N] text: 'path'` messages).
enum PythonErrors {
    /// The `OSError` subclass CPython raises for `errno` (PEP 3151).
    static func className(errno: Int32) -> String {
        switch errno {
        case EAGAIN, EALREADY, EINPROGRESS: "BlockingIOError"
        case ECHILD: "ChildProcessError"
        case EPIPE, ESHUTDOWN: "BrokenPipeError"
        case ECONNABORTED: "ConnectionAbortedError"
        case ECONNREFUSED: "ConnectionRefusedError"
        case ECONNRESET: "ConnectionResetError"
        case EEXIST: "FileExistsError"
        case ENOENT: "FileNotFoundError"
        case EISDIR: "IsADirectoryError"
        case ENOTDIR: "NotADirectoryError"
        case EINTR: "InterruptedError"
        case EACCES, EPERM: "PermissionError"
        case ESRCH: "ProcessLookupError"
        case ETIMEDOUT: "TimeoutError"
        default: "OSError"
        }
    }

    /// CPython's `OSError(errno, strerror, filename, filename2)`:
    /// `[Errno 2] No such file or directory: '/x'`, and `-> '/y'` for a
    /// second file (rename).
    static func osError(errno: Int32, path: String? = nil, path2: String? = nil) -> PyException {
        var message = "[Errno \(errno)] \(Errno.text(errno))"
        if let path { message += ": " + Value.strRepr(path) }
        if let path2 { message += " -> " + Value.strRepr(path2) }
        return PyException(className(errno: errno), message)
    }

    /// The Python exception for a `SystemError` from the Sys layer, naming
    /// `path` (or the error's own path).
    static func from(_ error: SystemError, path: String? = nil) -> PyException {
        osError(errno: error.errno, path: path ?? error.path)
    }

    static func typeError(_ message: String) -> PyException { PyException("TypeError", message) }
    static func valueError(_ message: String) -> PyException { PyException("ValueError", message) }
}

/// Runs a libc call that returns -1 on failure (EINTR retried) and raises
/// the Python `OSError` naming `path` (and `path2`) when it fails.
func pythonOSCall<T: FixedWidthInteger>(
    path: String? = nil, path2: String? = nil, _ body: () -> T
) throws(PyException) -> T {
    switch valueOrErrno(body) {
    case .success(let value): return value
    case .failure(let e): throw PythonErrors.osError(errno: e.rawValue, path: path, path2: path2)
    }
}
