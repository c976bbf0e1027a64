import Glibc

// The one home of the file and process-identity helpers every layer uses:
// whole-file reads, this process's executable, directory creation, the host
// name, and private files that another user cannot plant or read.

/// Reads all of `path` with `open(2)`/`read(2)` (EINTR retried by `FileDescriptor`).
/// - Throws: `SystemError("open <path>")`, `("read fd N")`.
package func readWholeFile(_ path: String) throws(SystemError) -> [UInt8] {
    try readWholeFileAndVersion(path).bytes
}

/// What tells one version of a file from another: device, inode, size and
/// the modification and change times in nanoseconds. The change time cannot
/// be set by users, so any write to the file gives a different version.
package struct FileVersion: Equatable, Sendable, CustomStringConvertible {
    package let device: UInt64
    package let inode: UInt64
    package let size: Int64
    package let modifiedNanoseconds: Int64
    package let changedNanoseconds: Int64

    init(_ s: stat) {
        device = UInt64(s.st_dev)
        inode = UInt64(s.st_ino)
        size = Int64(s.st_size)
        modifiedNanoseconds = Int64(s.st_mtim.tv_sec) &* 1_000_000_000 &+ Int64(s.st_mtim.tv_nsec)
        changedNanoseconds = Int64(s.st_ctim.tv_sec) &* 1_000_000_000 &+ Int64(s.st_ctim.tv_nsec)
    }

    /// Five numbers separated by spaces.
    package var description: String { "\(device) \(inode) \(size) \(modifiedNanoseconds) \(changedNanoseconds)" }
}

/// Reads all of `path`, and the version (`fstat(2)`) of the very file read,
/// not of whatever the path names a moment later. A regular file is read
/// straight into a buffer of its size (an 11 MB child: one allocation, one copy).
/// - Throws: `SystemError("open <path>")`, `("fstat <path>")`, `("read fd N")`.
package func readWholeFileAndVersion(_ path: String) throws(SystemError) -> (bytes: [UInt8], version: FileVersion) {
    let fd = try FileDescriptor.open(path, flags: O_RDONLY)
    defer { fd.close() }
    var status = stat()
    guard fstat(fd.rawValue, &status) == 0 else { throw SystemError("fstat \(path)", errno: errno, path: path) }
    var bytes: [UInt8] = []
    let expected = max(0, Int(status.st_size))
    if expected > 0 {
        var failure: SystemError?
        bytes = [UInt8](unsafeUninitializedCapacity: expected) { buffer, count in
            while count < expected {
                let rest = UnsafeMutableRawBufferPointer(UnsafeMutableBufferPointer(rebasing: buffer[count...]))
                switch Result(catching: { () throws(SystemError) in try fd.read(into: rest) }) {
                case .success(.bytes(let n)): count += n
                case .success: return  // end of file (or nothing on a non-blocking file)
                case .failure(let error):
                    failure = error
                    return
                }
            }
        }
        if let failure { throw failure }
        guard bytes.count == expected else { return (bytes, FileVersion(status)) }  // it shrank while we read
    }
    // Whatever lies past the size (a growing file, or /proc's size-0 files).
    while true {
        let chunk = try fd.read(upTo: FileDescriptor.pipeChunkSize)
        if chunk.isEmpty { return (bytes, FileVersion(status)) }
        bytes += chunk
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

/// Opens `path` for appending, creating it private to this user (0600) if it
/// is missing, and refuses it unless it is a regular file owned by this user
/// that no one else can read or write. A symlink is never followed. For files
/// at predictable names in shared directories (`/tmp/mitogen.<pid>.log`).
/// - Throws: `SystemError("open <path>")`, or EPERM when another user owns
///   the file or it is open to group or others.
package func openPrivateAppend(_ path: String) throws(SystemError) -> FileDescriptor {
    let fd = try FileDescriptor.open(path, flags: O_WRONLY | O_CREAT | O_APPEND | O_NOFOLLOW, mode: 0o600)
    var info = stat()
    guard fstat(fd.rawValue, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG, info.st_uid == geteuid(),
        info.st_mode & 0o077 == 0
    else {
        fd.close()
        throw SystemError("open \(path) (not a private regular file of uid \(geteuid()))", errno: EPERM, path: path)
    }
    return fd
}

/// Replaces `path` with `bytes` atomically: writes a new private temporary
/// file beside it (0600, `O_EXCL`, random name) and renames it over `path`,
/// so a reader never sees half a file and a planted symlink is replaced,
/// not followed.
/// - Throws: `SystemError` of the create, write or rename.
package func writePrivateFileAtomically(_ path: String, _ bytes: [UInt8]) throws(SystemError) {
    var attempt = 0
    while true {
        let temporary = "\(path).\(String(UInt64.random(in: 0...UInt64.max), radix: 36)).tmp"
        let fd: FileDescriptor
        do {
            fd = try createPrivateFile(temporary)
        } catch where error.errno == EEXIST && attempt < 8 {
            attempt += 1
            continue
        }
        do {
            defer { fd.close() }
            try fd.writeAll(bytes)
        } catch {
            unlink(temporary)
            throw error
        }
        guard rename(temporary, path) == 0 else {
            let error = SystemError("rename \(temporary) to \(path)", errno: errno, path: path)
            unlink(temporary)
            throw error
        }
        return
    }
}
