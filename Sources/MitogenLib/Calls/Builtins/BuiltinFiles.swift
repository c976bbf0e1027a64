import CMitogenSys
import Glibc
import Synchronization
import MitogenCore
import MitogenSys
import MitogenWire

/// The `files` builtins: whole-file `read`, atomic `write`, and `append`.
/// Streaming transfer (`files.put`/`files.get`) lives with Core.
enum BuiltinFiles {
    /// Largest file `files.read` returns in one reply.
    static let readLimit = 64 << 20

    static func register() {
        Functions.register("files.read", signature: "(path: str) -> bytes", summary: "Whole content of a file (up to 64 MiB; use files.get beyond).") { args, kwargs, _ in
            let path = try BuiltinArguments("files.read", args, kwargs, parameters: ["path"]).path("path")
            return .bytes(try readWhole(path, limit: readLimit))
        }
        Functions.register("files.write", signature: "(path: str, data: bytes | str, mode: int = 0o644) -> int", summary: "Replace a file atomically (temp file + rename); returns bytes written.") { args, kwargs, _ in
            let a = try BuiltinArguments("files.write", args, kwargs, parameters: ["path", "data", "mode"])
            let path = try a.path("path"), data = try a.data("data")
            try writeAtomically(path, data, mode: mode_t(truncatingIfNeeded: try a.int("mode", default: 0o644)))
            return .int(data.count)
        }
        Functions.register("files.append", signature: "(path: str, data: bytes | str) -> int", summary: "Append to a file, creating it (0o644) if missing; returns bytes written.") { args, kwargs, _ in
            let a = try BuiltinArguments("files.append", args, kwargs, parameters: ["path", "data"])
            let path = try a.path("path"), data = try a.data("data")
            let fd = try open(path, O_WRONLY | O_APPEND | O_CREAT, mode: 0o644)
            defer { fd.close() }
            try write(fd, data, path: path)
            return .int(data.count)
        }
    }

    /// Reads `path` to its end.
    /// - Throws: CPython's `OSError` for the path (`IsADirectoryError` for a
    ///   directory), or `ValueError` past `limit` bytes.
    static func readWhole(_ path: String, limit: Int = Int.max) throws(PyException) -> [UInt8] {
        let fd = try open(path, O_RDONLY)
        defer { fd.close() }
        var info = stat()
        _ = try pythonOSCall(path: path) { fstat(fd.rawValue, &info) }
        if Int(info.st_size) > limit { throw tooBig(path, size: Int(info.st_size)) }
        var result: [UInt8] = []
        result.reserveCapacity(Int(info.st_size))
        var chunk = [UInt8](repeating: 0, count: FileDescriptor.pipeChunkSize)
        while true {
            let attempt = chunk.withUnsafeMutableBytes { buffer in
                Result { () throws(SystemError) -> IOResult in try fd.read(into: buffer) }
            }
            let r: IOResult
            switch attempt {
            case .success(let result): r = result
            case .failure(let error): throw PythonErrors.from(error, path: path)
            }
            switch r {
            case .bytes(let n):
                result += chunk[0..<n]
                if result.count > limit { throw tooBig(path, size: result.count) }
            case .eof: return result
            case .wouldBlock: _ = try? fd.waitUntil(writable: false, timeoutMilliseconds: -1)
            }
        }
    }

    private static func tooBig(_ path: String, size: Int) -> PyException {
        PythonErrors.valueError("files.read: \(Value.strRepr(path)) is \(size) bytes, over the \(readLimit >> 20) MiB limit of files.read; stream it with files.get")
    }

    private static let tempCounter = Atomic<Int>(0)

    /// Writes `data` to a new file beside `path`, sets `mode` exactly (no
    /// umask), and renames it over `path`: readers see the old or the new
    /// content, never a part. Not fsynced: atomic, not durable across a
    /// power loss. Owner, ACLs and extended attributes of an old file are not kept.
    static func writeAtomically(_ path: String, _ data: [UInt8], mode: mode_t) throws(PyException) {
        let (head, tail) = BuiltinOS.splitPath(path)
        let n = tempCounter.wrappingAdd(1, ordering: .relaxed).oldValue
        let temp = (head.isEmpty ? "" : head == "/" ? "/" : head + "/") + ".\(tail).\(getpid()).\(n).tmp"
        let fd: FileDescriptor
        do {
            fd = try FileDescriptor.open(temp, flags: O_WRONLY | O_CREAT | O_EXCL, mode: 0o600)
        } catch {
            throw PythonErrors.from(error, path: path)
        }
        do {
            defer { fd.close() }
            _ = try pythonOSCall(path: path) { fchmod(fd.rawValue, mode) }
            try write(fd, data, path: path)
            _ = try pythonOSCall(path: path) { rename(temp, path) }
        } catch {
            unlink(temp)
            throw error
        }
    }

    /// `open` with CPython's error for `path`.
    private static func open(_ path: String, _ flags: Int32, mode: mode_t = 0o644) throws(PyException) -> FileDescriptor {
        do {
            return try FileDescriptor.open(path, flags: flags, mode: mode)
        } catch {
            throw PythonErrors.from(error, path: path)
        }
    }

    /// Writes all of `data` to a blocking `fd`.
    private static func write(_ fd: FileDescriptor, _ data: [UInt8], path: String) throws(PyException) {
        do {
            try fd.writeAll(data)
        } catch {
            throw PythonErrors.from(error, path: path)
        }
    }
}
