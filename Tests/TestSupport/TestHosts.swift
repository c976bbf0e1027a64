import Glibc
import MitogenLib
import MitogenSys

/// The real parts the connection tests use (made by
/// scripts/setup-test-hosts.sh, run by the README's test command as root):
/// test users with passwords and keys, sudo and doas rules, a busybox-only
/// root, and a private sshd on a random loopback port that the first test
/// starts and the process stops at exit.
public enum TestHosts {
    public static let keyDirectory = "/var/lib/mitogen-test/keys"
    public static let key = keyDirectory + "/id_ed25519"
    public static let busyboxSSH = "/var/lib/mitogen-test/busybox-ssh"
    /// The busybox-only root the `busyboxSSH` stand-in runs commands in.
    public static let busyboxRoot = "/var/lib/mitogen-test/busybox-root"
    public static let passwords = [
        "mitogen-pw": "mitogen-pw-secret", "mitogen-alice": "alice-secret", "mitogen-bob": "bob-secret",
    ]

    /// True when running as root with the test users and keys in place.
    public static let available: Bool = getuid() == 0 && access(key, R_OK) == 0 && access(busyboxSSH, X_OK) == 0

    /// The private sshd: its port and a known_hosts file that trusts it.
    public struct SSHD: Sendable {
        public let directory: String
        public let port: Int
        public var knownHosts: String { directory + "/known_hosts" }
    }

    /// Starts the private sshd once per test process (stopped at exit).
    public static let sshd: SSHD? = {
        guard available else { return nil }
        let dir = makeTempDirectory("mitogen-sshd")
        guard let result = try? runCapturing(["/bin/sh", packageRoot + "/scripts/test-sshd.sh", "start", dir]),
            result.status == .exited(0), let text = try? readWholeFile(dir + "/port"),
            let port = Int(String(decoding: text, as: UTF8.self).filter(\.isNumber))
        else { return nil }
        sshdDirectory = dir
        atexit {
            if let dir = sshdDirectory { _ = try? runCapturing(["/bin/sh", packageRoot + "/scripts/test-sshd.sh", "stop", dir]) }
        }
        return SSHD(directory: dir, port: port)
    }()

    nonisolated(unsafe) private static var sshdDirectory: String?
    // nonisolated(unsafe): written once inside `sshd`'s initialiser (which
    // Swift runs once, under its own lock), read only by the atexit handler.

    /// `ssh_args` that make ssh trust the private sshd's host key.
    public static func trustArgs(_ sshd: SSHD) -> [String] {
        ["-o", "UserKnownHostsFile=\(sshd.knownHosts)", "-o", "GlobalKnownHostsFile=/dev/null"]
    }
}
