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

    /// Every hop through sudo, and three hosts failing three ways in the same
    /// run: one black-holed, one whose sshd is stopped, one whose sudo shows
    /// its prompt, takes the password and then never answers (no real sudo
    /// does that on demand, so that host's `sudo_path` is a stub that checks
    /// its argv). Each ends in its own timeout; the others' results arrive.
    @Test func sudoPromptThatNeverAnswersTimesOutAlone() throws {
        try warm()
        defer { FleetHosts.repair() }
        let dir = makeTempDirectory("fleet-hang-sudo")
        chmod(dir, 0o755)  // the stub runs as mitogen-bob
        defer { _ = system("rm -rf '\(dir)'") }
        let stub = try writeSudoStub(in: dir, user: "mitogen-alice", then: "exec sleep 120")
        try FleetHosts.blackHole(18)
        try FleetHosts.stopSSHD(19)
        let ssh = "?ssh_args=-F%20\(FleetHosts.sshConfig)"
        let targets = "ssh:mitogen-bob@fleet[01-19]\(ssh) -> sudo:mitogen-alice; ssh:mitogen-bob@fleet20\(ssh) -> sudo:mitogen-alice?sudo_path=\(stub)&password=env:HANG_PW"
        let start = Date()
        let r = try runCapturing(
            ["/bin/sh", "-c", "exec \"$0\" call --gather --timeout 3 --connect-timeout 5 \"$@\" 2>/dev/null", Self.tui, targets, "os.getuid()"],
            environment: ["HANG_PW=never-checked"])
        let seconds = Date().timeIntervalSince(start)
        let hostName = ProcessInfo.processInfo.hostName
        let alice = Int(getpwnam("mitogen-alice").pointee.pw_uid)
        #expect(r.status == .exited(1))
        #expect(r.output == """
            fleet[01-17]: \(alice)
            fleet[18-19]: error: Connection timed out. (after 5.0 s, while connecting)
            fleet20: error: error occurred on host \(hostName): Connection timed out. (after 5.0 s, while authenticating)

            """)
        #expect(seconds < 15, "took \(seconds) s")
    }

    /// `password=ask` in a fan-out asks once on the terminal, without echo,
    /// for every host that shares the method and user (a real sudo that
    /// wants alice's password on four hosts). One answer is typed: a second
    /// question would wait for another and the hosts would never finish.
    @Test func passwordAskAsksOnceForAllHosts() throws {
        try warm()
        let targets = "ssh:mitogen-alice@fleet[01-04]?ssh_args=-F%20\(FleetHosts.sshConfig) -> sudo:root?password=ask"
        let t = try TmuxDriver(width: 160, height: 60, args: ["call", "--gather", "--connect-timeout", "30", targets, "os.getuid()"])
        defer { t.close() }
        guard t.waitFor("password for sudo:root (every host):", timeout: 30) != nil else { return }
        t.type("alice-secret")
        t.keys("Enter")
        guard let s = t.waitFor("4 hosts: 4 ok, 0 failed", timeout: 30) else { return }
        #expect(s.contains("fleet[01-04]: 0"), "\(s)")
        #expect(!s.contains("alice-secret"), "the password was echoed:\n\(s)")
    }

    /// The console's `:open` of a pattern asks the same one question.
    @Test func consoleOpenOfAPatternAsksOnce() throws {
        try warm()
        let t = try TmuxDriver(width: 160, height: 40)
        defer { t.close() }
        guard t.waitFor("connected") != nil else { return }
        t.keys(":")
        t.type("open ssh:mitogen-alice@fleet[05-07]?ssh_args=-F%20\(FleetHosts.sshConfig) -> sudo:root?password=ask")
        t.keys("Enter")
        guard t.waitFor("password for sudo:root (every host):", timeout: 30) != nil else { return }
        t.type("alice-secret")
        t.keys("Enter")
        guard let s = t.waitFor("opened 3 targets, all marked", timeout: 30) else { return }
        #expect((5...7).allSatisfy { s.contains("*fleet0\($0)") }, "\(s)")
        t.quitCleanly(allowingStderrNotice: true)
    }

    /// One chain without a pattern keeps the one-context output (the bare
    /// result), though a fleet would label it `fleet01`; a pattern naming
    /// one host is a fleet.
    @Test func aPlainChainPrintsJustItsResult() throws {
        try warm()
        let plain = try call(["ssh:fleet01?ssh_args=-F%20\(FleetHosts.sshConfig)", "os.getuid()"])
        #expect(plain.status == .exited(0))
        #expect(plain.output.hasPrefix("\(uid)\n"), "\(plain.output)")
        let one = try call(["ssh:fleet[01]?ssh_args=-F%20\(FleetHosts.sshConfig)", "os.getuid()"])
        #expect(one.output == "fleet01: \(uid)\n1 host: 1 ok, 0 failed\n")
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

    /// The console: `:inventory`, `:open @web` (each host under its name,
    /// marked), `:call` on all of them while one context is stopped: the
    /// table shows the others' results, the straggler and the progress, then
    /// the full result, folding and the straggler's late answer.
    @Test func consoleResultsTableOverTheHosts() throws {
        try warm()
        let dir = NSTemporaryDirectory() + "fleet-tui-\(getpid())"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var ini = "[web]\n"
        for i in 1...8 { ini += "web0\(i) ansible_host=\(FleetHosts.address(i))\n" }
        ini += "[web:vars]\nansible_user=mitogen-key\nansible_ssh_common_args=\"-F \(FleetHosts.sshConfig)\"\n"
        try ini.write(toFile: dir + "/hosts.ini", atomically: true, encoding: .utf8)

        let t = try TmuxDriver(width: 160, height: 45, args: ["--slow-after", "1"])
        defer { t.close() }
        guard t.waitFor("connected") != nil else { return }
        t.keys(":")
        t.type("inventory \(dir)/hosts.ini")
        t.keys("Enter")
        t.waitFor("8 hosts; groups web")
        t.keys(":")
        t.type("open @web")
        t.keys("Enter")
        guard t.waitFor("opened 8 targets, all marked", timeout: 60) != nil else { return }
        guard let s = t.waitFor("*web08") else { return }
        #expect((1...8).allSatisfy { s.contains("*web0\($0)") }, "\(s)")

        // Stop web03's context: its call cannot answer until it is continued.
        // The tree row reads: name, method, id, pid.
        let row = s.split(separator: "\n").first { $0.contains("*web03") }?.split(separator: " ") ?? []
        guard let m = row.firstIndex(of: "ssh"), m + 2 < row.count, let pid = Int32(row[m + 2]) else {
            Issue.record("no pid for web03 in\n\(s)")
            return
        }
        kill(pid, SIGSTOP)
        defer { kill(pid, SIGCONT) }
        t.keys(":")
        t.type("call os.getuid()")
        t.keys("Enter")
        guard let table = t.waitFor("7/8 done, 0 failed, 1 slow", timeout: 30) else { return }
        #expect(table.contains("HOST"))
        for i in [1, 2, 4, 5, 6, 7, 8] {
            #expect(table.range(of: "web0\(i) +ok +[0-9.ms]+ +\(uid)", options: .regularExpression) != nil, "\(table)")
        }
        #expect(table.range(of: "!web03 +pending", options: .regularExpression) != nil, "\(table)")
        // Fold identical results; sort by state puts the straggler first.
        t.keys("z")
        #expect(t.waitUntil("folded rows") { $0.range(of: "web\\[01-02,04-08\\] +ok", options: .regularExpression) != nil } != nil)
        t.keys("s")
        t.waitFor("sort: state")
        // The straggler answers once continued.
        kill(pid, SIGCONT)
        guard t.waitFor("8/8 done, 0 failed, 0 slow", timeout: 30) != nil else { return }
        #expect(t.waitUntil("one folded row") { $0.range(of: "web\\[01-08\\] +ok", options: .regularExpression) != nil } != nil)
        // Enter opens the selected row's whole result; Esc closes it, then the table.
        t.keys("Enter")
        t.waitUntil("the detail") { $0.range(of: "web\\[01-08\\]  ok", options: .regularExpression) != nil }
        t.keys("Escape")
        t.waitFor("ELAPSED")
        t.keys("Escape")
        t.waitGone("ELAPSED")
        t.quitCleanly(allowingStderrNotice: true)
    }
}
