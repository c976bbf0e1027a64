import Glibc

// The one home of the file and process-identity helpers every layer uses:
// whole-file reads, this process's executable, directory creation, the host
// name, and private files that another user cannot plant or read.

/// Reads all of `path` with `open(2)`/`read(2)` (EINTR retried by `FileDescriptor`).
/// - Throws: `SystemError("open <path>")`, `("read fd N")`.
package func readWholeFile(_ path: String) throws(SystemError) -> [UInt8] {
    let fd = try FileDescriptor.open(path, flags: O_RDONLY)
    defer { fd.close() }
    var bytes: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 1 << 16)
    while true {
        let result = chunk.withUnsafeMutableBytes { buffer in
            Result { () throws(SystemError) in try fd.read(into: buffer) }
        }
        switch try result.get() {
        case .bytes(let count): bytes.append(contentsOf: chunk[..<count])
        case .eof: return bytes
        case .wouldBlock: _ = try fd.waitUntil(writable: false, timeoutMilliseconds: -1)
        }
    }
}

/// This process's executable, resolved through `readlink("/proc/self/exe")`;
/// nil when `/proc` is not mounted.
package func ownExecutablePath() -> String? {
    var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
    let count = readlink("/proc/self/exe", &buffer, buffer.count - 1)
    guard count > 0 else { return nil }
    return String(decoding: buffer[..<count].map { UInt8(bitPattern: $0) }, as: UTF8.self)
}

/// The value of environment variable `name` in this process.
package func environmentValue(_ name: String) -> String? {
    getenv(name).map { String(cString: $0) }
}

/// `mkdir -p` with mode 0700 for each created component.
/// - Returns: true if `path` is a directory afterwards.
package func makeDirectories(_ path: String) -> Bool {
    var prefix = ""
    for component in path.split(separator: "/") {
        prefix += "/" + component
        if mkdir(prefix, 0o700) != 0 && errno != EEXIST { return false }
    }
    var info = stat()
    return stat(path, &info) == 0 && (info.st_mode & S_IFMT) == S_IFDIR
}

/// This machine's host name from `uname` (no resolver, no NSS).
package func hostName() -> String {
    var u = utsname()
    uname(&u)
    return withUnsafeBytes(of: &u.nodename) { raw in
        String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
    }
}

/// Creates `path` as a new regular file private to this user (mode 0600,
/// `O_EXCL | O_NOFOLLOW`): a file or symlink someone planted at a predictable
/// name makes this fail instead of being followed or reused.
/// - Throws: `SystemError("open <path>")` (EEXIST when the name is taken).
package func createPrivateFile(_ path: String) throws(SystemError) -> FileDescriptor {
    try FileDescriptor.open(path, flags: O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, mode: 0o600)
}
