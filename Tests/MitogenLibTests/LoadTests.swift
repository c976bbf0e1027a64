import Glibc
import Testing
import TestSupport
import MitogenLib
@testable import MitogenCore
@testable import MitogenSys

/// Load and leaks: a thousand contexts, ten thousand calls in flight, all
/// shut down; descriptors, threads and child processes back to where they
/// started.
@Suite(.serialized) struct LoadTests {
    private func count(_ directory: String) -> Int {
        guard let dir = opendir(directory) else { return -1 }
        defer { closedir(dir) }
        var n = 0
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            if name != "." && name != ".." { n += 1 }
        }
        return n
    }

    /// Children of this process that are zombies (state Z in /proc/PID/stat).
    private func zombieChildren() -> Int {
        let me = getpid()
        var zombies = 0
        guard let dir = opendir("/proc") else { return 0 }
        defer { closedir(dir) }
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            guard let pid = Int32(name), let bytes = try? readWholeFile("/proc/\(pid)/stat") else { continue }
            let text = String(decoding: bytes, as: UTF8.self)
            guard let close = text.lastIndex(of: ")") else { continue }
            let fields = text[text.index(after: close)...].split(separator: " ")
            if fields.count > 2, fields[0] == "Z", Int32(fields[1]) == me { zombies += 1 }
        }
        return zombies
    }

    @Test func aThousandContextsTenThousandCallsThenAllShutDown() throws {
        let contexts = 1000
        // What a process sets up once on its first router (the broker watcher's
        // eventfd and thread) is not a leak: start counting after one.
        try withTestRouter { router in _ = try router.local(name: "warm-up") }
        let fdsBefore = count("/proc/self/fd")
        let threadsBefore = count("/proc/self/task")
        var firstHundred = 0.0, lastHundred = 0.0
        try withTestRouter { router in
            var all: [Context] = []
            for i in 0..<contexts {
                let t0 = monotonicNow()
                all.append(try router.local(name: "load.\(i)", connectTimeout: 60))
                let took = monotonicNow() - t0
                if i < 100 { firstHundred += took } else if i >= contexts - 100 { lastHundred += took }
            }
            // A Select over one call on each: every answer arrives.
            let pids = try Select.all(all.map { try $0.callAsyncValue("os.getpid", args: []) })
            #expect(pids.count == contexts)
            #expect(Set(pids.compactMap(\.intValue)).count == contexts)
            // Ten thousand calls in flight at once.
            let receivers = try (0..<10).flatMap { _ in try all.map { try $0.callAsyncValue("mitogen.echo", args: [7]) } }
            var answers = 0
            for r in receivers where (try? r.get(timeout: 120).unpickle())?.intValue == 7 { answers += 1 }
            #expect(answers == 10 * contexts)
            for c in all { _ = try? c.shutdown(wait: false) }
            #expect(waitUntil(timeout: 60) { all.allSatisfy(\.isDisconnected) })
        }
        // Connect time stays linear: the last hundred cost about what the first did.
        #expect(lastHundred < 3 * firstHundred + 0.5, "first 100: \(firstHundred) s, last 100: \(lastHundred) s")
        #expect(waitUntil(timeout: 10) { zombieChildren() == 0 }, "zombies left")
        #expect(waitUntil(timeout: 10) { count("/proc/self/fd") <= fdsBefore + 2 }, "fds \(fdsBefore) -> \(count("/proc/self/fd"))")
        #expect(waitUntil(timeout: 10) { count("/proc/self/task") <= threadsBefore + 4 }, "threads \(threadsBefore) -> \(count("/proc/self/task"))")
    }

    @Test func aThousandConnectShutdownCyclesLeaveNothingBehind() throws {
        let fdsBefore = count("/proc/self/fd")
        let threadsBefore = count("/proc/self/task")
        try withTestRouter { router in
            for i in 0..<1000 {
                let c = try router.local(name: "cycle.\(i)", connectTimeout: 30)
                try c.shutdown(wait: true)
            }
        }
        #expect(waitUntil(timeout: 10) { zombieChildren() == 0 })
        #expect(waitUntil(timeout: 10) { count("/proc/self/fd") <= fdsBefore + 2 }, "fds \(fdsBefore) -> \(count("/proc/self/fd"))")
        #expect(waitUntil(timeout: 10) { count("/proc/self/task") <= threadsBefore + 4 }, "threads \(threadsBefore) -> \(count("/proc/self/task"))")
    }
}

/// A big stream to a slow reader: flow control keeps both sides' memory flat.
@Suite struct SlowReaderTests {
    private func rssKiB(_ pid: Int32) -> Int {
        guard let bytes = try? readWholeFile("/proc/\(pid)/status") else { return -1 }
        for line in String(decoding: bytes, as: UTF8.self).split(separator: "\n") where line.hasPrefix("VmRSS:") {
            return Int(line.split(separator: " ").dropFirst().first ?? "") ?? -1
        }
        return -1
    }

    @Test func aGibibyteStreamToASlowReaderKeepsBothSidesBounded() throws {
        try withTestRouter { router in
            let child = try router.local(name: "streamer")
            let childPID = try #require(try child.callValue("os.getpid", timeout: 10).intValue.flatMap { Int32(exactly: $0) })
            // A budget of 4 MiB: past it the child's stream waits for this reader.
            let data = try Receiver(router: router, maxQueuedBytes: 4 << 20)
            defer { data.close() }
            let total = 1 << 30
            let call = try child.callAsyncValue(
                "files.get", args: [.str("/dev/zero"), .sender(contextID: router.contextID, handle: data.handle), .int(total)])
            defer { call.close() }
            let masterStart = rssKiB(getpid())
            var received = 0, chunks = 0
            var childPeak = 0, masterPeak = 0
            while received < total {
                let msg = try data.get(timeout: 30)
                guard let bytes = try msg.unpickle().bytesValue else { break }
                received += bytes.count
                chunks += 1
                if chunks % 64 == 0 {
                    usleep(20_000)  // the slow reader: the child must wait for it
                    childPeak = max(childPeak, rssKiB(childPID))
                    masterPeak = max(masterPeak, rssKiB(getpid()))
                }
            }
            #expect(received == total)
            #expect(try call.get(timeout: 30).unpickle().intValue == total)
            // Flow control holds the child to a few MiB in flight, never the gibibyte.
            #expect(childPeak < 64 * 1024, "child peak RSS \(childPeak) KiB")
            // And the receiver's budget holds the master to it (without one the
            // master queued +750 MiB for this gibibyte).
            #expect(masterPeak - masterStart < 64 * 1024, "master grew from \(masterStart) to \(masterPeak) KiB")
        }
    }
}
