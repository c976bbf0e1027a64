// Shared checkers for the test targets (STYLE.md habit 9).
import Glibc
public import MitogenLib
import MitogenSys

/// Runs `body` with a fresh master router and always shuts it down.
public func withTestRouter<T>(_ body: (Router) throws -> T) throws -> T {
    let router = Router()
    defer {
        router.shutdown()
        try? router.join(timeout: 15)
    }
    return try body(router)
}

/// True while a process with `pid` exists (and is not a zombie).
public func processAlive(_ pid: Int32) -> Bool {
    guard kill(pid, 0) == 0 else { return false }
    guard let f = fopen("/proc/\(pid)/stat", "r") else { return false }
    defer { fclose(f) }
    var buf = [CChar](repeating: 0, count: 512)
    guard fgets(&buf, 512, f) != nil else { return false }
    let text = String(decoding: buf.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    guard let close = text.lastIndex(of: ")") else { return true }
    let state = text[text.index(close, offsetBy: 2)]
    return state != "Z" && state != "X"
}

/// Polls `condition` every 10 ms until it holds or `timeout` seconds pass.
public func waitUntil(timeout: Double = 5, _ condition: () -> Bool) -> Bool {
    let deadline = monotonicNow() + timeout
    while monotonicNow() < deadline {
        if condition() { return true }
        usleep(10_000)
    }
    return condition()
}

/// A fresh temporary directory.
public func makeTempDirectory(_ prefix: String = "mitogen-test") -> String {
    makeTemporaryDirectory(prefix: prefix)
}
