import Glibc
import MitogenCore
import MitogenMaster
import MitogenSys
import MitogenWire

/// What the libssh2 transport takes from an `SSHMethod`, resolved once on
/// the caller's thread, the way ssh resolves its options
/// (``SSHConfigSettings``, first value wins):
///
/// 1. the method's parameters, as the OpenSSH path passes them before
///    `ssh_args` (`-l`, `-p`, `IdentitiesOnly`, `-i`, `ServerAliveInterval`/
///    `ServerAliveCountMax` when keepalive is on, `StrictHostKeyChecking`
///    and, for `check_host_keys=ignore`, `/dev/null` known-hosts files);
/// 2. `ssh_args`: `-o Option=value` (or `-o "Option value"`), `-F file`,
///    `-i file`, `-l user`, `-p port`; flags without an argument (`-q`,
///    `-4`, ...) are ignored with a debug log; any other word is refused by
///    name, since it would connect differently from what was asked;
/// 3. the `-F` file, else `~/.ssh/config` then `/etc/ssh/ssh_config`
///    (``SSHConfigReader``; `-F none` reads none).
///
/// `compression` is not used: zlib's state costs about 300 KiB per host, and
/// the upload is already xz-compressed.
struct SSH2Options: Sendable {
    /// The host to connect to and look up in known_hosts (`HostName`, else the method's host).
    var host: String
    var port: Int
    var user: String
    var home: String
    var userKnownHosts: [String]
    var globalKnownHosts: [String]
    /// Record accepted keys with hashed names.
    var hashKnownHosts: Bool
    /// The agent socket (`IdentityAgent`, else `SSH_AUTH_SOCK`), nil for none.
    var agentSocket: String?
    /// `identity_file`, `-i` and every `IdentityFile`, expanded, in order.
    var identityFiles: [String]
    /// Leave the agent out (`IdentitiesOnly yes`).
    var identitiesOnly: Bool
    /// Default identities tried when no identity file is named, like ssh.
    var defaultKeys: [String]
    /// Seconds between keepalives (0: none) and silent intervals before the peer is dead.
    var keepaliveInterval: Int
    var keepaliveCount: Int
    /// `ConnectTimeout`: seconds for the TCP connect and the handshake, nil for none.
    var connectTimeout: Int?
    /// Options read but not implemented (for tests; each was logged).
    var ignored: [String]

    init(_ method: SSHMethod) throws(StreamError) {
        let me = PasswdFile.entry(uid: getuid())
        let home = environmentValue("HOME") ?? me?.home ?? "/"
        self.home = home
        var settings = Self.commandLine(method)
        let configFile = try Self.applyArgs(method.sshArgs ?? [], to: &settings)
        var reader = SSHConfigReader(host: method.hostname, home: home, settings: settings)
        switch configFile {
        case "none": break
        case let file?: try reader.read(Self.tilde(file, home: home), userFile: true, required: true)
        case nil:
            try reader.read(home + "/.ssh/config", userFile: true)
            try reader.read("/etc/ssh/ssh_config", userFile: false)
        }
        settings = reader.settings
        if let proxy = settings.proxy, !proxy.isEmpty {
            throw StreamError(
                "ssh option \(proxy) is not supported by the libssh2 transport (it connects directly; use the "
                    + "OpenSSH transport, or a chain of ssh hops)")
        }
        let original = method.hostname
        let hostName = try Self.percent(settings.hostName ?? original, origin: "HostName", tokens: ["h" as Character: original])
        host = hostName.lowercased()
        port = settings.port ?? 22
        user = settings.user.flatMap { $0.isEmpty ? nil : $0 } ?? me?.name ?? String(getuid())
        let tokens: [Character: String] = [
            "h": host, "n": original, "p": String(port), "r": user, "d": home, "u": me?.name ?? String(getuid()),
            "i": String(getuid()),
        ]
        func path(_ text: String, _ origin: String) throws(StreamError) -> String {
            Self.tilde(try Self.percent(text, origin: origin, tokens: tokens), home: home)
        }
        var files: [String] = []
        for file in settings.userKnownHostsFiles ?? ["~/.ssh/known_hosts", "~/.ssh/known_hosts2"] {
            files.append(try path(file, "UserKnownHostsFile"))
        }
        userKnownHosts = files
        globalKnownHosts = settings.globalKnownHostsFiles ?? ["/etc/ssh/ssh_known_hosts", "/etc/ssh/ssh_known_hosts2"]
        hashKnownHosts = settings.hashKnownHosts ?? false
        var keys: [String] = []
        for file in settings.identityFiles { keys.append(try path(file, "IdentityFile")) }
        identityFiles = keys
        identitiesOnly = settings.identitiesOnly ?? false
        switch settings.identityAgent {
        case nil, "SSH_AUTH_SOCK"?: agentSocket = environmentValue("SSH_AUTH_SOCK").flatMap { $0.isEmpty ? nil : $0 }
        case "none"?, ""?: agentSocket = nil
        case let value?:
            agentSocket = value.hasPrefix("$") ? environmentValue(String(value.dropFirst())) : try path(value, "IdentityAgent")
        }
        defaultKeys = ["id_ed25519", "id_ecdsa", "id_rsa"].map { home + "/.ssh/" + $0 }
        keepaliveInterval = settings.serverAliveInterval ?? 0
        keepaliveCount = settings.serverAliveCountMax ?? 3
        connectTimeout = settings.connectTimeout.flatMap { $0 > 0 ? $0 : nil }
        ignored = settings.ignored
    }

    /// The method's parameters as the options the OpenSSH path puts before
    /// `ssh_args` (``SSHMethod/command(stageArgv:stageCommand:)``), so they win.
    private static func commandLine(_ method: SSHMethod) -> SSHConfigSettings {
        var s = SSHConfigSettings()
        if let name = method.username, !name.isEmpty { s.user = name }
        if let port = method.port, (1...65535).contains(port) { s.port = port }
        let identity = method.identityFile ?? ""
        // Python truthiness, as Mitogen: an empty password does not count.
        let hasPassword = !(method.password?.value.isEmpty ?? true)
        if method.identitiesOnly && (!identity.isEmpty || hasPassword) { s.identitiesOnly = true }
        if !identity.isEmpty { s.identityFiles.append(identity) }
        if method.keepaliveEnabled {
            s.serverAliveInterval = method.keepaliveInterval
            s.serverAliveCountMax = method.keepaliveCount
        }
        switch method.checkHostKeys {
        case .enforce: s.strictHostKeyChecking = "yes"
        case .accept: s.strictHostKeyChecking = "ask"
        case .ignore:
            s.strictHostKeyChecking = "no"
            s.userKnownHostsFiles = ["/dev/null"]
            s.globalKnownHostsFiles = ["/dev/null"]
        }
        return s
    }

    /// ssh's flags that take no argument: ignored here (debug log).
    private static let plainFlags = Set("46AaCfGgKkMNnqsTtVvXxYy")

    /// Applies `ssh_args`; returns the `-F` file, if any (the last one, as ssh takes it).
    private static func applyArgs(_ words: [String], to settings: inout SSHConfigSettings) throws(StreamError) -> String? {
        var configFile: String?
        var i = 0
        func refuse(_ word: String) -> StreamError {
            StreamError(
                "ssh_args word \"\(word)\" is not supported by the libssh2 transport (it takes -o Option=value, "
                    + "-F file, -i file, -l user and -p port)")
        }
        while i < words.count {
            let word = words[i]
            i += 1
            guard word.hasPrefix("-"), word.count >= 2 else { throw refuse(word) }
            let flag = word[word.index(after: word.startIndex)]
            guard "oFilp".contains(flag) else {
                guard word.dropFirst().allSatisfy(plainFlags.contains) else { throw refuse(word) }
                logDebug("ssh transport=libssh2: ignoring the ssh_args flag \(word)")
                continue
            }
            var value = String(word.dropFirst(2))
            if value.isEmpty {
                guard i < words.count else { throw refuse(word) }
                value = words[i]
                i += 1
            }
            let origin = "ssh_args"
            switch flag {
            case "F": configFile = value
            case "i": try settings.apply(key: "IdentityFile", args: [value], origin: origin)
            case "l": try settings.apply(key: "User", args: [value], origin: origin)
            case "p": try settings.apply(key: "Port", args: [value], origin: origin)
            default:
                guard let (key, args) = try SSHConfigReader.split(value, origin: "ssh_args -o \"\(value)\""),
                    !["host", "match", "include"].contains(key.lowercased())
                else { throw refuse(value) }
                try settings.apply(key: key, args: args, origin: origin)
            }
        }
        return configFile
    }

    /// `~` and `~/x` under `home`, `~user/x` under that user's home.
    static func tilde(_ path: String, home: String) -> String {
        guard path.hasPrefix("~") else { return path }
        let slash = path.firstIndex(of: "/") ?? path.endIndex
        let name = path[path.index(after: path.startIndex)..<slash]
        if name.isEmpty { return home + path[slash...] }
        guard let entry = PasswdFile.entries().first(where: { $0.name == name }) else { return path }
        return entry.home + path[slash...]
    }

    /// ssh's `%` tokens (`%%` and the letters in `tokens`); any other is an error, as in ssh.
    static func percent(_ text: String, origin: String, tokens: [Character: String]) throws(StreamError) -> String {
        guard text.contains("%") else { return text }
        var out = ""
        var it = text.makeIterator()
        while let c = it.next() {
            guard c == "%" else {
                out.append(c)
                continue
            }
            guard let letter = it.next() else { throw StreamError("\(origin) \"\(text)\": ends in %") }
            if letter == "%" {
                out.append("%")
            } else if let value = tokens[letter] {
                out += value
            } else {
                throw StreamError("\(origin) \"\(text)\": unknown token %\(letter)")
            }
        }
        return out
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
