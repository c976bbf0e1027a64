package import CMitogenSys
import Glibc

/// What `spawnProcess` starts and how it wires the new process.
///
/// The descriptors are the parent's; they become the child's 0, 1 and 2
/// (the same descriptor may serve several). Every other descriptor is closed
/// in the child, whatever its `FD_CLOEXEC` flag.
package struct SpawnRequest: Sendable {
    /// A path (contains `/`), or a name searched in the `PATH` of
    /// `environment` (or of this process when `environment` is nil).
    package var executable: String
    /// The full argument vector, `argv[0]` included.
    package var argv: [String]
    /// `"NAME=value"` strings; nil inherits this process's environment.
    package var environment: [String]?
    package var stdin: FileDescriptor
    package var stdout: FileDescriptor
    package var stderr: FileDescriptor
    /// Call `setsid()` in the child, so it leads a new session.
    package var newSession: Bool
    /// A PTY slave made the controlling terminal after `setsid` (needs
    /// `newSession`).
    package var controllingTerminal: FileDescriptor?
    /// Directory the child starts in; nil keeps ours.
    package var workingDirectory: String?
    /// Another process's root, namespaces and user to enter before exec
    /// (the setns method); nil stays here.
    package var target: TargetEntry?

    package init(
        executable: String, argv: [String]? = nil, environment: [String]? = nil,
        stdin: FileDescriptor, stdout: FileDescriptor, stderr: FileDescriptor,
        newSession: Bool = false, controllingTerminal: FileDescriptor? = nil, workingDirectory: String? = nil,
        target: TargetEntry? = nil
    ) {
        self.executable = executable
        self.argv = argv ?? [executable]
        self.environment = environment
        self.stdin = stdin
        self.stdout = stdout
        self.stderr = stderr
        self.newSession = newSession
        self.controllingTerminal = controllingTerminal
        self.workingDirectory = workingDirectory
        self.target = target
    }
}

/// Another process's root directory, namespaces and (optionally) user, for
/// a spawned program to enter between fork and exec: how the setns method
/// puts a child inside a container without the container's tool.
package struct TargetEntry: Sendable {
    package struct User: Sendable {
        package var uid: uid_t
        package var gid: gid_t
        package var groups: [gid_t]
        /// Changed to after the switch when reachable; nil stays at `/`.
        package var home: String?
        package init(uid: uid_t, gid: gid_t, groups: [gid_t], home: String?) {
            self.uid = uid
            self.gid = gid
            self.groups = groups
            self.home = home
        }
    }
    /// The process whose namespaces these are (for error texts).
    package var pid: pid_t
    /// `/proc/PID/root`, opened as a directory.
    package var root: FileDescriptor
    /// `/proc/PID/ns/<name>` for each namespace to enter, in order.
    package var namespaces: [FileDescriptor]
    package var user: User?

    package init(pid: pid_t, root: FileDescriptor, namespaces: [FileDescriptor], user: User?) {
        self.pid = pid
        self.root = root
        self.namespaces = namespaces
        self.user = user
    }
}

/// Starts a process with fork and execve, done in C (`mitogen_spawn`, STYLE.md
/// habit 4): no Swift runs in the child.
///
/// The PATH search happens here, before the fork. The parent learns of a
/// failure in the child (setsid, TIOCSCTTY, dup2, chdir, execve) through a
/// close-on-exec pipe, so a missing program is an error here rather than a
/// child exiting 127. A fork `EAGAIN` is retried a few times with a short
/// back-off; nothing else is.
///
/// - Returns: the pid of the running program; reap it with `waitProcess`.
/// - Throws: `SystemError` naming the step: `"exec /usr/bin/x"` (ENOENT,
///   EACCES, ENOEXEC), `"chdir /dir"`, `"setsid"`, `"set controlling terminal
///   fd N"`, `"dup2 stdio"`, `"fork"`, `"pipe"`. `path` holds the program or
///   directory for exec and chdir failures.
package func spawnProcess(_ request: SpawnRequest) throws(SystemError) -> pid_t {
    let path = try resolveExecutable(request.executable, environment: request.environment)
    let argv = CStringArray(request.argv)
    defer { argv.free() }
    let envp = CStringArray(request.environment ?? currentEnvironment())
    defer { envp.free() }
    let maxFD = Int32(clamping: max(sysconf(Int32(_SC_OPEN_MAX)), 1024))

    var attempt = 0
    while true {
        var pid: pid_t = 0
        var stage: Int32 = 0
        let target = request.target
        let nsFDs = target?.namespaces.map(\.rawValue) ?? []
        let groups = target?.user?.groups ?? []
        let err = path.withCString { cPath in
            withOptionalCString(request.workingDirectory) { cwd in
                withOptionalCString(target?.user?.home) { home in
                    nsFDs.withUnsafeBufferPointer { ns in
                        groups.withUnsafeBufferPointer { gids in
                            var c = mitogen_spawn_request(
                                path: cPath, argv: argv.pointer, envp: envp.pointer,
                                stdin_fd: request.stdin.rawValue, stdout_fd: request.stdout.rawValue,
                                stderr_fd: request.stderr.rawValue, new_session: request.newSession ? 1 : 0,
                                ctty_fd: request.controllingTerminal?.rawValue ?? -1, cwd: cwd, max_fd: maxFD,
                                root_fd: target?.root.rawValue ?? -1, ns_fds: ns.baseAddress, ns_count: Int32(ns.count),
                                uid: target?.user?.uid ?? uid_t.max, gid: target?.user?.gid ?? 0,
                                groups: gids.baseAddress, group_count: Int32(gids.count), home: home)
                            return mitogen_spawn(&c, &pid, &stage)
                        }
                    }
                }
            }
        }
        if err == 0 { return pid }
        let failedStage = mitogen_spawn_stage(rawValue: UInt32(stage))
        if failedStage == MITOGEN_SPAWN_STAGE_FORK && err == EAGAIN && attempt < 5 {
            attempt += 1
            usleep(UInt32(1000 << attempt))  // 2, 4, ... 32 ms
            continue
        }
        throw spawnError(stage: failedStage, errno: err, path: path, request: request)
    }
}

/// The `SystemError` for a failed step of `mitogen_spawn`.
private func spawnError(stage: mitogen_spawn_stage, errno: Int32, path: String, request: SpawnRequest) -> SystemError {
    switch stage {
    case MITOGEN_SPAWN_STAGE_PIPE: SystemError("pipe for spawning \(path)", errno: errno)
    case MITOGEN_SPAWN_STAGE_FORK: SystemError("fork for \(path)", errno: errno)
    case MITOGEN_SPAWN_STAGE_SETSID: SystemError("setsid in child \(path)", errno: errno)
    case MITOGEN_SPAWN_STAGE_CTTY:
        SystemError("set controlling terminal \(request.controllingTerminal.map { "\($0)" } ?? "?") for \(path)", errno: errno)
    case MITOGEN_SPAWN_STAGE_DUP: SystemError("dup2 stdio for \(path)", errno: errno)
    case MITOGEN_SPAWN_STAGE_NAMESPACE:
        SystemError("enter the root and namespaces of pid \(request.target?.pid ?? 0) for \(path)", errno: errno)
    case MITOGEN_SPAWN_STAGE_USER:
        SystemError("switch to uid \(request.target?.user?.uid ?? 0) for \(path)", errno: errno)
    case MITOGEN_SPAWN_STAGE_CHDIR:
        SystemError("chdir \(request.workingDirectory ?? "")", errno: errno, path: request.workingDirectory)
    default: SystemError("exec \(path)", errno: errno, path: path)
    }
}

/// The file `execve` should run for `executable`: itself when it contains a
/// `/`, else the first executable regular file named so in the directories
/// of `PATH` (from `environment`, else ours, else `/usr/local/bin:/usr/bin:/bin`).
/// An empty `PATH` entry means the current directory, as in `execvp`.
/// - Throws: `SystemError("exec <name>", ENOENT)` when no directory has it,
///   `EACCES` when one has it but not executable.
package func resolveExecutable(_ executable: String, environment: [String]?) throws(SystemError) -> String {
    if executable.isEmpty { throw SystemError("exec ''", .noSuchFile, path: executable) }
    if executable.contains("/") { return executable }
    let searchPath: String
    if let environment {
        searchPath = environment.first { $0.hasPrefix("PATH=") }.map { String($0.dropFirst(5)) } ?? "/usr/local/bin:/usr/bin:/bin"
    } else {
        searchPath = environmentValue("PATH") ?? "/usr/local/bin:/usr/bin:/bin"
    }
    var sawDenied = false
    for dir in searchPath.split(separator: ":", omittingEmptySubsequences: false) {
        let candidate = dir.isEmpty ? executable : "\(dir)/\(executable)"
        var info = stat()
        guard stat(candidate, &info) == 0, info.st_mode & S_IFMT == S_IFREG else { continue }
        if access(candidate, X_OK) == 0 { return candidate }
        sawDenied = true
    }
    throw SystemError("exec \(executable)", Errno(rawValue: sawDenied ? EACCES : ENOENT), path: executable)
}

/// This process's environment as `"NAME=value"` strings (`environ`).
package func currentEnvironment() -> [String] {
    var result: [String] = []
    guard var entry = Optional(environ) else { return result }
    while let string = entry.pointee {
        result.append(String(cString: string))
        entry += 1
    }
    return result
}

/// A NULL-terminated `char *[]` built with `strdup`, freed by `free()`.
package struct CStringArray {
    package let pointer: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>
    package let count: Int

    package init(_ strings: [String]) {
        count = strings.count
        pointer = .allocate(capacity: strings.count + 1)
        for (i, s) in strings.enumerated() { pointer[i] = strdup(s) }
        pointer[strings.count] = nil
    }

    package func free() {
        for i in 0..<count { Glibc.free(pointer[i]) }
        pointer.deallocate()
    }
}

/// Runs `body` with a C string for `string`, or NULL.
private func withOptionalCString<R>(_ string: String?, _ body: (UnsafePointer<CChar>?) -> R) -> R {
    guard let string else { return body(nil) }
    return string.withCString { body($0) }
}
