import Glibc
import MitogenSys

/// Real hosts for the fleet tests: `count` network namespaces on a bridge,
/// each with its own address (10.77.0.11 ...) and sshd (scripts/test-netns.sh).
/// They are made once and reused across runs; `repair` undoes what a test
/// broke (a link down, an sshd stopped).
public enum FleetHosts {
    public static let directory = "/var/lib/mitogen-test/fleet"
    public static let count = 22
    /// The ssh_config naming fleet01...fleetNN (user mitogen-key, test key).
    public static let sshConfig = directory + "/ssh_config"
    public static let knownHosts = directory + "/known_hosts"

    /// True when the hosts are up (root, test users in place, namespaces made).
    public static let ready: Bool = TestHosts.available && repair()

    /// (Re)starts whatever is missing, down or stopped; true on success.
    @discardableResult
    public static func repair() -> Bool {
        let r = try? runCapturing(["/bin/sh", packageRoot + "/scripts/test-netns.sh", "start", directory, String(count)])
        return r?.status == .exited(0)
    }

    public static func name(_ i: Int) -> String { "fleet" + (i < 10 ? "0" : "") + String(i) }
    public static func address(_ i: Int) -> String { "10.77.0.\(10 + i)" }

    /// Takes host `i`'s link down: its packets vanish, as a dead host's do.
    public static func blackHole(_ i: Int) throws {
        let link = "mtgfv-" + (i < 10 ? "0" : "") + String(i)
        _ = try runCapturing(["/usr/sbin/ip", "link", "set", link, "down"])
    }

    /// SIGSTOPs host `i`'s sshd: connections open but nothing answers.
    public static func stopSSHD(_ i: Int) throws {
        let pidText = try readWholeFile(directory + "/sshd-" + (i < 10 ? "0" : "") + String(i) + ".pid")
        guard let pid = Int32(String(decoding: pidText, as: UTF8.self).filter(\.isNumber)) else { return }
        kill(pid, SIGSTOP)
    }
}
