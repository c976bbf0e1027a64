import CMitogenSys
import Glibc
import MitogenCalls
import MitogenCore
import MitogenMaster
import MitogenSys
import MitogenWire

/// The fork server ("zygote") side: `mitogen-child --mitogen-zygote`.
///
/// `fork()` cannot safely copy a threaded Swift process, and a master always
/// has threads (its broker, the Swift runtime's). So the master spawns this
/// small single-threaded process once, before any of its contexts exist, and
/// asks it to fork: each request carries the new child's config and two
/// descriptors (its protocol socket and its stderr pipe). The forked copy
/// becomes a normal child context, no exec and no first stage needed, which
/// is what makes `fork` cheaper than `local`. The server exits when the
/// master closes the control socket. Children are reaped automatically
/// (SIGCHLD ignored), so the master watches them with `kill(pid, 0)`.
///
/// The server itself is the master's child and is reaped by the master: if
/// it dies (killed, out of memory), the master's next `fork()` sees it exited
/// (`waitpid` with `WNOHANG`) or sees end of stream on the control socket,
/// reaps it and starts a new server (`ForkServer`). Contexts it already
/// forked are not affected: they talk to the master over their own sockets.
enum ForkServerMain {
    static func run(control: Int32) -> Never {
        signal(SIGCHLD, SIG_IGN)
        signal(SIGPIPE, SIG_IGN)
        ExternalContext.setProcessTitle("mitogen:fork-server")
        var buf = [UInt8](repeating: 0, count: 4096)
        while true {
            var fds: [Int32] = [-1, -1, -1, -1]
            var nfds: Int32 = 0
            let n = buf.withUnsafeMutableBytes { raw in
                fds.withUnsafeMutableBufferPointer { mitogen_recv_fds(control, raw.baseAddress, raw.count, $0.baseAddress, &nfds) }
            }
            if n <= 0 { _exit(0) }  // the master went away
            let request = String(decoding: buf[0..<n], as: UTF8.self).split(separator: "\0", omittingEmptySubsequences: false)
            guard nfds == 2, request.count == 2 else {
                for i in 0..<Int(nfds) { close(fds[i]) }
                reply(control, -EINVAL)
                continue
            }
            let pid = mitogen_fork()
            if pid == 0 {
                close(control)
                dup2(fds[0], 0)
                dup2(fds[0], 1)
                dup2(fds[1], 2)
                close(fds[0])
                close(fds[1])
                signal(SIGCHLD, SIG_DFL)
                let arguments = [CommandLine.arguments[0], "mitogen:" + request[0], String(request[1])]
                // The context runs on a new thread, never on this one: Swift's
                // Mutex caches each thread's id in thread-local storage, which
                // fork() copies, so this thread would lock with the server's
                // id. Uncontended that goes unseen; contended, the kernel's
                // priority-inheritance futex refuses it and Swift traps
                // ("Unknown error occurred while attempting to acquire a
                // Mutex"). A new thread starts with an empty cache.
                let thread = startJoinableThread(name: "mitogen.main") { ExternalContext.main(arguments: arguments) }
                pthread_join(thread, nil)
                _exit(0)  // not reached: the context exits the process
            }
            let err = errno
            close(fds[0])
            close(fds[1])
            reply(control, pid > 0 ? pid : -err)
        }
    }

    private static func reply(_ control: Int32, _ value: Int32) {
        var v = value.littleEndian
        _ = withUnsafeBytes(of: &v) { write(control, $0.baseAddress, 4) }
    }
}
