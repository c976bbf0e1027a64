import MitogenSys
import Synchronization

/// `known_hosts` lines and OpenSSH's rules for them (sshd(8) "SSH_KNOWN_HOSTS
/// FILE FORMAT", OpenSSH's hostfile.c), matched here rather than by libssh2,
/// whose check takes exact or hashed names only.
///
/// A line is `[@marker] hosts keytype base64 [comment]`. `hosts` is either
/// one hashed name `|1|salt|hmac` or a comma list of patterns (`*`, `?`,
/// `!` negation, `[host]:port`). `@revoked` lines name keys that must never
/// be accepted; `@cert-authority` lines sign host certificates, which this
/// transport never receives, so they are left out of plain key checks.
/// Lines that do not parse are skipped, as ssh skips them.
struct KnownHostsFile: Sendable {
    enum Marker: Sendable, Equatable {
        case none
        case certAuthority
        case revoked
    }

    struct Entry: Sendable, Equatable {
        var marker: Marker
        /// The host field as written.
        var hosts: String
        /// The decoded key blob (its first SSH string is the key type).
        var key: [UInt8]
        var file: String
        var line: Int

        /// Whether this entry names `name` (`host` or `[host]:port`).
        func names(_ name: String) -> Bool {
            if hosts.hasPrefix("|") { return KnownHostsFile.hashedName(hosts, matches: name) }
            return SSHPattern.matchHostList(name, hosts) == .matched
        }
    }

    var entries: [Entry] = []

    /// Lines longer than this are skipped (ssh reads 8 KiB lines; a 16384-bit
    /// RSA key is under 3 KiB of base64).
    static let maxLine = 16 * 1024

    /// Reads `files` in order; a missing or unreadable file adds nothing.
    /// A file whose version (inode, size, times) is unchanged since the last
    /// connection is not parsed again: a fan-out reads the same files once per host.
    init(files: [String]) {
        for file in files where file != "/dev/null" {
            guard let (bytes, version) = try? readWholeFileAndVersion(file) else { continue }
            if let cached = Self.parsed.withLock({ $0[file] }), cached.version == version {
                entries += cached.entries
                continue
            }
            var one = KnownHostsFile()
            one.parse(bytes, file: file)
            entries += one.entries
            Self.parsed.withLock { cache in
                if cache.count >= 16 { cache.removeAll() }
                cache[file] = (version, one.entries)
            }
        }
    }

    /// The last parse of each file, by path (at most 16 files).
    private static let parsed = Mutex<[String: (version: FileVersion, entries: [Entry])]>([:])

    private init() {}

    init(text: String, file: String = "<text>") {
        parse(Array(text.utf8), file: file)
    }

    private mutating func parse(_ bytes: [UInt8], file: String) {
        for (index, raw) in bytes.split(separator: 0x0a, omittingEmptySubsequences: false).enumerated()
        where raw.count <= Self.maxLine {
            if let entry = Self.entry(String(decoding: raw, as: UTF8.self), file: file, line: index + 1) {
                entries.append(entry)
            }
        }
    }

    /// One line's entry, nil for a comment, a blank or a malformed line.
    static func entry(_ text: String, file: String, line: Int) -> Entry? {
        var words = text.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\r" })[...]
        guard let first = words.first, !first.hasPrefix("#") else { return nil }
        var marker = Marker.none
        if first.hasPrefix("@") {
            switch first {
            case "@cert-authority": marker = .certAuthority
            case "@revoked": marker = .revoked
            default: return nil
            }
            words = words.dropFirst()
        }
        guard words.count >= 3 else { return nil }
        let hosts = words[words.startIndex]
        let type = words[words.startIndex + 1]
        guard !hosts.hasPrefix("#"), !type.hasPrefix("#"), let key = Base64.decode(words[words.startIndex + 2]),
            keyType(key) == String(type)
        else { return nil }
        return Entry(marker: marker, hosts: String(hosts), key: key, file: file, line: line)
    }

    /// The type name a key blob starts with (its first SSH string).
    static func keyType(_ blob: [UInt8]) -> String? {
        guard blob.count >= 4 else { return nil }
        let length = Int(blob[0]) << 24 | Int(blob[1]) << 16 | Int(blob[2]) << 8 | Int(blob[3])
        guard length > 0, length <= blob.count - 4 else { return nil }
        return String(decoding: blob[4..<(4 + length)], as: UTF8.self)
    }

    /// `|1|base64(salt)|base64(HMAC-SHA1(salt, name))` against `name` (lower case, as ssh hashes it).
    static func hashedName(_ field: String, matches name: String) -> Bool {
        let parts = field.split(separator: "|", omittingEmptySubsequences: false)
        guard parts.count == 4, parts[0].isEmpty, parts[1] == "1", let salt = Base64.decode(parts[2]),
            salt.count == HMACSHA1.digestSize, let hash = Base64.decode(parts[3])
        else { return false }
        return HMACSHA1.mac(key: salt, message: Array(name.lowercased().utf8)) == hash
    }

    /// A new hashed host field for `name`, with a random salt (`HashKnownHosts yes`).
    static func hash(_ name: String) -> String {
        var generator = SystemRandomNumberGenerator()
        let salt = (0..<HMACSHA1.digestSize).map { _ in UInt8.random(in: 0...255, using: &generator) }
        let mac = HMACSHA1.mac(key: salt, message: Array(name.lowercased().utf8))
        return "|1|" + Base64.encode(salt) + "|" + Base64.encode(mac)
    }

    /// Only the entries that name one of `names`: a connection narrows the
    /// files once to its host's names, so hashed lines (an HMAC each) are
    /// hashed once, not once per question.
    func narrowed(to names: [String]) -> KnownHostsFile {
        var copy = KnownHostsFile()
        copy.entries = entries.filter { entry in names.contains { entry.names($0) } }
        return copy
    }

    // MARK: Checking a key

    /// What the files say about a server key, as OpenSSH's
    /// `check_key_in_hostkeys` decides it.
    enum Status: Equatable {
        /// Listed for the host (the entry that matched).
        case known(file: String, line: Int)
        /// The host is listed with other keys only (of any type, as in ssh).
        case changed(file: String, line: Int)
        /// A matching `@revoked` line names this key: never accepted.
        case revoked(file: String, line: Int)
        /// The host is not listed.
        case unknown
    }

    /// `key` for the lookup name `name`: an entry with this exact key wins,
    /// else any other key for the name means changed; a matching `@revoked`
    /// line overrides both.
    func status(name: String, key: [UInt8]) -> Status {
        var result = Status.unknown
        for entry in entries where entry.marker == .none && entry.names(name) {
            if entry.key == key {
                result = .known(file: entry.file, line: entry.line)
                break
            }
            if case .unknown = result { result = .changed(file: entry.file, line: entry.line) }
        }
        if let revoked = entries.first(where: { $0.marker == .revoked && $0.key == key && $0.names(name) }) {
            return .revoked(file: revoked.file, line: revoked.line)
        }
        return result
    }

    /// The check ssh makes for `host` at `port`: the name is `[host]:port`
    /// off port 22; when that name is unknown, a key listed for the bare
    /// host is accepted too ("found matching key w/out port"). A key revoked
    /// for the bare host is refused there too: stricter than OpenSSH 9.2,
    /// which then warns yet records and trusts it under `[host]:port`.
    func check(host: String, port: Int, key: [UInt8]) -> Status {
        let name = Self.lookupName(host: host, port: port)
        let found = status(name: name, key: key)
        guard found == .unknown, port != 22 else { return found }
        let bare = status(name: host.lowercased(), key: key)
        switch bare {
        case .known, .revoked: return bare
        case .changed, .unknown: return found
        }
    }

    /// `host`, or `[host]:port` off port 22, lower case, as ssh looks it up and writes it.
    static func lookupName(host: String, port: Int) -> String {
        port == 22 ? host.lowercased() : "[\(host.lowercased())]:\(port)"
    }

    /// The key types listed for `host` at `port`, in file order (the host
    /// key algorithms to ask for first, as ssh orders them).
    func knownTypes(host: String, port: Int) -> [String] {
        let name = Self.lookupName(host: host, port: port)
        var types: [String] = []
        for entry in entries where entry.marker == .none && entry.names(name) {
            if let type = Self.keyType(entry.key), !types.contains(type) { types.append(type) }
        }
        return types
    }
}
