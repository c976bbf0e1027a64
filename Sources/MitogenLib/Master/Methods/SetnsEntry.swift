import Glibc
import MitogenCore
import MitogenSys
import MitogenWire

/// What the connection layer does for the setns method before it spawns:
/// ask the container tool for the leader PID, then prepare the entry into
/// that process's root, namespaces and user, which `spawnProcess` performs
/// in C between fork and exec (see `TargetEntry`).
///
/// The user is looked up here, in the container's own `/etc/passwd` and
/// `/etc/group` (through `/proc/PID/root`), because nothing that takes a
/// lock (getpwnam, NSS) may run between fork and exec in a threaded master.
extension SetnsMethod {
    /// Most of a leader command's output that is read (its texts are short).
    static let leaderOutputLimit = 64 * 1024

    /// Runs ``leaderCommand`` and returns the PID it names.
    /// - Throws: `StreamError` with Mitogen's texts when the tool fails or
    ///   prints no PID; `TimeoutError`-kind `StreamError` when it does not
    ///   finish within `timeout` seconds (it is then killed).
    func findLeader(timeout: Double, environment: [String]?) throws -> pid_t {
        let (status, output) = try Self.run(leaderCommand, timeout: timeout, environment: environment)
        guard status == .exited(0) else {
            throw leaderCommandFailed(status: Int32(clamping: status.returnCode), output: output)
        }
        return try leaderPID(fromOutput: output)
    }

    /// The entry into `pid`'s root and namespaces (those that differ from
    /// ours, in ``namespaceOrder``) as ``username``, and the environment
    /// Mitogen sets for that user (`HOME`, `SHELL`, `LOGNAME`, `USER`).
    /// - Throws: `StreamError` naming what could not be opened or found.
    func entry(into pid: pid_t, environment: [String]) throws -> (TargetEntry, [String]) {
        var opened: [FileDescriptor] = []
        do {
            let root = try FileDescriptor.open("/proc/\(pid)/root", flags: O_RDONLY | O_DIRECTORY)
            opened.append(root)
            for name in Self.namespaceOrder {
                let theirs = "/proc/\(pid)/ns/\(name)"
                guard access(theirs, F_OK) == 0, Self.link(theirs) != Self.link("/proc/self/ns/\(name)") else { continue }
                opened.append(try FileDescriptor.open(theirs, flags: O_RDONLY))
            }
            let passwd = "/proc/\(pid)/root/etc/passwd"
            guard let account = PasswdFile.entries(path: passwd).first(where: { $0.name == username }) else {
                throw StreamError("setns: cannot log in as \(ShellQuote.pythonRepr(username)) in \(container): no such user in its /etc/passwd")
            }
            let groups = PasswdFile.supplementaryGroups(of: username, path: "/proc/\(pid)/root/etc/group")
            let user = TargetEntry.User(uid: account.uid, gid: account.gid, groups: groups, home: account.home.isEmpty ? nil : account.home)
            let settings = [
                "HOME=\(account.home)", "SHELL=\(account.shell.isEmpty ? "/bin/sh" : account.shell)",
                "LOGNAME=\(username)", "USER=\(username)",
            ]
            let keys = settings.map { $0.prefix { $0 != "=" } + "=" }
            let env = environment.filter { entry in !keys.contains { entry.hasPrefix($0) } } + settings
            return (TargetEntry(pid: pid, root: root, namespaces: Array(opened.dropFirst()), user: user), env)
        } catch {
            for fd in opened { fd.close() }
            if let error = error as? StreamError { throw error }
            throw StreamError("setns: cannot enter the namespaces of \(container) (pid \(pid)): \(error)")
        }
    }

    private static func link(_ path: String) -> String? {
        var buffer = [CChar](repeating: 0, count: 256)
        let n = readlink(path, &buffer, buffer.count - 1)
        guard n > 0 else { return nil }
        return String(decoding: buffer[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// Runs `argv` with stdout and stderr together in one pipe; returns its
    /// status and (at most ``leaderOutputLimit`` bytes of) output.
    private static func run(_ argv: [String], timeout: Double, environment: [String]?) throws -> (ProcessStatus, String) {
        let pipe = try FileDescriptor.pipe()
        let devnull = try FileDescriptor.open("/dev/null", flags: O_RDONLY)
        defer { devnull.close() }
        let pid: pid_t
        do {
            pid = try spawnProcess(SpawnRequest(
                executable: argv[0], argv: argv, environment: environment, stdin: devnull, stdout: pipe.write,
                stderr: pipe.write))
        } catch {
            pipe.read.close()
            pipe.write.close()
            throw StreamError("setns: cannot run \(argv[0]): \(error)")
        }
        pipe.write.close()
        defer { pipe.read.close() }
        var output: [UInt8] = []
        let deadline = monotonicNow() + timeout
        while true {
            let left = deadline - monotonicNow()
            var pfd = pollfd(fd: pipe.read.rawValue, events: Int16(POLLIN), revents: 0)
            if left <= 0 || poll(&pfd, 1, Int32(left * 1000) + 1) == 0 {
                _ = sendSignal(SIGKILL, to: pid)
                _ = try? waitProcess(pid, block: true)
                throw StreamError(
                    "setns: \(ShellQuote.mitogenJoin(argv)) did not finish within \(timeout) s", kind: .timeout)
            }
            guard let chunk = try? pipe.read.read(upTo: 4096), !chunk.isEmpty else { break }
            if output.count < leaderOutputLimit { output += chunk.prefix(leaderOutputLimit - output.count) }
        }
        let status = (try? waitProcess(pid, block: true)) ?? .exited(255)
        return (status, String(decoding: output, as: UTF8.self))
    }
}
