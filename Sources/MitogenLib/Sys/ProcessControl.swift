package import CMitogenSys
import Glibc

/// How a child process ended, as `waitpid` reports it.
package enum ProcessStatus: Equatable, Sendable {
    /// It called `exit` with this code (0...255).
    case exited(Int32)
    /// A signal killed it.
    case signaled(Int32)

    /// Python's `returncode`: the exit code, or minus the signal number.
    package var returnCode: Int {
        switch self {
        case .exited(let code): Int(code)
        case .signaled(let signal): -Int(signal)
        }
    }
}

/// Reaps `pid` with `waitpid` (`WNOHANG` unless `block`). `EINTR` is retried.
///
/// Stopped and continued children are not reported (no `WUNTRACED`).
/// - Returns: the status, or nil when `block` is false and the child still runs.
/// - Throws: `SystemError("wait for pid N", ECHILD)` when `pid` is not our
///   unreaped child (already reaped, or someone else's).
package func waitProcess(_ pid: pid_t, block: Bool) throws(SystemError) -> ProcessStatus? {
    var status: Int32 = 0
    let reaped = try systemCall("wait for pid \(pid)") { waitpid(pid, &status, block ? 0 : WNOHANG) }
    if reaped == 0 { return nil }
    if mitogen_wifexited(status) != 0 { return .exited(mitogen_wexitstatus(status)) }
    if mitogen_wifsignaled(status) != 0 { return .signaled(mitogen_wtermsig(status)) }
    preconditionFailure("waitpid(\(pid)) returned status \(status) that is neither exit nor signal without WUNTRACED")
}

/// Sends `signal` to `pid` with `kill(2)` (a negative pid is a process group;
/// signal 0 only checks existence).
/// - Returns: false when there is no such process (ESRCH) or we may not
///   signal it (EPERM).
/// Traps on EINVAL (an invalid signal number is our bug).
@discardableResult
package func sendSignal(_ signal: Int32, to pid: pid_t) -> Bool {
    switch valueOrErrno({ kill(pid, signal) }) {
    case .success: return true
    case .failure(let e):
        precondition(e.rawValue != EINVAL, "kill(\(pid), \(signal)): invalid signal number")
        return false
    }
}

/// Sends `signal` to the process group `pid` leads (`kill(-pid, signal)`),
/// so its own children go too; to `pid` alone when it does not lead a group
/// of its own (`getpgid(pid) != pid`), so this never signals a group the
/// process merely belongs to (such as ours).
/// - Returns: false when nothing could be signalled (ESRCH, EPERM).
@discardableResult
package func sendSignal(_ signal: Int32, toGroupOf pid: pid_t) -> Bool {
    guard pid > 0 else { return false }
    let leads = (try? valueOrErrno({ getpgid(pid) }).get()) == pid && pid != getpgrp()
    return sendSignal(signal, to: leads ? -pid : pid)
}

/// Reaps those of `pids` (our unreaped children) that exit within `timeout`
/// seconds, sleeping in `poll(2)` on their pidfds until one exits or the time
/// is up: no polling loop. Where pidfds are missing (Linux before 5.3) it
/// checks every 10 ms instead.
/// - Returns: the pids still running (an already reaped or foreign pid
///   counts as gone).
package func reapExits(of pids: Set<pid_t>, timeout: Double) -> Set<pid_t> {
    var left = pids
    let deadline = monotonicNow() + timeout
    while true {
        for pid in left {
            switch Result(catching: { () throws(SystemError) in try waitProcess(pid, block: false) }) {
            case .success(.some), .failure: left.remove(pid)
            case .success(.none): break
            }
        }
        let remaining = deadline - monotonicNow()
        if left.isEmpty || remaining <= 0 { return left }
        if !sleepUntilOneExits(Array(left), timeout: remaining) { usleep(10_000) }
    }
}

/// Sleeps in `poll(2)` on the pidfds of `pids` (our children) until one of
/// them exits or `timeout` seconds pass, without reaping anything.
/// - Returns: false, at once, when pidfds are missing (Linux before 5.3):
///   the caller then polls in its own way.
package func sleepUntilOneExits(_ pids: [pid_t], timeout: Double) -> Bool {
    let pidfds = pids.map { mitogen_pidfd_open($0) }
    defer { for fd in pidfds where fd >= 0 { close(fd) } }
    guard !pidfds.contains(where: { $0 < 0 }) else { return false }
    let deadline = monotonicNow() + timeout
    var entries = pidfds.map { pollfd(fd: $0, events: Int16(POLLIN), revents: 0) }
    while true {
        let left = deadline - monotonicNow()
        if left <= 0 { return true }
        switch valueOrErrno(retryOnInterrupt: false, { poll(&entries, nfds_t(entries.count), Int32(min(left * 1000, 60_000)) + 1) }) {
        case .success(let ready) where ready > 0: return true
        case .success: continue
        case .failure(let e) where e == .interrupted: continue
        case .failure: return true
        }
    }
}
