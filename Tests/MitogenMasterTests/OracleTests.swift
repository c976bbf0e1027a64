import Testing

import MitogenCore
import MitogenWire
@testable import MitogenMaster

/// Compares every case of `method-argvs.json` (Mitogen 0.3.54's own
/// connection classes, made by scripts/method_argv_oracle.py in the main
/// repository) with our methods built from the same parameters through the
/// chain-hop parser.
@Suite(.enabled(if: fixture("method-argvs.json") != nil, "method-argvs.json not found"))
struct OracleTests {
    static let cases: [JSON] = {
        guard let bytes = fixture("method-argvs.json"), let json = try? JSON.parse(bytes), let list = json.array else { return [] }
        return list
    }()

    /// The case's parameters as hop options (lists as shell words); the
    /// hostname, password and python_path are taken out.
    static func build(_ c: JSON) throws -> any SpawnedMethod {
        let method = c["method"]?.string ?? ""
        var options: [HopOption] = []
        var password: Secret?
        var hostname: String?
        if case .object(let pairs)? = c["params"] {
            for (key, value) in pairs {
                switch (key, value) {
                case ("python_path", _): continue  // Our boot command has no interpreter.
                case ("password", .string(let s)): password = Secret(s)
                case ("hostname", .string(let s)) where method == "ssh": hostname = s
                case (_, .string(let s)): options.append(HopOption(key: key, value: s))
                case (_, .bool(let v)): options.append(HopOption(key: key, value: v ? "true" : "false"))
                case (_, .number(let n)): options.append(HopOption(key: key, value: String(Int(n))))
                case (_, .array(let items)):
                    let words = items.compactMap(\.string).map(ShellQuote.quote).joined(separator: " ")
                    options.append(HopOption(key: key, value: words))
                default: Issue.record("unexpected parameter \(key)")
                }
            }
        }
        if method == "ssh" {
            // Mitogen takes hostname verbatim ("deploy@web1" included): set it after parsing.
            var ssh = try SSHMethod(hop: "placeholder", options: options, password: password)
            ssh.hostname = hostname ?? ""
            return ssh
        }
        return try SpawnedMethods.method(named: method, target: nil, options: options, password: password)
    }

    @Test func fixtureIsThere() {
        #expect(Self.cases.count >= 90)
    }

    @Test(arguments: cases)
    func matchesMitogen(_ c: JSON) throws {
        let label = "\(c["method"]?.string ?? "?"): \(c["case"]?.string ?? "?")"
        if let error = c["error"] {
            #expect(throws: StreamError(error["message"]?.string ?? "?"), "\(label)") { try Self.build(c) }
            return
        }
        let method = try Self.build(c)
        let argv = try method.command(stageArgv: stageArgv, stageCommand: stageCommand)
        let prefix = c["prefix"]?.strings ?? []
        switch c["boot_form"]?.string {
        case "argv" where method is SudoMethod && prefix.contains("-i"):
            #expect(argv == prefix + loginBoot, "\(label)")
        case "argv":
            #expect(argv == prefix + stageArgv, "\(label)")
        case "shlex_quoted":  // ssh: our stage goes as one remote command word
            #expect(argv == prefix + [stageCommand], "\(label)")
        case "sh_joined" where method is SuMethod:  // su -c: the same one word
            #expect(argv == prefix + [stageCommand], "\(label)")
        case "sh_joined":
            #expect(argv == prefix + [ShellQuote.mitogenJoin(stageArgv) + (c["boot_suffix"]?.string ?? "")], "\(label)")
        default:
            Issue.record("\(label): unknown boot_form")
        }
        #expect(method.defaultName(pid: 1) == c["name"]?.string, "\(label)")
        let stdio: MethodStdio? =
            switch c["stdio"]?.string {
            case "pipes+stderr_pipe", "pipes+preexec_setns": .pipes
            case "hybrid_pty": .hybridPTY
            case "tty": .fullPTY
            case "merged": .mergedStderr
            default: nil
            }
        #expect(method.stdio == stdio, "\(label)")
        if let leader = c["leader_argv"]?.strings {
            #expect((method as? SetnsMethod)?.leaderCommand == leader, "\(label)")
        }
    }
}

extension JSON: CustomTestStringConvertible {
    var testDescription: String { "\(self["method"]?.string ?? "?"): \(self["case"]?.string ?? "?")" }
}
