import Glibc
import MitogenLib
import Testing
import TestSupport

@testable import MitogenCore
@testable import MitogenMaster
@testable import MitogenSSH2
@testable import MitogenSys

/// The libssh2 transport's ssh_config subset, resolved as OpenSSH resolves
/// it: `ssh -G -F FILE [options] HOST` prints ssh's own answer, and ours
/// must agree on every option we honour.
@Suite struct SSHConfigResolutionTests {
    /// ssh's resolved options (`ssh -G`), key to words.
    private func sshG(_ args: [String], _ host: String) throws -> [String: [String]] {
        let result = try runCapturing(["/usr/bin/ssh", "-G"] + args + [host])
        try #require(result.status == .exited(0), "\(result.output)")
        var options: [String: [String]] = [:]
        for line in result.output.split(separator: "\n") {
            let words = line.split(separator: " ").map(String.init)
            guard let key = words.first, words.count > 1 else { continue }
            options[key, default: []] += Array(words.dropFirst())
        }
        return options
    }

    private func write(_ path: String, _ text: String) throws {
        unlink(path)
        try createPrivateFile(path).writeAll(Array(text.utf8))
    }

    @Test func theSameAnswersAsSSHDashG() throws {
        let dir = makeTempDirectory()
        let config = dir + "/config"
        try write(
            dir + "/inc1.conf",
            """
            Host alias3
                HostName three.%h.example
                Port 2203

            """)
        try write(
            config,
            """
            # the first value obtained wins
            Host alias1
                HostName 10.1.2.3
                Port 2201
            Host "alias*" !alias9
                User cfguser
                IdentityFile ~/k1
                IdentityFile /abs/k2
                UserKnownHostsFile ~/kh1 /tmp/kh2
                ConnectTimeout 1m30s
                ServerAliveInterval 7
                ServerAliveCountMax 5
            Host alias1 alias9
                HostName ignored.example
                User first-wins
                IdentityFile /abs/k3
            Host *
                HashKnownHosts yes
                IdentitiesOnly=yes
                GlobalKnownHostsFile = /tmp/gkh
                SendEnv LANG LC_*
                Include \(dir)/inc*.conf

            """)
        let cases: [(String, [String])] = [
            ("alias1", []), ("alias2", []), ("alias3", []), ("alias9", []), ("other", []),
            ("alias1", ["-o", "User=cli", "-p", "2222", "-o", "Port=2299"]),
            ("alias2", ["-o", "HostName=cli.example", "-oUserKnownHostsFile=/dev/null", "-i", "/abs/cli"]),
        ]
        for (host, extra) in cases {
            let ssh = try sshG(["-F", config] + extra, host)
            let ours = try SSH2Options(SSHMethod(hostname: host, sshArgs: ["-F", config] + extra, keepaliveEnabled: false))
            let label = "\(host) \(extra)"
            #expect([ours.host] == ssh["hostname"], "\(label)")
            #expect([ours.user] == ssh["user"], "\(label)")
            #expect([String(ours.port)] == ssh["port"], "\(label)")
            #expect(ours.userKnownHosts == ssh["userknownhostsfile"], "\(label)")
            #expect(ours.globalKnownHosts == ssh["globalknownhostsfile"], "\(label)")
            #expect([ours.connectTimeout.map(String.init) ?? "none"] == ssh["connecttimeout"], "\(label)")
            #expect([String(ours.keepaliveInterval)] == ssh["serveraliveinterval"], "\(label)")
            #expect([String(ours.keepaliveCount)] == ssh["serveralivecountmax"], "\(label)")
            #expect([ours.hashKnownHosts ? "yes" : "no"] == ssh["hashknownhosts"], "\(label)")
            #expect([ours.identitiesOnly ? "yes" : "no"] == ssh["identitiesonly"], "\(label)")
            // ssh -G prints identity files unexpanded and leaves out a missing -i file.
            let sshKeys = (ssh["identityfile"] ?? []).map { SSH2Options.tilde($0, home: ours.home) }
            if ours.identityFiles.isEmpty {
                // None named: ssh lists its defaults, ours are among them.
                #expect(ours.defaultKeys.allSatisfy(sshKeys.contains), "\(label)")
            } else {
                #expect(ours.identityFiles.filter { $0 != "/abs/cli" } == sshKeys, "\(label)")
            }
        }
        // The option ssh has and we do not is named in the ignored list.
        let ours = try SSH2Options(SSHMethod(hostname: "alias2", sshArgs: ["-F", config]))
        #expect(ours.ignored == ["SendEnv (\(config) line 21)"])
    }

    @Test func theMethodsParametersComeFirst() throws {
        let dir = makeTempDirectory()
        let config = dir + "/config"
        try write(
            config,
            """
            Host box
                HostName 10.9.9.9
                User cfguser
                Port 2200
                IdentityFile /cfg/key_%h_%r_%p
                ServerAliveInterval 99
                UserKnownHostsFile /cfg/known_hosts

            """)
        let method = SSHMethod(
            hostname: "box", username: "param", sshArgs: ["-F", config, "-o", "User=args"], port: 2222,
            checkHostKeys: .ignore, identityFile: "/param/key", keepaliveInterval: 4)
        let ours = try SSH2Options(method)
        #expect(ours.host == "10.9.9.9" && ours.user == "param" && ours.port == 2222)
        #expect(ours.identityFiles == ["/param/key", "/cfg/key_10.9.9.9_param_2222"])
        #expect(ours.identitiesOnly, "identities_only with an identity file is IdentitiesOnly yes")
        #expect(ours.keepaliveInterval == 4 && ours.keepaliveCount == 3)
        #expect(ours.userKnownHosts == ["/dev/null"] && ours.globalKnownHosts == ["/dev/null"], "ignore empties the files as on the OpenSSH path")
        // The OpenSSH path builds the same order: the parameters' options precede ssh_args.
        let argv = try method.command(stageArgv: [], stageCommand: "true")
        #expect(argv.firstIndex(of: "-l")! < argv.firstIndex(of: "-F")!)
        // Keepalive off: the config's interval applies.
        var quiet = method
        quiet.keepaliveEnabled = false
        #expect(try SSH2Options(quiet).keepaliveInterval == 99)
        // -F none reads no file; a missing -F file is an error, as for ssh.
        #expect(try SSH2Options(SSHMethod(hostname: "box", sshArgs: ["-F", "none"])).host == "box")
        #expect(throws: StreamError.self) { try SSH2Options(SSHMethod(hostname: "box", sshArgs: ["-F", dir + "/missing"])) }
    }

    @Test func matchBlocksAreSkippedAndBadValuesNamed() throws {
        let dir = makeTempDirectory()
        let config = dir + "/config"
        try write(
            config,
            """
            Match host box
                User matched
            Host box
                User hosted
            Host bad
                Port 70000

            """)
        #expect(try SSH2Options(SSHMethod(hostname: "box", sshArgs: ["-F", config])).user == "hosted")
        do {
            _ = try SSH2Options(SSHMethod(hostname: "bad", sshArgs: ["-F", config]))
            Issue.record("a bad port was accepted")
        } catch {
            #expect(error.message.contains("\(config) line 6") && error.message.contains("70000"), "\(error.message)")
        }
        // Quoting, `=` forms, comments.
        #expect(try SSHConfigReader.split("  IdentityFile \"/a b/c\" # note", origin: "") ?? ("", []) == ("IdentityFile", ["/a b/c"]))
        #expect(try SSHConfigReader.split("Port=22", origin: "") ?? ("", []) == ("Port", ["22"]))
        #expect(try SSHConfigReader.split("Port = 22", origin: "") ?? ("", []) == ("Port", ["22"]))
        #expect(try SSHConfigReader.split("   # only a comment", origin: "") == nil)
        #expect(throws: StreamError.self) { try SSHConfigReader.split("User \"open", origin: "") }
        #expect(try SSHConfigSettings.seconds("1h30m", "t", "") == 5400)
        #expect(throws: StreamError.self) { try SSHConfigSettings.seconds("ten", "t", "") }
    }

    @Test func sshArgsWordsItCannotHonourAreRefused() throws {
        #expect(throws: StreamError.self) { try SSH2Options(SSHMethod(hostname: "h", sshArgs: ["-J", "jump"])) }
        #expect(throws: StreamError.self) { try SSH2Options(SSHMethod(hostname: "h", sshArgs: ["-F", "none", "-o", "ProxyCommand=nc %h %p"])) }
        #expect(throws: StreamError.self) { try SSH2Options(SSHMethod(hostname: "h", sshArgs: ["stray"])) }
        // A flag without an argument and ProxyJump none are harmless.
        let ok = try SSH2Options(SSHMethod(hostname: "h", sshArgs: ["-F", "none", "-q", "-4", "-o", "ProxyJump=none"]))
        #expect(ok.host == "h")
    }
}

/// A config file alone (`ssh_args=-F FILE`) takes the libssh2 transport to
/// the private sshd exactly as it takes the OpenSSH one.
@Suite(.serialized, .enabled(if: TestHosts.available, "needs root and scripts/setup-test-hosts.sh"))
struct SSH2ConfigLiveTests {
    init() { LibSSH2Transport.register() }

    private func uid(_ name: String) -> Int? { PasswdFile.entries().first { $0.name == name }.map { Int($0.uid) } }

    @Test func aConfigFileAloneReachesTheHostOnBothTransports() throws {
        let server = try #require(TestHosts.sshd, "the private sshd did not start")
        let config = makeTempDirectory() + "/config"
        try createPrivateFile(config).writeAll(
            Array(
                """
                Host loop
                    HostName 127.0.0.1
                    Port \(server.port)
                    User mitogen-key
                    IdentityFile \(TestHosts.key)
                    IdentitiesOnly yes
                    UserKnownHostsFile \(server.knownHosts)
                    GlobalKnownHostsFile /dev/null

                """.utf8))
        try withTestRouter { router in
            for transport in ["openssh", "libssh2"] {
                for (target, user) in [("loop", "mitogen-key"), ("mitogen-bob@loop", "mitogen-bob")] {
                    let spec = try ChainSpec.parse("ssh:\(target)?transport=\(transport)&ssh_args=-F%20\(config)")
                    let ctx = try router.connect(chain: spec)
                    #expect(try ctx.callValue("os.getuid", timeout: 10).intValue == uid(user), "\(transport) \(target)")
                    let peer = try ctx.callValue("os.getenv", args: ["SSH_CONNECTION"], timeout: 10).stringValue ?? ""
                    #expect(peer.hasSuffix("127.0.0.1 \(server.port)"), "\(transport) \(target): \(peer)")
                }
            }
        }
    }

    @Test func connectTimeoutBoundsTheHandshake() throws {
        // A listening socket nobody accepts on: TCP completes, SSH never speaks.
        let listener = try SilentListener()
        defer { close(listener.fd) }
        let port = listener.port
        try withTestRouter { router in
            let start = monotonicNow()
            do {
                _ = try router.ssh(
                    hostname: "127.0.0.1", sshArgs: ["-F", "none", "-o", "ConnectTimeout=1"], port: port, transport: .libssh2,
                    connectTimeout: 20)
                Issue.record("a silent host answered")
            } catch let error as StreamError {
                #expect(error.kind == .timeout)
                #expect(error.message.contains("ConnectTimeout 1 s") && error.message.contains("handshake"), "\(error.message)")
            }
            #expect(monotonicNow() - start < 5, "ConnectTimeout=1 did not bound the handshake (connect_timeout is 20 s)")
        }
    }
}

/// The fleet hosts' ssh_config (scripts/test-netns.sh: aliases, one
/// wildcard known_hosts line) serves the libssh2 transport unchanged.
@Suite(.serialized, .enabled(if: FleetHosts.ready, "needs root, the test users and network namespaces"))
struct SSH2FleetConfigTests {
    init() { LibSSH2Transport.register() }

    @Test func fleetAliasesThroughTheirConfigFile() throws {
        try withTestRouter { router in
            for i in [1, FleetHosts.count] {
                let spec = try ChainSpec.parse(
                    "ssh:\(FleetHosts.name(i))?transport=libssh2&ssh_args=-F%20\(FleetHosts.sshConfig)")
                let ctx = try router.connect(chain: spec)
                let peer = try ctx.callValue("os.getenv", args: ["SSH_CONNECTION"], timeout: 10).stringValue ?? ""
                #expect(peer.hasSuffix("\(FleetHosts.address(i)) 22"), "\(FleetHosts.name(i)): \(peer)")
            }
        }
    }
}
