/// Reads `/etc/passwd` directly: a static binary must not use NSS
/// (`getpwuid` would try to load shared modules), DESIGN §5.
package enum PasswdFile {
    /// One entry: name, password field, uid, gid, gecos, home, shell.
    package struct Entry: Sendable, Equatable {
        package var name: String
        package var password: String
        package var uid: UInt32
        package var gid: UInt32
        package var gecos: String
        package var home: String
        package var shell: String
    }

    package static func entries(path: String = "/etc/passwd") -> [Entry] {
        guard let bytes = try? readWholeFile(path) else { return [] }
        return String(decoding: bytes, as: UTF8.self).split(separator: "\n").compactMap { line in
            let f = line.split(separator: ":", omittingEmptySubsequences: false)
            guard f.count >= 7, let uid = UInt32(f[2]), let gid = UInt32(f[3]) else { return nil }
            return Entry(name: String(f[0]), password: String(f[1]), uid: uid, gid: gid, gecos: String(f[4]), home: String(f[5]), shell: String(f[6]))
        }
    }

    package static func entry(uid: UInt32) -> Entry? { entries().first { $0.uid == uid } }
    package static func userName(uid: UInt32) -> String? { entry(uid: uid)?.name }
}

extension PasswdFile {
    /// The gids of the groups in `path` (a group file) that list `user` as a
    /// member: the supplementary groups login would give it.
    package static func supplementaryGroups(of user: String, path: String = "/etc/group") -> [UInt32] {
        guard let bytes = try? readWholeFile(path) else { return [] }
        return String(decoding: bytes, as: UTF8.self).split(separator: "\n").compactMap { line in
            let f = line.split(separator: ":", omittingEmptySubsequences: false)
            guard f.count >= 4, let gid = UInt32(f[2]) else { return nil }
            return f[3].split(separator: ",").contains { $0 == user } ? gid : nil
        }
    }
}
