// Shared checkers for the security tests: the hostile child, memory, and
// waits that must end.
import Glibc
public import MitogenLib
import MitogenMaster
import MitogenSys

/// Runs `body` with a fresh master router whose children all run
/// `mitogen-hostile-child` (the normal child plus `evil.*` functions that
/// forge messages; only the context a test calls `evil.*` on misbehaves).
public func withHostileRouter<T>(_ body: (Router) throws -> T) throws -> T {
    guard let own = ownExecutablePath(), let slash = own.lastIndex(of: "/") else {
        throw StreamError("cannot locate the test executable (/proc/self/exe)")
    }
    return try withTestRouter { router in
        try router.useChildBinary(at: String(own[..<slash]) + "/mitogen-hostile-child")
        return try body(router)
    }
}

/// True when scripts/sanitize.sh runs the tests under a sanitizer, whose
/// allocator keeps freed memory resident (ASan's quarantine, TSan's shadow):
/// RSS bounds do not apply.
public let underSanitizer = environmentValue("MITOGEN_SANITIZER") != nil

/// This process's resident set size in KiB (`VmRSS` of /proc/self/status), 0 if unreadable.
public func residentKiB() -> Int {
    guard let bytes = try? readWholeFile("/proc/self/status") else { return 0 }
    for line in String(decoding: bytes, as: UTF8.self).split(separator: "\n") where line.hasPrefix("VmRSS:") {
        return Int(line.split(separator: " ").dropFirst().first ?? "") ?? 0
    }
    return 0
}

/// Runs `body` on its own thread and waits up to `timeout` seconds for it.
/// Returns true if it finished in time; otherwise the thread is left running
/// (the caller must unblock it, e.g. by killing the process it waits on).
public func finishes(within timeout: Double, _ body: @escaping @Sendable () -> Void) -> Bool {
    let done = Latch<Bool>()
    startThread(name: "test.bounded") {
        body()
        try? done.put(true)
    }
    return (try? done.get(timeout: timeout)) != nil
}
