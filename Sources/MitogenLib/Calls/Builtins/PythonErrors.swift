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
        if let path { message += ": " + PythonRepr.string(path) }
        if let path2 { message += " -> " + PythonRepr.string(path2) }
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

/// Python's `repr()` of the values the builtins put in messages.
enum PythonRepr {
    /// `repr(str)`: single quotes unless the text holds `'` and no `"`;
    /// backslash, the quote and control characters escaped as CPython does.
    static func string(_ s: String) -> String {
        let quote: Character = s.contains("'") && !s.contains("\"") ? "\"" : "'"
        var out = String(quote)
        for scalar in s.unicodeScalars {
            switch scalar {
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where Character(scalar) == quote: out += "\\" + String(quote)
            case _ where scalar.value < 0x20 || (0x7f...0xa0).contains(scalar.value):
                out += "\\x" + hex(scalar.value, width: 2)
            default: out.unicodeScalars.append(scalar)
            }
        }
        out.append(quote)
        return out
    }

    /// `repr(bytes)`: `b'...'` with `\xNN` for non-printable bytes.
    static func bytes(_ b: [UInt8]) -> String {
        let quote: UInt8 = b.contains(0x27) && !b.contains(0x22) ? 0x22 : 0x27
        var out = "b" + String(UnicodeScalar(quote))
        for byte in b {
            switch byte {
            case 0x5c: out += "\\\\"
            case 0x0a: out += "\\n"
            case 0x0d: out += "\\r"
            case 0x09: out += "\\t"
            case quote: out += "\\" + String(UnicodeScalar(quote))
            case 0x20..<0x7f: out.unicodeScalars.append(UnicodeScalar(byte))
            default: out += "\\x" + hex(UInt32(byte), width: 2)
            }
        }
        return out + String(UnicodeScalar(quote))
    }

    /// `repr()` of a value, as far as messages need it (str, bytes, numbers,
    /// None, bool, list, tuple; others by type name).
    static func value(_ v: Value) -> String {
        switch v {
        case .none: "None"
        case .bool(let b): b ? "True" : "False"
        case .int(let i): "\(i)"
        case .bigInt(let i): i.description
        case .float(let f): float(f)
        case .str(let s): string(s)
        case .bytes(let b): bytes(b)
        case .list(let items): "[" + items.map(value).joined(separator: ", ") + "]"
        case .tuple(let items) where items.count == 1: "(" + value(items[0]) + ",)"
        case .tuple(let items): "(" + items.map(value).joined(separator: ", ") + ")"
        default: "<\(v.typeName)>"
        }
    }

    /// `str(value)`: a str as itself, everything else as `repr`.
    static func str(_ v: Value) -> String {
        if case .str(let s) = v { return s }
        return value(v)
    }

    /// `repr(float)` for ordinary values (Swift's shortest round-trip form
    /// agrees with Python's for finite numbers).
    static func float(_ f: Double) -> String {
        if f.isNaN { return "nan" }
        if f.isInfinite { return f < 0 ? "-inf" : "inf" }
        return "\(f)"
    }

    private static func hex(_ value: UInt32, width: Int) -> String {
        let digits = String(value, radix: 16)
        return String(repeating: "0", count: max(0, width - digits.count)) + digits
    }
}
