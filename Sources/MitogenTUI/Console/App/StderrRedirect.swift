import Glibc
import MitogenSys

/// Sends fd 2 to a file while curses owns the terminal, so nothing (ours,
/// the library's, a child's) scribbles over the screen; `restore()` puts the
/// terminal back on fd 2 and says where the output went, if there was any.
struct StderrRedirect {
    let path: String
    private let saved: Int32

    /// Redirects stderr to `$MITOGEN_TUI_STDERR`, else to a new private file
    /// `/tmp/mitogen-tui.<uid>.<pid>.stderr` (created with `O_EXCL` and
    /// `O_NOFOLLOW`, mode 0600: a file or symlink another user planted at
    /// that name is never written through).
    /// - Returns: nil if the file cannot be opened (stderr is left alone).
    init?() {
        let fd: FileDescriptor
        if let chosen = environmentValue("MITOGEN_TUI_STDERR") {
            path = chosen
            guard let opened = try? FileDescriptor.open(chosen, flags: O_WRONLY | O_CREAT | O_TRUNC, mode: 0o600) else {
                return nil
            }
            fd = opened
        } else {
            path = "/tmp/mitogen-tui.\(getuid()).\(getpid()).stderr"
            guard let created = try? createPrivateFile(path) else { return nil }
            fd = created
        }
        saved = dup(2)
        dup2(fd.rawValue, 2)
        fd.close()
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
