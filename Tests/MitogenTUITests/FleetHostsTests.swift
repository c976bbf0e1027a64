import Foundation
import Glibc
import Testing

import MitogenSys
import TestSupport

/// Fan-out against real hosts: 22 network namespaces, each with its own
/// address and sshd (scripts/test-netns.sh), named by patterns and by INI
/// and YAML inventories, with one host black-holed and one stopped. One
/// suite, serialized: the tests break hosts and repair them.
@Suite(.serialized, .enabled(if: FleetHosts.ready, "needs root, the test users (scripts/setup-test-hosts.sh) and network namespaces"))
struct FleetHostsTests {
    static let tui = TmuxDriver.binary
    let pattern = "ssh:fleet[01-22]?ssh_args=-F%20\(FleetHosts.sshConfig)"
    let uid = Int(getpwnam("mitogen-key").pointee.pw_uid)

    /// Runs `mitogen-tui call ARGS`: its stdout, then the summary it ends
    /// stderr with (the logs before it are not part of the contract).
    func call(_ args: [String]) throws -> (output: String, status: ProcessStatus, seconds: Double) {
        let start = Date()
        let err = NSTemporaryDirectory() + "fleet-\(getpid())-\(UUID().uuidString).stderr"
        defer { unlink(err) }
        let r = try runCapturing(["/bin/sh", "-c", "exec \"$0\" call \"$@\" 2>\"$ERR\"", Self.tui] + args, environment: ["ERR=\(err)"])
        let stderr = (try? String(contentsOfFile: err, encoding: .utf8)) ?? ""
        let summary = stderr.split(separator: "\n").last.map { $0 + "\n" } ?? ""
        return (r.output + summary, r.status, Date().timeIntervalSince(start))
    }

    /// The child is in the users' caches (shared by all hosts) before a
    /// test's tight timeouts apply.
    func warm() throws {
        for user in ["mitogen-key", "mitogen-bob"] {
            let r = try call(["--connect-timeout", "60", "ssh:\(user)@fleet01?ssh_args=-F%20\(FleetHosts.sshConfig)", "os.getpid()"])
            #expect(r.status == .exited(0), "\(r.output)")
        }
    }

    @Test func patternOverAllHostsWithOneDeadAndOneStopped() throws {
        try warm()
        defer { FleetHosts.repair() }
        try FleetHosts.blackHole(21)
        try FleetHosts.stopSSHD(22)
        let r = try call(["--gather", "--timeout", "3", "--connect-timeout", "5", pattern, "os.getuid()"])
        #expect(r.status == .exited(1))
        #expect(r.output == """
            fleet[01-20]: \(uid)
            fleet[21-22]: error: Connection timed out. (after 5.0 s, while connecting)
            22 hosts: 20 ok, 2 failed

            """)
        // Each dead host ended in its own timeout, concurrently with the rest:
        // well under two timeouts back to back, let alone 22 connects in turn.
        #expect(r.seconds < 15, "took \(r.seconds) s")
    }

    @Test func jsonHasOneObjectPerHostAndCall() throws {
        try warm()
        defer { FleetHosts.repair() }
        try FleetHosts.blackHole(3)
        let r = try call(["--json", "--timeout", "3", "--connect-timeout", "5", "ssh:fleet[01-03]?ssh_args=-F%20\(FleetHosts.sshConfig)", "os.getuid()", #"mitogen.echo("x")"#])
        #expect(r.status == .exited(1))
        let normalized = r.output.replacingOccurrences(of: #""elapsed_us":[0-9]+"#, with: #""elapsed_us":N"#, options: .regularExpression)
        func chain(_ i: Int) -> String { "ssh:fleet0\(i)?ssh_args=-F%20\(FleetHosts.sshConfig)" }
        var expected = ""
        for i in 1...2 {
            expected += #"{"host":"fleet0\#(i)","chain":"\#(chain(i))","function":"os.getuid","result":\#(uid),"elapsed_us":N}"# + "\n"
            expected += #"{"host":"fleet0\#(i)","chain":"\#(chain(i))","function":"mitogen.echo","result":"x","elapsed_us":N}"# + "\n"
        }
        for function in ["os.getuid", "mitogen.echo"] {
            expected += #"{"host":"fleet03","chain":"\#(chain(3))","function":"\#(function)","stage":"connect","error":"Connection timed out. (after 5.0 s, while connecting)","elapsed_us":N}"# + "\n"
        }
        expected += "3 hosts: 2 ok, 1 failed\n"
        #expect(normalized == expected)
    }

    /// An INI and a YAML inventory name the same hosts by address, user, key
    /// and become; `@group` selects them.
    @Test func iniAndYAMLInventoriesNameTheHosts() throws {
        try warm()
        let dir = NSTemporaryDirectory() + "fleet-inv-\(getpid())"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let trust = "-o UserKnownHostsFile=\(FleetHosts.knownHosts) -o GlobalKnownHostsFile=/dev/null"
        var ini = "[web]\n"
        for i in 1...11 { ini += "web\(i < 10 ? "0" : "")\(i) ansible_host=\(FleetHosts.address(i))\n" }
        ini += "[db]\n"
        for i in 12...22 { ini += "db\(i) ansible_host=\(FleetHosts.address(i)) ansible_user=mitogen-bob\n" }
        ini += """
            [db:vars]
            ansible_become=true
            ansible_become_user=mitogen-alice
            [fleet:children]
            web
            db
            [fleet:vars]
            ansible_user=mitogen-key
            ansible_ssh_private_key_file=\(TestHosts.key)
            ansible_ssh_common_args="\(trust)"

            """
        var yaml = "all:\n  vars:\n    ansible_user: mitogen-key\n    ansible_ssh_private_key_file: \(TestHosts.key)\n"
        yaml += "    ansible_ssh_common_args: \"\(trust)\"\n  children:\n    web:\n      hosts:\n"
        for i in 1...11 { yaml += "        web\(i < 10 ? "0" : "")\(i): {ansible_host: \(FleetHosts.address(i))}\n" }
        yaml += "    db:\n      vars: {ansible_user: mitogen-bob, ansible_become: yes, ansible_become_user: mitogen-alice}\n      hosts:\n"
        for i in 12...22 { yaml += "        db\(i):\n          ansible_host: \(FleetHosts.address(i))\n" }
        try ini.write(toFile: dir + "/hosts.ini", atomically: true, encoding: .utf8)
        try yaml.write(toFile: dir + "/hosts.yml", atomically: true, encoding: .utf8)
        let alice = Int(getpwnam("mitogen-alice").pointee.pw_uid)
        for file in ["hosts.ini", "hosts.yml"] {
            let r = try call(["--gather", "--timeout", "10", "--connect-timeout", "30", "--inventory", dir + "/" + file, "@web;@db", "os.getuid()"])
            #expect(r.status == .exited(0), "\(file): \(r.output)")
            #expect(r.output == "web[01-11]: \(uid)\ndb[12-22]: \(alice)\n22 hosts: 22 ok, 0 failed\n", "\(file)")
        }
        let missing = try call(["--inventory", dir + "/hosts.yml", "@nope", "os.getuid()"])
        #expect(missing.status == .exited(64))
    }
}
