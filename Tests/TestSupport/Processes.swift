// Shared checkers for the test targets (STYLE.md habit 9): routers,
// processes, running executables.
import Glibc
public import MitogenLib
package import MitogenSys

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

/// Runs `argv` with stdin from /dev/null and stdout+stderr on one pipe;
/// returns what it printed and how it ended.
package func runCapturing(
    _ argv: [String], environment: [String]? = nil, workingDirectory: String? = nil
) throws -> (output: String, status: ProcessStatus) {
    let null = try FileDescriptor.open("/dev/null", flags: O_RDONLY)
    let (r, w) = try FileDescriptor.pipe()
    let pid: pid_t
    do {
        defer { null.close(); w.close() }
        pid = try spawnProcess(SpawnRequest(
            executable: argv[0], argv: argv, environment: environment,
            stdin: null, stdout: w, stderr: w, workingDirectory: workingDirectory))
    } catch {
        r.close()
        throw error
    }
    defer { r.close() }
    let output = String(decoding: try readToEnd(r), as: UTF8.self)
    guard let status = try waitProcess(pid, block: true) else { throw SystemError("wait for pid \(pid)", errno: ECHILD) }
    return (output, status)
}

/// Reads `fd` until end of stream (blocking), for tests.
package func readToEnd(_ fd: FileDescriptor) throws -> [UInt8] {
    var result: [UInt8] = []
    while true {
        let chunk = try fd.read(upTo: FileDescriptor.pipeChunkSize)
        if chunk.isEmpty { return result }
        result += chunk
    }
}
