import Glibc
import MitogenCore
import MitogenMaster
import MitogenSys

/// What the libssh2 transport takes from an `SSHMethod`, resolved once on
/// the caller's thread: user, port, files, agent, and the few `ssh_args` it
/// understands.
///
/// `ssh_args` are OpenSSH words. The transport honours `-o
/// UserKnownHostsFile=…`, `-o GlobalKnownHostsFile=…` and `-o IdentityAgent=…`
/// (also as `-o "Key value"`) and refuses every other word, naming it: a
/// silently ignored option would connect differently from what was asked.
/// `compression` is not used: zlib's state costs about 300 KiB per host, and
/// the upload is already xz-compressed.
struct SSH2Options: Sendable {
    var host: String
    var port: Int
    var user: String
    var home: String
    var userKnownHosts: [String]
    var globalKnownHosts: [String]
    /// The agent socket (`IdentityAgent`, else `SSH_AUTH_SOCK`), nil for none.
    var agentSocket: String?
    /// Default identities tried when no `identity_file` is given, like ssh.
    var defaultKeys: [String]

    init(_ method: SSHMethod) throws(StreamError) {
        host = method.hostname
        port = method.port.flatMap { (1...65535).contains($0) ? $0 : nil } ?? 22
        let me = PasswdFile.entry(uid: getuid())
        user = method.username.flatMap { $0.isEmpty ? nil : $0 } ?? me?.name ?? String(getuid())
        let home = environmentValue("HOME") ?? me?.home ?? "/"
        self.home = home
        userKnownHosts = [home + "/.ssh/known_hosts", home + "/.ssh/known_hosts2"]
        globalKnownHosts = ["/etc/ssh/ssh_known_hosts", "/etc/ssh/ssh_known_hosts2"]
        agentSocket = environmentValue("SSH_AUTH_SOCK").flatMap { $0.isEmpty ? nil : $0 }
        defaultKeys = ["id_ed25519", "id_ecdsa", "id_rsa"].map { home + "/.ssh/" + $0 }
        try apply(method.sshArgs ?? [])
    }

    private mutating func apply(_ words: [String]) throws(StreamError) {
        var i = 0
        while i < words.count {
            let word = words[i]
            var option: String
            if word == "-o", i + 1 < words.count {
                option = words[i + 1]
                i += 2
            } else if word.hasPrefix("-o"), word.count > 2 {
                option = String(word.dropFirst(2))
                i += 1
            } else {
                throw StreamError(
                    "ssh_args word \"\(word)\" is not supported by the libssh2 transport (it takes only -o "
                        + "UserKnownHostsFile=, GlobalKnownHostsFile= and IdentityAgent=)")
            }
            option = option.trimmingSpaces
            let split = option.firstIndex { $0 == "=" || $0 == " " } ?? option.endIndex
            let key = option[..<split].lowercased()
            let value = split < option.endIndex ? String(option[option.index(after: split)...]).trimmingSpaces : ""
            let files = value.split(separator: " ").map { expand(String($0)) }
            switch key {
            case "userknownhostsfile": userKnownHosts = files
            case "globalknownhostsfile": globalKnownHosts = files
            case "identityagent": agentSocket = value == "none" || value.isEmpty ? nil : expand(value)
            default:
                throw StreamError(
                    "ssh_args option \"\(option)\" is not supported by the libssh2 transport (it takes only "
                        + "UserKnownHostsFile, GlobalKnownHostsFile and IdentityAgent; use check_host_keys= for "
                        + "host key checking)")
            }
        }
    }

    /// `~/x` under the master user's home.
    func expand(_ path: String) -> String {
        path.hasPrefix("~/") ? home + path.dropFirst(1) : path
    }
}

/// The algorithm preferences, chosen for latency and speed on the master
/// (libssh2 1.10 with OpenSSL; names it does not support are skipped).
enum SSH2Algorithms {
    /// curve25519 first: one round trip and the cheapest key exchange (OpenSSH
    /// 9's default, sntrup761x25519, is not in libssh2 and measured ≈ 280 ms
    /// for `ssh host true` here against ≈ 153 ms with curve25519). Then
    /// ECDH, then the finite-field groups for old servers.
    static let kex = [
        "curve25519-sha256", "curve25519-sha256@libssh.org", "ecdh-sha2-nistp256", "ecdh-sha2-nistp384",
        "ecdh-sha2-nistp521", "diffie-hellman-group14-sha256", "diffie-hellman-group16-sha512",
        "diffie-hellman-group-exchange-sha256", "diffie-hellman-group14-sha1",
    ].joined(separator: ",")
    /// Ed25519 first: the fastest to verify, and what modern servers offer
    /// (``KnownHosts/hostKeyPreference(session:options:)`` puts the types
    /// known_hosts lists for the host before these). libssh2 1.10 verifies
    /// RSA host keys only with SHA-1 `ssh-rsa`, which OpenSSH ≥ 8.8 no longer
    /// offers; the `rsa-sha2-*` names take effect with a newer libssh2.
    static let hostKey = [
        "ssh-ed25519", "ecdsa-sha2-nistp256", "ecdsa-sha2-nistp384", "ecdsa-sha2-nistp521", "rsa-sha2-512",
        "rsa-sha2-256", "ssh-rsa",
    ].joined(separator: ",")
    /// AES-CTR (AES-NI) with HMAC-SHA2: libssh2 1.10 has neither AES-GCM nor
    /// chacha20-poly1305; aes128-ctr is the fastest it has here.
    static let cipher = "aes128-ctr,aes256-ctr,aes192-ctr"
    static let mac = "hmac-sha2-256,hmac-sha2-512,hmac-sha1"
    static let compression = "none"
}

extension StringProtocol {
    var trimmingSpaces: String {
        String(drop { $0 == " " || $0 == "\t" }.reversed().drop { $0 == " " || $0 == "\t" }.reversed())
    }
}
