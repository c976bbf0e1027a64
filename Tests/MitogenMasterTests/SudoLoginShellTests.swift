import Glibc
import Testing

import MitogenCore
import MitogenWire
@testable import MitogenMaster

/// Runs `command` with `/bin/sh -c` (popen) and returns its stdout.
private func shellOutput(_ command: String) -> String? {
    guard let pipe = popen(command, "r") else { return nil }
    var out: [UInt8] = []
    var buf = [UInt8](repeating: 0, count: 4096)
    while true {
        let n = fread(&buf, 1, buf.count, pipe)
        if n <= 0 { break }
        out += buf[0..<n]
    }
    pclose(pipe)
    return String(decoding: out, as: UTF8.self)
}

/// What `sudo -i` hands to the login shell: every character except ASCII
/// letters, digits, `_`, `-` and `$` backslash-escaped, words joined by
/// spaces (sudo's parse_args.c).
private func sudoLoginEscape(_ argv: [String]) -> String {
    argv.map { word in
        var out = ""
        for scalar in word.unicodeScalars {
            let v = scalar.value
            let plain = (0x30...0x39).contains(v) || (0x41...0x5a).contains(v) || (0x61...0x7a).contains(v) || scalar == "_"
                || scalar == "-" || scalar == "$"
            if !plain { out += "\\" }
            out.unicodeScalars.append(scalar)
        }
        return out
    }.joined(separator: " ")
}

/// The `login` rewrite survives sudo -i's escaping and a real /bin/sh:
/// the stage runs byte for byte as it would without -i.
@Suite(.enabled(if: access("/bin/sh", X_OK) == 0, "needs /bin/sh"))
struct SudoLoginShellTests {
    @Test func stageRunsUnchanged() throws {
        let script = """
            set -f; H=abc; N='x y'
            printf '%s|' "$0" "$H" "$N" "${HOME:+home}" "`echo bq`" "$(echo dp)" '100%' 'back\\\\slash' "é ü" "quote'd"
            printf '\\n'
            """
        let stage = ["/bin/sh", "-c", script, "mitogen-stage1"]
        let direct = shellOutput(stage.map(ShellQuote.quote).joined(separator: " "))
        let sudo = try SudoMethod(login: true)
        let argv = try sudo.command(stageArgv: stage, stageCommand: "")
        let boot = Array(argv.drop { $0 != "--" }.dropFirst())
        let viaLogin = shellOutput(sudoLoginEscape(boot))
        #expect(direct == "mitogen-stage1|abc|x y|home|bq|dp|100%|back\\\\slash|é ü|quote'd|\n")
        #expect(viaLogin == direct)
        // Without the rewrite the login shell would expand the stage's variables.
        #expect(shellOutput(sudoLoginEscape(stage)) != direct)
    }
}
