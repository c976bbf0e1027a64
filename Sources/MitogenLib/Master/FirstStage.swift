import MitogenCalls
import MitogenCore
import MitogenSys
import MitogenWire
/// The POSIX `sh` first stage: the program every connection method runs on a
/// target to find, or receive, the static `mitogen-child` and `exec` it.
///
/// The master runs `FirstStage.argv(...)` (`/bin/sh -c SCRIPT mitogen-stage1`)
/// through any transport, or `FirstStage.shellCommand(...)` where the transport
/// takes one command line (ssh, su). The script talks to
/// ``BootstrapHandshake`` on stdin/stdout:
///
/// 1. **Hit.** Cache directories, in order: `${XDG_CACHE_HOME:-$HOME/.cache}/mitogen`
///    (skipped when both are unset), then `<root>/mitogen-<euid>` for each
///    fallback root (default `/tmp`, `/var/tmp`; the uid is read from
///    `/proc/self/status` with the `read` builtin). A cached
///    `<dir>/mitogen-child-<hash>` is `exec`ed as `<path> mitogen:<name>` only
///    when it is trusted, as on the miss path: `<dir>` is a directory and the
///    file a regular executable file, neither a symlink, both owned by the
///    effective uid (`test -d -f -x -h -O`, builtins) and neither writable by
///    group or others. Otherwise that directory is skipped silently (the miss
///    path then warns about a refused directory, and an upload replaces a
///    refused file). The name's hash is not what makes it trusted: another
///    user can pick the name, so only who may write there counts, and the
///    cached binary is never asked to vouch for itself.
///
///    **One fork on a hit.** No sh builtin reads permission bits (`test` sees
///    only the owner, the type and the setuid/setgid/sticky bits, and
///    `/proc/self/fdinfo` has no mode), so the write bits come from one
///    `ls -ldn . mitogen-child-<hash>` run inside `<dir>` (fixed names, so the
///    fields parse whatever the path is). It runs only after the builtin checks
///    pass, so a planted file costs no fork. It adds about 1.3 ms per hit
///    (dash on a 2-core machine, `sh -c` start to a trivial child's exit:
///    1.4 ms without the check, 2.7 ms with it). The child's own startup check
///    of its directory is defence in depth, not this gate.
/// 2. **Miss.** The script checks `/proc/self/exe` (a static Swift binary aborts
///    without /proc), creates each cache directory with `mkdir -p -m 700`, refuses
///    one owned by another uid, not a directory, or writable by group/others
///    (`MITOGEN0 WARN cache directory D has mode 0777, refusing it`) and keeps
///    the rest. It prints `MITOGEN0 MISS <os> <arch> <formats>` where formats
///    are the decompressors present among `xz,zstd,gzip` followed by `raw`,
///    and reads one line `<format> <size>` (or `ABORT <reason>`) then exactly
///    `size` bytes with `head -c` into `<dir>/.mitogen-child-<hash>.<pid>` of
///    the first usable directory, decompressing on the way.
/// 3. **Verify.** With `sha256sum` the bytes must hash to `<hash>` or the script
///    fails. Without it, the probe below gets `--verify-hash <hash>` and the
///    child checks its own executable.
/// 4. **Probe and install.** The temporary file is made mode 0700 and run as
///    `<tmp> --mitogen-probe [--verify-hash H]`, which must print `ok`. Status
///    126 means the directory is on a noexec mount: the file is copied to the
///    next usable directory and probed there. On success it is renamed
///    atomically to `mitogen-child-<hash>` and `exec`ed as on the hit path.
///    Temporary names carry the shell's pid, so racing first connections both
///    succeed and one of the identical files wins the rename.
///
/// Every line the script itself prints starts with `MITOGEN0 `. `WARN` lines
/// report a refused directory and go on; `ERROR <text>` is fatal and followed
/// by exit status 1. After `exec` the child prints `MITO002` when it is ready.
///
/// The script avoids `!` and keeps every line joinable with `; `, so
/// `shellCommand` is a single line that csh-family login shells accept too.
package enum FirstStage {
    /// Where the fallback cache directories `<root>/mitogen-<uid>` live.
    package static let defaultFallbackRoots = ["/tmp", "/var/tmp"]

    /// The argv that runs the first stage: `["/bin/sh", "-c", script, "mitogen-stage1"]`.
    ///
    /// - Parameters:
    ///   - hash: The child's SHA-256 as 64 lowercase hex digits (``ChildBinary/hash``).
    ///   - name: The remote name; the child gets `mitogen:<name>` as its first argument.
    ///   - fallbackRoots: Absolute directories under which `mitogen-<uid>` is tried
    ///     after the user's cache directory, in order.
    /// Traps if `hash` is not a hex digest or a root is not absolute (caller bugs).
    package static func argv(
        hash: String, name: String, childArguments: [String] = [], fallbackRoots: [String] = defaultFallbackRoots
    ) -> [String] {
        ["/bin/sh", "-c", script(hash: hash, name: name, childArguments: childArguments, fallbackRoots: fallbackRoots), BootstrapMarker.processName]
    }

    /// The same program as one command line, for transports that take a string
    /// and hand it to the target user's shell (`ssh host CMD`, `su -c CMD`).
    ///
    /// The script is joined into a single line and single-quoted, so any
    /// Bourne, csh or fish login shell passes it to `/bin/sh` unchanged.
    package static func shellCommand(
        hash: String, name: String, childArguments: [String] = [], fallbackRoots: [String] = defaultFallbackRoots
    ) -> String {
        let oneLine = scriptLines(hash: hash, name: name, childArguments: childArguments, fallbackRoots: fallbackRoots)
            .joined(separator: "; ")
        return "/bin/sh -c \(shellQuote(oneLine)) \(BootstrapMarker.processName)"
    }

    /// The first-stage script, one statement group per line (see the type's comment).
    package static func script(
        hash: String, name: String, childArguments: [String] = [], fallbackRoots: [String] = defaultFallbackRoots
    ) -> String {
        scriptLines(hash: hash, name: name, childArguments: childArguments, fallbackRoots: fallbackRoots)
            .joined(separator: "\n") + "\n"
    }

    /// `text` as one POSIX shell word: wrapped in single quotes, each `'` written as `'\''`.
    package static func shellQuote(_ text: String) -> String {
        var out = "'"
        for character in text {
            if character == "'" {
                out += "'\\''"
            } else {
                out.append(character)
            }
        }
        return out + "'"
    }

    /// The script's lines. No line ends in a keyword or operator that must be
    /// followed by a command (`then`, `do`, `{`, `|`, `&&`), so both newline and
    /// `; ` are valid separators.
    static func scriptLines(hash: String, name: String, childArguments: [String] = [], fallbackRoots: [String]) -> [String] {
        // Extra argv words for the child (its config), quoted for the shell.
        let extra = childArguments.map { " " + shellQuote($0) }.joined()
        precondition(SHA256.isHexDigest(hash), "FirstStage: hash \(hash) is not 64 lowercase hex digits")
        precondition(
            !fallbackRoots.isEmpty && fallbackRoots.allSatisfy { $0.hasPrefix("/") },
            "FirstStage: fallback roots must be absolute paths, got \(fallbackRoots)"
        )
        let roots = fallbackRoots.map(shellQuote).joined(separator: " ")
        return [
            // Hit path: builtins, plus one `ls` once the builtin checks pass.
            "set -f; H=\(hash); N=\(shellQuote(name)); U=; W=",
            "if [ -r /proc/self/status ]; then while read -r K V E X; do if [ \"$K\" = Uid: ]; then U=$E; break; fi; done < /proc/self/status; fi",
            "C=${XDG_CACHE_HOME:-${HOME:+$HOME/.cache}}; set --; if [ -n \"$C\" ]; then set -- \"$C/mitogen\"; fi",
            "if [ -n \"$U\" ]; then for R in \(roots); do set -- \"$@\" \"$R/mitogen-$U\"; done; fi",
            // trusted DIR: DIR and DIR/mitogen-child-H are ours, not symlinks, and
            // not writable by group/others (mode positions 6 and 9 of `ls -l`).
            "trusted() { Y=$1/mitogen-child-$H; "
                + "if [ -d \"$1\" ] && [ -f \"$Y\" ] && [ -x \"$Y\" ] && [ -O \"$1\" ] && [ -O \"$Y\" ]; then :; else return 1; fi; "
                + "if [ -h \"$1\" ] || [ -h \"$Y\" ]; then return 1; fi; "
                + "Y=$(cd \"$1\" > /dev/null && LC_ALL=C ls -ldn . \"mitogen-child-$H\" 2> /dev/null) || return 1; set -- $Y; "
                + "case $1 in d????-??-*) ;; *) return 1;; esac; "
                + "while [ $# -gt 1 ]; do shift; case $1 in .) break;; esac; done; "
                + "case $2 in -????-??-*) ;; *) return 1;; esac; }",
            "for D in \"$@\"; do if trusted \"$D\"; then exec \"$D/mitogen-child-$H\" \"mitogen:$N\"\(extra); fi; done",
            // Miss path: helpers.
            "say() { printf '%s\\n' \"MITOGEN0 $*\"; }",
            "die() { say ERROR \"$*\"; exit 1; }",
            "warn() { say WARN \"$*\"; W=\"$W${W:+; }$*\"; }",
            "mode() { P=${1#?}; O=0; I=0; while [ $I -lt 9 ]; do Q=${P#?}; case ${P%\"$Q\"} in -|S|T) O=$((O*2));; *) O=$((O*2+1));; esac; P=$Q; I=$((I+1)); done; printf '0%03o' $O; }",
            "usable() { mkdir -p -m 700 \"$1\" 2>/dev/null || { warn \"cannot create cache directory $1, skipping it\"; return 1; }; "
                + "set -- \"$1\" $(ls -ldn \"$1\"); "
                + "case $2 in d*) ;; *) warn \"cache directory $1 is not a directory, refusing it\"; return 1;; esac; "
                + "if [ \"$4\" = \"$U\" ]; then :; else warn \"cache directory $1 is owned by uid $4, refusing it\"; return 1; fi; "
                + "case $2 in ?????w*|????????w*) warn \"cache directory $1 has mode $(mode $2), refusing it\"; return 1;; esac; }",
            "if [ -r /proc/self/exe ] && [ -n \"$U\" ]; then :; else die \"no /proc on $(uname -n 2>/dev/null): the static child needs /proc mounted\"; fi",
            // Keep the usable directories in "$@".
            "for D in \"$@\"; do shift; if usable \"$D\"; then set -- \"$@\" \"$D\"; fi; done",
            "if [ $# = 0 ]; then die \"no usable cache directory: $W\"; fi",
            "L=; for Z in xz zstd gzip; do if command -v $Z >/dev/null 2>&1; then L=$L$Z,; fi; done",
            "say MISS \"$(uname -s)\" \"$(uname -m)\" \"${L}raw\"",
            "read -r Z S X || die \"end of input while waiting for the upload header\"",
            "case $Z in xz|zstd|gzip|raw) ;; ABORT) exit 1;; *) die \"unknown upload format $Z\";; esac",
            "if [ \"$S\" -gt 0 ] 2>/dev/null; then :; else die \"bad upload size $S\"; fi",
            "K=\"$1/.mitogen-child-$H.$$\"; V=",
            "if [ $Z = raw ]; then head -c $S > \"$K\"; else head -c $S | $Z -dc > \"$K\"; fi || { rm -f \"$K\"; die \"could not receive the $Z upload of $S bytes into $K\"; }",
            "if command -v sha256sum >/dev/null 2>&1; then G=$(sha256sum < \"$K\"); G=${G%% *}; if [ \"$G\" = \"$H\" ]; then :; else rm -f \"$K\"; die \"uploaded mitogen-child has sha256 $G but $H was expected\"; fi; else V=\"--verify-hash $H\"; fi",
            // Probe in each usable directory until one can exec.
            "for D in \"$@\"; do T=\"$D/.mitogen-child-$H.$$\"; F=\"$D/mitogen-child-$H\"",
            "if [ \"$T\" = \"$K\" ] || cp \"$K\" \"$T\" 2>/dev/null; then :; else rm -f \"$T\"; warn \"cannot write $T, skipping $D\"; continue; fi",
            "chmod 700 \"$T\"; P=$(\"$T\" --mitogen-probe $V < /dev/null 2>&1); E=$?",
            "if [ $E = 0 ] && [ \"$P\" = ok ]; then mv -f \"$T\" \"$F\" || { rm -f \"$T\" \"$K\"; die \"cannot rename $T to $F\"; }; if [ \"$K\" = \"$T\" ]; then :; else rm -f \"$K\"; fi; exec \"$F\" \"mitogen:$N\"\(extra); fi",
            "if [ $E = 126 ]; then warn \"cache directory $D is on a noexec mount\"; if [ \"$K\" = \"$T\" ]; then :; else rm -f \"$T\"; fi; continue; fi",
            "rm -f \"$T\" \"$K\"; die \"mitogen-child uploaded to $D failed its start probe (status $E): $P\"",
            "done",
            "rm -f \"$K\"; die \"cache directory $1 is on a noexec mount and no fallback worked ($W)\"",
        ]
    }
}
