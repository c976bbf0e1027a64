import Glibc

/// Sends fd 2 to a file while curses owns the terminal, so nothing (ours,
/// the library's, a child's) scribbles over the screen; `restore()` puts the
/// terminal back on fd 2 and says where the output went, if there was any.
struct StderrRedirect {
    let path: String
    private let saved: Int32

    /// Redirects stderr to `$MITOGEN_TUI_STDERR`, else
    /// `/tmp/mitogen-tui.<uid>.<pid>.stderr`.
    /// - Returns: nil if the file cannot be opened (stderr is left alone).
    init?() {
        path = getenv("MITOGEN_TUI_STDERR").map { String(cString: $0) } ?? "/tmp/mitogen-tui.\(getuid()).\(getpid()).stderr"
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard fd >= 0 else { return nil }
        saved = dup(2)
        dup2(fd, 2)
        close(fd)
    }

    /// Points fd 2 back at the terminal; removes the file if nothing was
    /// written, else prints its path and size.
    func restore() {
        dup2(saved, 2)
        close(saved)
        var info = stat()
        if stat(path, &info) == 0 && info.st_size == 0 && (info.st_mode & S_IFMT) == S_IFREG {
            unlink(path)  // only an empty regular file: never a device such as /dev/null
        } else if info.st_size > 0 {
            printError("mitogen-tui: \(info.st_size) bytes of stderr output while the console ran are in \(path)")
        }
    }
}
