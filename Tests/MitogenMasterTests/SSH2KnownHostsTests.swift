import Glibc
import MitogenLib
import Testing
import TestSupport

@testable import MitogenCore
@testable import MitogenMaster
@testable import MitogenSSH2
@testable import MitogenSys

/// known_hosts matching with OpenSSH's rules, checked against OpenSSH
/// itself: `ssh-keygen -F NAME -f FILE` lists the lines ssh's matcher
/// picks for NAME, and ours must pick the same ones.
@Suite struct KnownHostsMatcherTests {
    static let ed = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIB7l0HTuMKvXkIvpjHhQC3F2Ho3rXf4nKm3vf2Xq1eGU"
    static let other = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOJbObjfsFe2tnyac3w987tbw8kU+b3TMPQJyVYfxpL7"

    private func blob(_ line: String) throws -> [UInt8] {
        try #require(Base64.decode(line.split(separator: " ")[1]))
    }

    @Test func globsAsOpenSSHDoes() {
        #expect(SSHPattern.matches("10.77.0.11", "10.77.0.*"))
        #expect(SSHPattern.matches("10.77.0.11", "10.77.0.1?"))
        #expect(!SSHPattern.matches("10.77.0.1", "10.77.0.1?"))
        #expect(SSHPattern.matches("", "*"))
        #expect(SSHPattern.matches("web.example.com", "*.example.com"))
        #expect(!SSHPattern.matches("example.com", "*.example.com"))
        #expect(SSHPattern.matches("aXbXc", "a*b*c"))
        #expect(SSHPattern.matches("abcabcabd", "*abd"))
        #expect(!SSHPattern.matches("abc", "a*d"))
        #expect(SSHPattern.matchHostList("Web.Example.COM", "*.example.com") == .matched)
        #expect(SSHPattern.matchHostList("db.example.com", "*.example.com,!db.example.com") == .negated)
        #expect(SSHPattern.matchHostList("db.example.com", "!db.example.com,*.example.com") == .negated)
        #expect(SSHPattern.matchHostList("x.org", "*.example.com,!db.example.com") == .none)
        #expect(SSHPattern.matchHostLine("FLEET01", ["fleet01"]) == .none, "Host lines are case-sensitive")
        #expect(SSHPattern.matchHostLine("fleet01", ["fleet*", "!fleet02"]) == .matched)
        #expect(SSHPattern.matchHostLine("fleet02", ["fleet*", "!fleet02"]) == .negated)
    }

    @Test func hmacSHA1AndBase64() {
        // RFC 2202 test case 1 and 2.
        let one = HMACSHA1.mac(key: [UInt8](repeating: 0x0b, count: 20), message: Array("Hi There".utf8))
        #expect(one.map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined() == "b617318655057264e28bc0b6fb378c8ef146be00")
        let two = HMACSHA1.mac(key: Array("Jefe".utf8), message: Array("what do ya want for nothing?".utf8))
        #expect(Base64.encode(two) == "7/zfauXrL6LSdBbV8YTfnCWafHk=")
        #expect(Base64.decode("7/zfauXrL6LSdBbV8YTfnCWafHk=") == two)
        #expect(Base64.decode("YQ") == [0x61] && Base64.decode("YQ==") == [0x61])
        #expect(Base64.decode("Y") == nil && Base64.decode("Y!==") == nil && Base64.decode("YQ=a") == nil)
    }

    /// Every name's matching lines, ours against `ssh-keygen -F`.
    @Test func theSameLinesAsSSHKeygen() throws {
        let ed = Self.ed
        var lines = [
            "# a comment", "10.77.0.* \(ed)", "*.example.com,!db.example.com \(ed)", "[10.77.0.?]:2222 \(ed)",
            "web?.example.org,WEB10.example.org \(ed)", "![127.0.0.1]:*,[127.0.0.*]:* \(ed)",
            "@revoked *.bad.net \(ed)", "@cert-authority *.example.org \(ed)", "@bogus host.example.org \(ed)",
            "plain.example.net \(ed) a comment", "  indented.example.net\t\(ed)", "broken.example.net ssh-ed25519",
        ]
        let dir = makeTempDirectory()
        let hashedFile = dir + "/hashed"
        try createPrivateFile(hashedFile).writeAll(Array("hashed.example.net \(ed)\n[hashed.example.net]:2200 \(ed)\n".utf8))
        let hashing = try runCapturing(["/usr/bin/ssh-keygen", "-H", "-f", hashedFile])
        try #require(hashing.status == .exited(0), "\(hashing.output)")
        lines += String(decoding: try readWholeFile(hashedFile), as: UTF8.self).split(separator: "\n").map(String.init)
        let file = dir + "/known_hosts"
        try createPrivateFile(file).writeAll(Array((lines.joined(separator: "\n") + "\n").utf8))
        let parsed = KnownHostsFile(files: [file])
        let names = [
            "10.77.0.11", "10.77.0.250", "10.77.1.1", "www.example.com", "db.example.com", "DB.example.com",
            "[10.77.0.5]:2222", "[10.77.0.15]:2222", "web1.example.org", "web10.example.org", "[127.0.0.1]:22",
            "[127.0.0.2]:2200", "x.bad.net", "a.example.org", "host.example.org", "plain.example.net",
            "indented.example.net", "broken.example.net", "hashed.example.net",
            "[hashed.example.net]:2200", "other.example.net",
        ]
        for name in names {
            let oracle = try runCapturing(["/usr/bin/ssh-keygen", "-F", name, "-f", file])
            // "# Host NAME found: line N [REVOKED|CA]" (hashed lines print their number too).
            let expected = oracle.output.split(separator: "\n").compactMap { line -> Int? in
                let words = line.split(separator: " ")
                guard line.hasPrefix("# Host "), let at = words.firstIndex(of: "line"), at + 1 < words.count else { return nil }
                return Int(words[at + 1])
            }
            let ours = parsed.entries.filter { $0.names(name) }.map(\.line)
            #expect(ours == expected, "\(name): ssh-keygen -F says lines \(expected), we say \(ours)")
        }
        // Something matched at all (the oracle is not silently empty).
        #expect(parsed.entries.filter { $0.names("10.77.0.11") }.count == 1)
        #expect(parsed.entries.contains { $0.line == 9 } == false, "an unknown @marker line is skipped")
    }

    @Test func checkDecidesAsOpenSSH() throws {
        let ed = try blob(Self.ed)
        let other = try blob(Self.other)
        let file = KnownHostsFile(
            text: """
                10.0.0.* \(Self.ed)
                [10.0.1.*]:2222 \(Self.other)
                10.0.1.5 \(Self.ed)
                @revoked 10.0.2.* \(Self.ed)
                10.0.2.7 \(Self.ed)
                @cert-authority 10.0.3.* \(Self.ed)
                10.0.4.1 \(Self.other)
                10.0.4.1 \(Self.ed)
                10.0.5.1 ssh-rsa \(Self.ed.split(separator: " ")[1])
                """)
        #expect(file.check(host: "10.0.0.9", port: 22, key: ed) == .known(file: "<text>", line: 1))
        #expect(file.check(host: "10.0.0.9", port: 22, key: other) == .changed(file: "<text>", line: 1))
        #expect(file.check(host: "10.0.9.9", port: 22, key: ed) == .unknown)
        // Off port 22 the name is [host]:port; a key listed for the bare host
        // is accepted when that name is unknown ("found matching key w/out port")...
        #expect(file.check(host: "10.0.0.9", port: 2200, key: ed) == .known(file: "<text>", line: 1))
        // ...but a changed key for [host]:port stays changed, and no bare match means unknown.
        #expect(file.check(host: "10.0.1.5", port: 2222, key: ed) == .changed(file: "<text>", line: 2))
        #expect(file.check(host: "10.0.0.9", port: 2200, key: other) == .unknown)
        #expect(file.check(host: "10.0.2.7", port: 22, key: ed) == .revoked(file: "<text>", line: 4))
        #expect(file.check(host: "10.0.3.1", port: 22, key: ed) == .unknown, "@cert-authority is no plain host key")
        #expect(file.check(host: "10.0.4.1", port: 22, key: ed) == .known(file: "<text>", line: 8))
        // A line whose type word is not its key's type is skipped, as ssh's
        // key parser refuses it (ssh-keygen -F, which does not parse keys, lists it).
        #expect(file.check(host: "10.0.5.1", port: 22, key: ed) == .unknown)
        #expect(file.knownTypes(host: "10.0.1.5", port: 2222) == ["ssh-ed25519"])
        #expect(file.knownTypes(host: "10.0.3.1", port: 22).isEmpty)
        // Narrowed to a host's names, the decisions stay the same.
        let narrow = file.narrowed(to: ["[10.0.2.7]:2222", "10.0.2.7"])
        #expect(narrow.entries.map(\.line) == [4, 5])
        // Revoked for the bare host refuses at another port too (OpenSSH 9.2
        // warns, then trusts it as a new [host]:port key).
        #expect(narrow.check(host: "10.0.2.7", port: 2222, key: ed) == .revoked(file: "<text>", line: 4))
        #expect(narrow.check(host: "10.0.2.7", port: 2222, key: other) == .unknown)
        // A name we hash is found by ssh-keygen.
        let dir = makeTempDirectory()
        let hashed = dir + "/hashed"
        try createPrivateFile(hashed).writeAll(Array("\(KnownHostsFile.hash("[Web.Example]:2222")) \(Self.ed)\n".utf8))
        let found = try runCapturing(["/usr/bin/ssh-keygen", "-F", "[web.example]:2222", "-f", hashed])
        #expect(found.output.contains("found: line 1"), "\(found.output)")
        #expect(KnownHostsFile(files: [hashed]).check(host: "WEB.example", port: 2222, key: ed) == .known(file: hashed, line: 1))
        // The parse is reused only while the file is unchanged: a line appended counts at once.
        #expect(KnownHostsFile(files: [hashed]).check(host: "new.example", port: 22, key: ed) == .unknown)
        let append = try openPrivateAppend(hashed)
        try append.writeAll(Array("new.example \(Self.ed)\n".utf8))
        append.close()
        #expect(KnownHostsFile(files: [hashed]).check(host: "new.example", port: 22, key: ed) == .known(file: hashed, line: 2))
    }
}
