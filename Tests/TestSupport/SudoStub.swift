import Foundation
import Glibc

/// Writes `DIR/sudo`, a sudo stand-in for `sudo_path=`: unless its argv is
/// `-p PROMPT -u USER --` it exits 97 naming what it got; it prints the
/// prompt on its tty, reads a line, then runs `then` (shell text; "$@" is
/// the command after `--`), e.g. `exec sleep 60` for one that never lets
/// the connect through.
/// - Returns: the stub's path.
public func writeSudoStub(in dir: String, user: String = "root", then: String) throws -> String {
    let path = dir + "/sudo"
    try """
        #!/bin/sh
        [ "$1" = -p ] && [ "$3" = -u ] && [ "$4" = \(user) ] && [ "$5" = -- ] \\
            || { echo "stub sudo: unexpected argv: $*" >&2; exit 97; }
        printf '%s' "$2" >/dev/tty
        IFS= read -r password </dev/tty
        shift 5
        \(then)

        """.write(toFile: path, atomically: true, encoding: .utf8)
    chmod(path, 0o755)
    return path
}
