import CLibSSH2
import Glibc
import MitogenCore
import MitogenMaster
import MitogenSys

/// The server's host key against `known_hosts`, with `check_host_keys`
/// meaning what it means for OpenSSH (``SSHMethod/HostKeyPolicy``):
///
/// - `ignore`: no check.
/// - `enforce`: the key must be listed for the host; unknown or changed
///   fails with `HostKeyError`.
/// - `accept`: a listed key must match (a changed key fails); an unknown host
///   is appended to the first user file, as ssh's `yes` answer does.
///
/// Entries are read line by line with libssh2's parser, so hashed names
/// (`|1|salt|hash`) and `[host]:port` patterns count, and a line libssh2
/// cannot read (a key type it lacks) is skipped, not fatal.
enum KnownHosts {
    /// - Throws: `StreamError` kind `.hostKey` with Mitogen's text.
    static func check(
        session: OpaquePointer, options: SSH2Options, policy: SSHMethod.HostKeyPolicy
    ) throws(StreamError) {
        guard policy != .ignore else { return }
        var length = 0
        var type: Int32 = 0
        guard let key = libssh2_session_hostkey(session, &length, &type), let typeInfo = keyType(type) else {
            throw StreamError(PromptDialect.sshHostKeyFailed + " (the server's key type is not supported)", kind: .hostKey)
        }
        guard let hosts = loadAll(session: session, options: options) else {
            throw StreamError("ssh: cannot allocate the known hosts list", kind: .hostKey)
        }
        defer { libssh2_knownhost_free(hosts) }
        var entry: UnsafeMutablePointer<libssh2_knownhost>?
        let mask = Int32(LIBSSH2_KNOWNHOST_TYPE_PLAIN) | Int32(LIBSSH2_KNOWNHOST_KEYENC_RAW) | typeInfo.mask
        let result = libssh2_knownhost_checkp(hosts, options.host, Int32(options.port), key, length, mask, &entry)
        switch result {
        case Int32(LIBSSH2_KNOWNHOST_CHECK_MATCH):
            return
        case Int32(LIBSSH2_KNOWNHOST_CHECK_NOTFOUND) where policy == .accept:
            let raw = UnsafeRawBufferPointer(start: key, count: length)
            try record(options: options, line: "\(pattern(options)) \(typeInfo.name) \(base64(raw))\n")
        default:
            throw StreamError(PromptDialect.sshHostKeyFailed, kind: .hostKey)
        }
    }

    /// The host key algorithms to ask for: the types `known_hosts` lists
    /// for this host by plain name first, then ``SSH2Algorithms/hostKey``,
    /// as OpenSSH orders them, so a host known by its ECDSA key is not failed
    /// for offering Ed25519 too. (A hashed entry's name cannot be matched
    /// before the key is seen; those hosts get the default order.)
    static func hostKeyPreference(session: OpaquePointer, options: SSH2Options) -> String {
        let defaults = SSH2Algorithms.hostKey.split(separator: ",").map(String.init)
        guard let hosts = loadAll(session: session, options: options) else { return SSH2Algorithms.hostKey }
        defer { libssh2_knownhost_free(hosts) }
        let names: Set<Substring> = [Substring(options.host), Substring(pattern(options))]
        var known: [String] = []
        var entry: UnsafeMutablePointer<libssh2_knownhost>?
        var previous: UnsafeMutablePointer<libssh2_knownhost>?
        while libssh2_knownhost_get(hosts, &entry, previous) == 0, let current = entry {
            previous = current
            guard let name = current.pointee.name,
                String(cString: name).split(separator: ",").contains(where: names.contains)
            else { continue }
            for algorithm in algorithms(keyBits: current.pointee.typemask & Int32(LIBSSH2_KNOWNHOST_KEY_MASK))
            where !known.contains(algorithm) {
                known.append(algorithm)
            }
        }
        return (known + defaults.filter { !known.contains($0) }).joined(separator: ",")
    }

    /// Every known_hosts file of `options`, parsed into one collection (nil if libssh2 cannot allocate it).
    private static func loadAll(session: OpaquePointer, options: SSH2Options) -> OpaquePointer? {
        guard let hosts = libssh2_knownhost_init(session) else { return nil }
        for file in options.userKnownHosts + options.globalKnownHosts { load(file, into: hosts) }
        return hosts
    }

    private static func algorithms(keyBits: Int32) -> [String] {
        switch keyBits {
        case Int32(LIBSSH2_KNOWNHOST_KEY_ED25519): ["ssh-ed25519"]
        case Int32(LIBSSH2_KNOWNHOST_KEY_ECDSA_256): ["ecdsa-sha2-nistp256"]
        case Int32(LIBSSH2_KNOWNHOST_KEY_ECDSA_384): ["ecdsa-sha2-nistp384"]
        case Int32(LIBSSH2_KNOWNHOST_KEY_ECDSA_521): ["ecdsa-sha2-nistp521"]
        case Int32(LIBSSH2_KNOWNHOST_KEY_SSHRSA): ["rsa-sha2-512", "rsa-sha2-256", "ssh-rsa"]
        case Int32(LIBSSH2_KNOWNHOST_KEY_SSHDSS): ["ssh-dss"]
        default: []
        }
    }

    /// `host`, or `[host]:port` off port 22, as ssh writes it.
    static func pattern(_ options: SSH2Options) -> String {
        options.port == 22 ? options.host : "[\(options.host)]:\(options.port)"
    }

    private static func load(_ file: String, into hosts: OpaquePointer) {
        guard let bytes = try? readWholeFile(file) else { return }
        for line in bytes.split(separator: 0x0a) {
            let trimmed = line.drop { $0 == 0x20 || $0 == 0x09 }
            guard let first = trimmed.first, first != UInt8(ascii: "#"), first != UInt8(ascii: "@") else { continue }
            // NUL-terminated too: libssh2's parser reads past `len` in places.
            let text = Array(trimmed) + [0]
            _ = text.withUnsafeBufferPointer { b in
                b.withMemoryRebound(to: CChar.self) {
                    libssh2_knownhost_readline(hosts, $0.baseAddress, $0.count - 1, Int32(LIBSSH2_KNOWNHOST_FILE_OPENSSH))
                }
            }
        }
    }

    /// Appends `line` to the first user file (its directory made 0700 if missing).
    private static func record(options: SSH2Options, line: String) throws(StreamError) {
        guard let file = options.userKnownHosts.first, file != "/dev/null" else { return }
        if let slash = file.lastIndex(of: "/") {
            let dir = String(file[..<slash])
            if !dir.isEmpty, access(dir, F_OK) != 0 { mkdir(dir, 0o700) }
        }
        let fd = open(file, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o600)
        guard fd >= 0 else {
            throw StreamError("ssh: cannot record the host key in \(file): \(Errno.current)", kind: .hostKey)
        }
        defer { close(fd) }
        let bytes = Array(line.utf8)
        guard bytes.withUnsafeBytes({ Glibc.write(fd, $0.baseAddress, $0.count) }) == bytes.count else {
            throw StreamError("ssh: cannot record the host key in \(file): \(Errno.current)", kind: .hostKey)
        }
    }

    private static func keyType(_ type: Int32) -> (name: String, mask: Int32)? {
        switch type {
        case Int32(LIBSSH2_HOSTKEY_TYPE_ED25519): ("ssh-ed25519", Int32(LIBSSH2_KNOWNHOST_KEY_ED25519))
        case Int32(LIBSSH2_HOSTKEY_TYPE_ECDSA_256): ("ecdsa-sha2-nistp256", Int32(LIBSSH2_KNOWNHOST_KEY_ECDSA_256))
        case Int32(LIBSSH2_HOSTKEY_TYPE_ECDSA_384): ("ecdsa-sha2-nistp384", Int32(LIBSSH2_KNOWNHOST_KEY_ECDSA_384))
        case Int32(LIBSSH2_HOSTKEY_TYPE_ECDSA_521): ("ecdsa-sha2-nistp521", Int32(LIBSSH2_KNOWNHOST_KEY_ECDSA_521))
        case Int32(LIBSSH2_HOSTKEY_TYPE_RSA): ("ssh-rsa", Int32(LIBSSH2_KNOWNHOST_KEY_SSHRSA))
        case Int32(LIBSSH2_HOSTKEY_TYPE_DSS): ("ssh-dss", Int32(LIBSSH2_KNOWNHOST_KEY_SSHDSS))
        default: nil
        }
    }

    /// Standard base64 with padding (the known_hosts key field).
    static func base64(_ bytes: UnsafeRawBufferPointer) -> String {
        let table = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)
        var out: [UInt8] = []
        out.reserveCapacity((bytes.count + 2) / 3 * 4)
        var i = 0
        while i < bytes.count {
            let n = min(3, bytes.count - i)
            var v = UInt32(bytes[i]) << 16
            if n > 1 { v |= UInt32(bytes[i + 1]) << 8 }
            if n > 2 { v |= UInt32(bytes[i + 2]) }
            for j in 0..<4 {
                out.append(j <= n ? table[Int((v >> UInt32(18 - 6 * j)) & 63)] : UInt8(ascii: "="))
            }
            i += 3
        }
        return String(decoding: out, as: UTF8.self)
    }
}
