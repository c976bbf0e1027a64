import Glibc
import MitogenSys
import MitogenWire

/// The child's content hash, remembered between master processes.
///
/// Hashing the 11 MB child costs 25-50 ms here: half of a whole cached
/// `mitogen-tui call local`, and every `mitogen-tui call` pays it before its
/// first connect. The hash is kept in the form cache directory as
/// `<device>-<inode>.sha256`, one line `<FileVersion> <hash>`, and used only
/// for a file read with exactly that version (same inode, size, modification
/// and change time: any write changes the change time, which users cannot
/// set back). A wrong entry could only make a target refuse the upload, whose
/// bytes it hashes itself; still, the directory must be ours and closed to
/// others, as the forms beside it are.
enum ChildHashCache {
    /// The hash of `bytes`, read from the cache when its entry matches
    /// `version`, else computed and stored.
    static func hash(of bytes: [UInt8], version: FileVersion, directory: String?) -> String {
        let entry = directory.map { "\($0)/\(version.device)-\(version.inode).sha256" }
        if let entry, let directory, isPrivateDirectory(directory), let hash = cached(entry, version: version) {
            return hash
        }
        let hash = SHA256.hexDigest(of: bytes)
        if let entry, let directory, makeDirectories(directory), isPrivateDirectory(directory) {
            store("\(version) \(hash)\n", at: entry)
        }
        return hash
    }

    private static func cached(_ entry: String, version: FileVersion) -> String? {
        guard let data = try? readWholeFile(entry), data.count < 256 else { return nil }
        let line = String(decoding: data, as: UTF8.self)
        let prefix = "\(version) "
        guard line.hasPrefix(prefix), line.hasSuffix("\n") else { return nil }
        let hash = line.dropFirst(prefix.count).dropLast()
        guard hash.utf8.count == 64, hash.utf8.allSatisfy({ (0x30...0x39).contains($0) || (0x61...0x66).contains($0) })
        else { return nil }
        return String(hash)
    }

    /// Writes beside the entry, then renames: a reader sees all or nothing.
    private static func store(_ line: String, at entry: String) {
        let temporary = "\(entry).\(getpid())"
        guard let fd = try? createPrivateFile(temporary) else { return }
        let written = (try? fd.writeAll(Array(line.utf8))) != nil
        fd.close()
        if !written || rename(temporary, entry) != 0 { unlink(temporary) }
    }

    /// Owned by us and writable by nobody else.
    private static func isPrivateDirectory(_ path: String) -> Bool {
        var info = stat()
        return lstat(path, &info) == 0 && (info.st_mode & S_IFMT) == S_IFDIR && info.st_uid == geteuid()
            && info.st_mode & 0o022 == 0
    }
}
