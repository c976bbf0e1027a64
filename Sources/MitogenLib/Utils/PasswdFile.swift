/// Reads `/etc/passwd` directly: a static binary must not use NSS
/// (`getpwuid` would try to load shared modules), DESIGN §5.
enum PasswdFile {
    /// One entry: name, password field, uid, gid, gecos, home, shell.
    struct Entry: Sendable, Equatable {
        var name: String
        var password: String
        var uid: UInt32
        var gid: UInt32
        var gecos: String
        var home: String
        var shell: String
    }

    static func entries(path: String = "/etc/passwd") -> [Entry] {
        guard let bytes = try? readWholeFile(path) else { return [] }
        return String(decoding: bytes, as: UTF8.self).split(separator: "\n").compactMap { line in
            let f = line.split(separator: ":", omittingEmptySubsequences: false)
            guard f.count >= 7, let uid = UInt32(f[2]), let gid = UInt32(f[3]) else { return nil }
            return Entry(name: String(f[0]), password: String(f[1]), uid: uid, gid: gid, gecos: String(f[4]), home: String(f[5]), shell: String(f[6]))
        }
    }

    static func entry(uid: UInt32) -> Entry? { entries().first { $0.uid == uid } }
    static func userName(uid: UInt32) -> String? { entry(uid: uid)?.name }
}
