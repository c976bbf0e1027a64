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
///   is appended to the first user file, as ssh's `yes` answer does (hashed
///   under `HashKnownHosts yes`).
///
/// Under both, a key on a matching `@revoked` line is refused. libssh2 only
/// hands over the server's key; ``KnownHostsFile`` applies OpenSSH's rules
/// (hashed names, patterns and negations, `[host]:port`).
enum KnownHosts {
    /// - Throws: `StreamError` kind `.hostKey` with Mitogen's text.
    static func check(
        session: OpaquePointer, options: SSH2Options, files: KnownHostsFile, policy: SSHMethod.HostKeyPolicy
    ) throws(StreamError) {
        guard policy != .ignore else { return }
        var length = 0
        var type: Int32 = 0
        guard let raw = libssh2_session_hostkey(session, &length, &type), length > 0 else {
            throw StreamError(PromptDialect.sshHostKeyFailed + " (the server sent no host key)", kind: .hostKey)
        }
        let key = Array(UnsafeRawBufferPointer(start: raw, count: length))
        guard let typeName = KnownHostsFile.keyType(key) else {
            throw StreamError(PromptDialect.sshHostKeyFailed + " (the server's host key does not parse)", kind: .hostKey)
        }
        let name = KnownHostsFile.lookupName(host: options.host, port: options.port)
        switch files.check(host: options.host, port: options.port, key: key) {
        case .known:
            return
        case .revoked(let file, let line):
            throw StreamError(
                PromptDialect.sshHostKeyFailed + " (the \(typeName) host key of \(name) is marked @revoked in \(file) "
                    + "line \(line))", kind: .hostKey)
        case .unknown where policy == .accept:
            let field = options.hashKnownHosts ? KnownHostsFile.hash(name) : name
            try record(options: options, line: "\(field) \(typeName) \(Base64.encode(key))\n")
        case .unknown, .changed:
            throw StreamError(PromptDialect.sshHostKeyFailed, kind: .hostKey)
        }
    }

    /// The host key algorithms to ask for: the types `known_hosts` lists
    /// for this host first (hashed and pattern entries included), then
    /// ``SSH2Algorithms/hostKey``, as OpenSSH orders them, so a host known by
    /// its ECDSA key is not failed for offering Ed25519 too.
    static func hostKeyPreference(options: SSH2Options, files: KnownHostsFile) -> String {
        let defaults = SSH2Algorithms.hostKey.split(separator: ",").map(String.init)
        var known: [String] = []
        for type in files.knownTypes(host: options.host, port: options.port) {
            for algorithm in type == "ssh-rsa" ? ["rsa-sha2-512", "rsa-sha2-256", "ssh-rsa"] : [type]
            where !known.contains(algorithm) && defaults.contains(algorithm) {
                known.append(algorithm)
            }
        }
        return (known + defaults.filter { !known.contains($0) }).joined(separator: ",")
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
}
