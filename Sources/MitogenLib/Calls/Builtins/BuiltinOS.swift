import CMitogenSys
import Glibc
import MitogenCore
import MitogenSys
import MitogenWire

/// The `os` and `os.path` builtins: process ids, the working directory, the
/// environment, and file-system calls, with CPython's results and errors.
enum BuiltinOS {
    static func register() {
        registerProcess()
        registerEnvironment()
        registerFiles()
        registerPath()
    }

    // MARK: - Process

    private static func registerProcess() {
        func id(_ name: String, _ summary: String, _ get: @escaping @Sendable () -> Int) {
            Functions.register(name, signature: "() -> int", summary: summary) { args, kwargs, _ in
                _ = try BuiltinArguments(name, args, kwargs, parameters: [])
                return .int(get())
            }
        }
        id("os.getpid", "Process id of the context.") { Int(getpid()) }
        id("os.getppid", "Parent process id of the context.") { Int(getppid()) }
        id("os.getuid", "Real user id.") { Int(getuid()) }
        id("os.geteuid", "Effective user id.") { Int(geteuid()) }
        id("os.getgid", "Real group id.") { Int(getgid()) }

        Functions.register("os.kill", signature: "(pid: int, sig: int) -> None", summary: "Send a signal to a process.") { args, kwargs, _ in
            let a = try BuiltinArguments("os.kill", args, kwargs, parameters: ["pid", "sig"])
            let pid = try a.int("pid"), sig = try a.int("sig")
            guard let cPid = pid_t(exactly: pid), let cSig = Int32(exactly: sig) else {
                throw PyException("OverflowError", "signed integer is greater than maximum")
            }
            _ = try pythonOSCall { kill(cPid, cSig) }
            return .none
        }
    }

    // MARK: - Working directory and environment

    private static func registerEnvironment() {
        Functions.register("os.getcwd", signature: "() -> str", summary: "Current working directory.") { args, kwargs, _ in
            _ = try BuiltinArguments("os.getcwd", args, kwargs, parameters: [])
            return .str(try currentDirectory())
        }
        Functions.register("os.chdir", signature: "(path: str) -> None", summary: "Change the working directory of the context.") { args, kwargs, _ in
            let path = try BuiltinArguments("os.chdir", args, kwargs, parameters: ["path"]).path("path")
            _ = try pythonOSCall(path: path) { chdir(path) }
            return .none
        }
        Functions.register("os.environ", signature: "() -> dict[str, str]", summary: "The environment of the context.") { args, kwargs, _ in
            _ = try BuiltinArguments("os.environ", args, kwargs, parameters: [])
            var result = PyDict()
            for entry in currentEnvironment() {
                guard let eq = entry.firstIndex(of: "=") else { continue }
                result[String(entry[..<eq])] = .str(String(entry[entry.index(after: eq)...]))
            }
            return .dict(result)
        }
        Functions.register("os.getenv", signature: "(key: str, default=None) -> str | None", summary: "One environment variable.") { args, kwargs, _ in
            let a = try BuiltinArguments("os.getenv", args, kwargs, parameters: ["key", "default"])
            let key = try a.string("key")
            guard let value = getenv(key) else { return a.value("default") ?? .none }
            return .str(String(cString: value))
        }
    }

    /// `getcwd(3)` into a buffer that grows until the path fits.
    static func currentDirectory() throws(PyException) -> String {
        var size = 1024
        while true {
            var buffer = [CChar](repeating: 0, count: size)
            if getcwd(&buffer, size) != nil { return buffer.withUnsafeBufferPointer { String(cString: $0.baseAddress!) } }
            let e = Errno.current
            guard e.rawValue == ERANGE else { throw PythonErrors.osError(errno: e.rawValue) }
            size *= 2
        }
    }

    // MARK: - Files and directories

    private static func registerFiles() {
        Functions.register("os.listdir", signature: "(path: str = '.') -> list[str]", summary: "Names in a directory, without '.' and '..'.") { args, kwargs, _ in
            let path = try BuiltinArguments("os.listdir", args, kwargs, parameters: ["path"]).path("path", default: ".")
            return .list(try listDirectory(path).map { .str($0) })
        }
        for (name, follow) in [("os.stat", true), ("os.lstat", false)] {
            Functions.register(name, signature: "(path: str) -> dict", summary: follow ? "stat(2) of a path." : "lstat(2) of a path (a symlink itself).") { args, kwargs, _ in
                let path = try BuiltinArguments(name, args, kwargs, parameters: ["path"]).path("path")
                return .dict(statDict(try statPath(path, followSymlinks: follow)))
            }
        }
        for name in ["os.remove", "os.unlink"] {
            Functions.register(name, signature: "(path: str) -> None", summary: "Delete a file.") { args, kwargs, _ in
                let path = try BuiltinArguments(name, args, kwargs, parameters: ["path"]).path("path")
                _ = try pythonOSCall(path: path) { unlink(path) }
                return .none
            }
        }
        Functions.register("os.rmdir", signature: "(path: str) -> None", summary: "Delete an empty directory.") { args, kwargs, _ in
            let path = try BuiltinArguments("os.rmdir", args, kwargs, parameters: ["path"]).path("path")
            _ = try pythonOSCall(path: path) { rmdir(path) }
            return .none
        }
        Functions.register("os.mkdir", signature: "(path: str, mode: int = 0o777) -> None", summary: "Create a directory.") { args, kwargs, _ in
            let a = try BuiltinArguments("os.mkdir", args, kwargs, parameters: ["path", "mode"])
            let path = try a.path("path"), mode = try a.int("mode", default: 0o777)
            _ = try pythonOSCall(path: path) { mkdir(path, mode_t(truncatingIfNeeded: mode)) }
            return .none
        }
        Functions.register("os.makedirs", signature: "(name: str, mode: int = 0o777, exist_ok: bool = False) -> None", summary: "Create a directory and its missing parents.") { args, kwargs, _ in
            let a = try BuiltinArguments("os.makedirs", args, kwargs, parameters: ["name", "mode", "exist_ok"])
            try makeDirectories(try a.path("name"), mode: mode_t(truncatingIfNeeded: try a.int("mode", default: 0o777)), existOK: a.bool("exist_ok", default: false))
            return .none
        }
        Functions.register("os.rename", signature: "(src: str, dst: str) -> None", summary: "Rename a file or directory.") { args, kwargs, _ in
            let a = try BuiltinArguments("os.rename", args, kwargs, parameters: ["src", "dst"])
            let src = try a.path("src"), dst = try a.path("dst")
            _ = try pythonOSCall(path: src, path2: dst) { rename(src, dst) }
            return .none
        }
        Functions.register("os.chmod", signature: "(path: str, mode: int) -> None", summary: "Change permission bits.") { args, kwargs, _ in
            let a = try BuiltinArguments("os.chmod", args, kwargs, parameters: ["path", "mode"])
            let path = try a.path("path"), mode = try a.int("mode")
            _ = try pythonOSCall(path: path) { chmod(path, mode_t(truncatingIfNeeded: mode)) }
            return .none
        }
        Functions.register("os.readlink", signature: "(path: str) -> str", summary: "Target of a symbolic link.") { args, kwargs, _ in
            let path = try BuiltinArguments("os.readlink", args, kwargs, parameters: ["path"]).path("path")
            return .str(try readLink(path))
        }
    }

    /// `opendir`/`readdir` of `path`, without `.` and `..`, in directory order.
    static func listDirectory(_ path: String) throws(PyException) -> [String] {
        guard let dir = opendir(path) else { throw PythonErrors.osError(errno: Glibc.errno, path: path) }
        defer { closedir(dir) }
        var names: [String] = []
        while true {
            errno = 0
            guard let entry = readdir(dir) else {
                if errno != 0 { throw PythonErrors.osError(errno: errno, path: path) }
                return names
            }
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
            }
            if name != "." && name != ".." { names.append(name) }
        }
    }

    /// `stat(2)` or `lstat(2)` of `path`.
    static func statPath(_ path: String, followSymlinks: Bool) throws(PyException) -> stat {
        var info = stat()
        _ = try pythonOSCall(path: path) { followSymlinks ? stat(path, &info) : lstat(path, &info) }
        return info
    }

    /// Python's `os.stat_result` fields as a dict; times are float seconds.
    static func statDict(_ s: stat) -> PyDict {
        func time(_ t: timespec) -> Value { .float(Double(t.tv_sec) + Double(t.tv_nsec) * 1e-9) }
        return PyDict([
            ("st_mode", .int(Int(s.st_mode))), ("st_ino", unsigned(UInt64(s.st_ino))),
            ("st_dev", unsigned(UInt64(s.st_dev))), ("st_nlink", .int(Int(s.st_nlink))),
            ("st_uid", .int(Int(s.st_uid))), ("st_gid", .int(Int(s.st_gid))),
            ("st_size", .int(Int(s.st_size))), ("st_atime", time(s.st_atim)),
            ("st_mtime", time(s.st_mtim)), ("st_ctime", time(s.st_ctim)),
        ])
    }

    /// A 64-bit unsigned number as a Python int (big beyond `Int.max`).
    static func unsigned(_ n: UInt64) -> Value {
        if let small = Int(exactly: n) { return .int(small) }
        var raw = withUnsafeBytes(of: n.littleEndian) { Array($0) }
        raw.append(0)
        return .integer(LargeInt(twosComplementLittleEndian: raw))
    }

    /// `os.makedirs`: creates the missing parents first, then `path`.
    /// An existing `path` is fine only with `existOK` and when it is a directory.
    static func makeDirectories(_ path: String, mode: mode_t, existOK: Bool) throws(PyException) {
        var (head, tail) = splitPath(path)
        if tail.isEmpty { (head, tail) = splitPath(head) }
        if !head.isEmpty && !tail.isEmpty && !exists(head, followSymlinks: true) {
            do {
                try makeDirectories(head, mode: mode, existOK: existOK)
            } catch where error.type == "builtins.FileExistsError" {
                // Another process made it meanwhile: fine, as in Python.
            }
            if tail == "." { return }
        }
        if mkdir(path, mode) != 0 {
            let e = Errno.current
            if !existOK || !isDirectory(path) { throw PythonErrors.osError(errno: e.rawValue, path: path) }
        }
    }

    /// `os.path.split`: the part before the last `/` (trailing slashes
    /// removed unless it is all slashes) and the part after it.
    static func splitPath(_ path: String) -> (head: String, tail: String) {
        guard let slash = path.lastIndex(of: "/") else { return ("", path) }
        let tail = String(path[path.index(after: slash)...])
        var head = String(path[...slash])
        if head.contains(where: { $0 != "/" }) {
            while head.hasSuffix("/") { head.removeLast() }
        }
        return (head, tail)
    }

    /// `readlink(2)` with a buffer that grows until the target fits.
    static func readLink(_ path: String) throws(PyException) -> String {
        var size = 256
        while true {
            var buffer = [CChar](repeating: 0, count: size)
            let n = try pythonOSCall(path: path) { readlink(path, &buffer, size) }
            if n < size {
                return String(decoding: buffer[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
            }
            size *= 4
        }
    }

    // MARK: - os.path

    private static func registerPath() {
        let predicates: [(String, String, @Sendable (String) -> Bool)] = [
            ("os.path.exists", "True if the path exists (symlinks followed).", { exists($0, followSymlinks: true) }),
            ("os.path.isdir", "True if the path is a directory (symlinks followed).", { isDirectory($0) }),
            ("os.path.isfile", "True if the path is a regular file (symlinks followed).", { isRegularFile($0) }),
        ]
        for (name, summary, test) in predicates {
            Functions.register(name, signature: "(path: str) -> bool", summary: summary) { args, kwargs, _ in
                .bool(test(try BuiltinArguments(name, args, kwargs, parameters: ["path"]).path("path")))
            }
        }
    }

    static func exists(_ path: String, followSymlinks: Bool) -> Bool {
        (try? statPath(path, followSymlinks: followSymlinks)) != nil
    }

    static func isDirectory(_ path: String) -> Bool {
        guard let s = try? statPath(path, followSymlinks: true) else { return false }
        return s.st_mode & S_IFMT == S_IFDIR
    }

    static func isRegularFile(_ path: String) -> Bool {
        guard let s = try? statPath(path, followSymlinks: true) else { return false }
        return s.st_mode & S_IFMT == S_IFREG
    }
}
