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
    /// Its address keeps a permanent neighbour entry, so the kernel sends
    /// SYNs into the void instead of failing fast with "No route to host".
    public static func blackHole(_ i: Int) throws {
        let nn = (i < 10 ? "0" : "") + String(i)
        let peer = try runCapturing(["/usr/sbin/ip", "netns", "exec", "mtgfleet-\(nn)", "cat", "/sys/class/net/eth0/address"])
        let lladdr = peer.output.filter { !$0.isWhitespace }
        _ = try runCapturing(["/usr/sbin/ip", "neigh", "replace", address(i), "lladdr", lladdr, "nud", "permanent", "dev", "mtgfleet0"])
        _ = try runCapturing(["/usr/sbin/ip", "link", "set", "mtgfv-\(nn)", "down"])
    }

    /// SIGSTOPs host `i`'s sshd: connections open but nothing answers.
    public static func stopSSHD(_ i: Int) throws {
        let pidText = try readWholeFile(directory + "/sshd-" + (i < 10 ? "0" : "") + String(i) + ".pid")
        guard let pid = Int32(String(decoding: pidText, as: UTF8.self).filter(\.isNumber)) else { return }
        kill(pid, SIGSTOP)
    }
}
