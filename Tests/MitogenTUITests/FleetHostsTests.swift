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

    /// The child is in the shared cache before a test's tight timeouts apply.
    func warm() throws {
        let r = try call(["--connect-timeout", "30", "ssh:fleet01?ssh_args=-F%20\(FleetHosts.sshConfig)", "os.getpid()"])
        #expect(r.status == .exited(0), "\(r.output)")
    }

    @Test func patternOverAllHostsWithOneDeadAndOneStopped() throws {
        try warm()
        defer { FleetHosts.repair() }
        try FleetHosts.blackHole(21)
        try FleetHosts.stopSSHD(22)
        let r = try call(["--gather", "--timeout", "3", "--connect-timeout", "3", pattern, "os.getuid()"])
        #expect(r.status == .exited(1))
        #expect(r.output == """
            fleet[01-20]: \(uid)
            fleet[21-22]: error: Connection timed out. (after 3.0 s, while connecting)
            22 hosts: 20 ok, 2 failed

            """)
        // Each dead host ended in its own timeout, concurrently with the rest:
        // well under two timeouts back to back, let alone 22 connects in turn.
        #expect(r.seconds < 12, "took \(r.seconds) s")

        let plain = try call(["--timeout", "3", "--connect-timeout", "3", pattern, "socket.gethostname()", "os.getuid()"])
        var lines = plain.output.split(separator: "\n").map(String.init)
        #expect(lines.removeLast() == "22 hosts: 20 ok, 2 failed")
        var buffer = [CChar](repeating: 0, count: 256)
        gethostname(&buffer, 255)
        let hostname = String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        let expected = (1...20).flatMap { i in
            ["\(FleetHosts.name(i)): socket.gethostname(): '\(hostname)'", "\(FleetHosts.name(i)): os.getuid(): \(uid)"]
        } + (21...22).map { "\(FleetHosts.name($0)): error: Connection timed out. (after 3.0 s, while connecting)" }
        #expect(lines == expected)
    }

    @Test func jsonHasOneObjectPerHostAndCall() throws {
        try warm()
        defer { FleetHosts.repair() }
        try FleetHosts.blackHole(3)
        let r = try call(["--json", "--timeout", "3", "--connect-timeout", "3", "ssh:fleet[01-03]?ssh_args=-F%20\(FleetHosts.sshConfig)", "os.getuid()", #"mitogen.echo("x")"#])
        #expect(r.status == .exited(1))
        let normalized = r.output.replacingOccurrences(of: #""elapsed_us":[0-9]+"#, with: #""elapsed_us":N"#, options: .regularExpression)
        func chain(_ i: Int) -> String { "ssh:fleet0\(i)?ssh_args=-F%20\(FleetHosts.sshConfig)" }
        var expected = ""
        for i in 1...2 {
            expected += #"{"host":"fleet0\#(i)","chain":"\#(chain(i))","function":"os.getuid","result":\#(uid),"elapsed_us":N}"# + "\n"
            expected += #"{"host":"fleet0\#(i)","chain":"\#(chain(i))","function":"mitogen.echo","result":"x","elapsed_us":N}"# + "\n"
        }
        for function in ["os.getuid", "mitogen.echo"] {
            expected += #"{"host":"fleet03","chain":"\#(chain(3))","function":"\#(function)","stage":"connect","error":"Connection timed out. (after 3.0 s, while connecting)","elapsed_us":N}"# + "\n"
        }
        expected += "3 hosts: 2 ok, 1 failed\n"
        #expect(normalized == expected)
    }
}
