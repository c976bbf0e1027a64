import Testing

import MitogenCore
import MitogenWire
@testable import MitogenMaster

/// Replays what real sudo 1.9.13, su (util-linux 2.38), opendoas 6.8 and
/// OpenSSH 9.2 printed on their PTY (prompt-transcripts-debian12.json in the
/// main repository) through the engine, chunked as they were read, answering
/// `.ask` with what the capture typed.
@Suite(.enabled(if: fixture("prompt-transcripts-debian12.json") != nil, "transcripts not found"))
struct TranscriptTests {
    static let transcripts: [JSON] = {
        guard let bytes = fixture("prompt-transcripts-debian12.json"), let json = try? JSON.parse(bytes) else { return [] }
        return json.array ?? []
    }()

    /// Case name → (password we hold, callback present, expected actions in short form).
    static let expected: [String: (String?, Bool, [String])] = [
        "sudo right": ("alice-secret", false, ["send alice-secret"]),
        "sudo wrong": ("nope", false, ["send nope", "fail password sudo password is incorrect"]),
        "sudo wrong then none": ("nope", false, ["send nope", "fail password sudo password is incorrect"]),
        "sudo default prompt": ("alice-secret", false, []),  // not our -p prompt: never answered
        "sudo nopasswd": (nil, false, []),
        "sudo not in sudoers": (
            "mitogen-pw-secret", false, ["send mitogen-pw-secret", "fail stream sudo failed: mitogen-pw is not in the sudoers file."]
        ),
        "sudo binary stdin via use_pty": ("alice-secret", false, ["send alice-secret"]),
        "su right": ("bob-secret", false, ["send bob-secret"]),
        "su wrong": ("nope", false, ["send nope", "fail password su password is incorrect"]),
        "su from root": (nil, false, []),
        "doas right": ("alice-secret", false, ["send alice-secret"]),
        "doas wrong": ("nope", false, ["send nope", "fail password doas password is incorrect"]),
        "doas nopass": (nil, false, []),
        "doas not permitted": ("x", false, ["fail stream doas failed: doas: Operation not permitted"]),
        "sudo -n needs password": (nil, false, ["fail password sudo password is required"]),
        "doas -n needs password": (nil, false, ["fail password doas password is required"]),
        "ssh password right (keyboard-interactive)": ("mitogen-pw-secret", false, ["send mitogen-pw-secret"]),
        "ssh password wrong (keyboard-interactive)": ("nope", false, ["send nope", "fail password SSH password is incorrect"]),
        "ssh password right (password method)": ("mitogen-pw-secret", false, ["send mitogen-pw-secret"]),
        "ssh password wrong (password method)": ("nope", false, ["send nope", "fail password SSH password is incorrect"]),
        "ssh password wrong once then right": ("nope", false, ["send nope", "fail password SSH password is incorrect"]),
        "ssh key, BatchMode, no password": (nil, false, ["fail password SSH password was requested, but none specified"]),
        "ssh passphrase right": (
            nil, true, ["ask Enter passphrase for key '/var/lib/mitogen-test/keys/id_ed25519_pp':", "send pp-secret"]
        ),
        "ssh passphrase wrong": (
            nil, true,
            [
                "ask Enter passphrase for key '/var/lib/mitogen-test/keys/id_ed25519_pp':", "send nope",
                "fail password SSH password was requested, but none specified",
            ]
        ),
        "ssh unknown host, accept (StrictHostKeyChecking ask)": (nil, false, ["send yes"]),
        "ssh unknown host, enforce": (nil, false, ["fail hostKey \(PromptDialect.sshHostKeyFailed)"]),
        "ssh host key mismatch, enforce": (nil, false, ["fail hostKey \(PromptDialect.sshHostKeyFailed)"]),
        "ssh host key mismatch, default LogLevel": (nil, false, ["fail hostKey \(PromptDialect.sshHostKeyFailed)"]),
    ]

    static func engine(for argv: [String], password: String?, canAsk: Bool) -> PromptEngine? {
        let tool = argv.first?.split(separator: "/").last.map(String.init) ?? ""
        let secret = password.map(Secret.init)
        switch tool {
        case "sudo": return PromptEngine(dialect: .sudo(prompt: SudoMethod.mitogenPrompt), password: secret, markersInBand: false)
        case "su": return SuMethod(password: secret).makePromptEngine()
        case "doas": return DoasMethod(password: secret).makePromptEngine()
        case "ssh":
            let accept = argv.contains("StrictHostKeyChecking ask")
            return PromptEngine(dialect: .ssh(acceptHostKeys: accept), password: secret, markersInBand: false, canAsk: canAsk)
        default: return nil
        }
    }

    @Test func everyCaseHasAnExpectation() {
        #expect(Self.transcripts.count >= 20)
        for t in Self.transcripts {
            #expect(Self.expected[t["case"]?.string ?? ""] != nil, "no expectation for \(t["case"]?.string ?? "?")")
        }
    }

    @Test(arguments: transcripts)
    func replay(_ t: JSON) throws {
        let name = t["case"]?.string ?? "?"
        guard let (password, canAsk, expected) = Self.expected[name],
            var engine = Self.engine(for: t["argv"]?.strings ?? [], password: password, canAsk: canAsk)
        else { return }
        let typed = (t["events"]?.array ?? []).compactMap { $0["typed"]?.string }
        var nextTyped = typed.makeIterator()
        var got: [String] = []
        func record(_ actions: [PromptAction]) {
            for action in actions {
                switch action {
                case .send(let bytes): got.append("send " + String(decoding: bytes.dropLast(), as: UTF8.self))
                case .ask(let prompt):
                    got.append("ask " + prompt)
                    record(engine.answer(nextTyped.next().map(Secret.init)))
                case .fail(let f):
                    // Stream failures end with the output; compare their first line.
                    let first = f.message.split(separator: ";", maxSplits: 1).first.map(String.init) ?? ""
                    got.append("fail \(f.kind) " + (f.kind == .stream ? first : f.message))
                case .finished: got.append("finished")
                }
            }
        }
        for event in t["events"]?.array ?? [] {
            guard let text = event["tty"]?.string else { continue }
            if case .failed = engine.state { break }
            record(engine.feed(Array(text.utf8)))
        }
        #expect(got == expected, "\(name)")
        if let password { #expect(!engine.recentOutput.contains(password), "\(name)") }
    }
}
