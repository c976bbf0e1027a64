import Foundation
import Glibc
import Testing
import TestSupport
import MitogenLib
@testable import MitogenSys
@testable import MitogenWire
@testable import MitogenCore
@testable import MitogenCalls
@testable import MitogenMaster
@testable import MitogenChild

/// How children start (upload, cache, fork server) and end (parent death).
@Suite(.serialized) struct ChildLifecycleTests {
    /// Runs `body` with a router whose children see XDG_CACHE_HOME at a fresh
    /// directory, so the first stage starts with an empty cache.
    func withFreshCache<T>(_ body: (String, Router) throws -> T) throws -> T {
        let dir = makeTempDirectory("mitogen-cache")
        defer { _ = system("rm -rf '\(dir)'") }
        let fallback = makeTempDirectory("mitogen-fallback")
        defer { _ = system("rm -rf '\(fallback)'") }
        return try withTestRouter { router in
            router.setChildEnvironment("XDG_CACHE_HOME", dir)
            router.setCacheFallbackRoots([fallback])
            return try body(dir, router)
        }
    }

    @Test func secondStartHitsTheCacheAndUploadsNothing() throws {
        try withFreshCache { dir, router in
            do {
                let first = try router.local()
                let second = try router.local()
                let info = router.observer.contexts
                let up1 = info.first { $0.id == first.contextID }?.uploadedBytes ?? -1
                let up2 = info.first { $0.id == second.contextID }?.uploadedBytes ?? -1
                #expect(up1 > 1_000_000)  // the whole binary went up once
                #expect(up2 == 0)
                // It landed in a 0700 directory owned by us, named by hash.
                var st = stat()
                #expect(stat(dir + "/mitogen", &st) == 0)
                #expect(st.st_mode & 0o777 == 0o700 && st.st_uid == getuid())
                let exe: String = try second.call("os.readlink", "/proc/self/exe")
                #expect(exe.hasPrefix(dir + "/mitogen/mitogen-child-"))
            }
        }
    }

    /// Two first stages that miss at once both rename their copy into place;
    /// the hop that lost runs a file whose /proc/self/exe link now reads
    /// "… (deleted)". It must still serve its binary and start a fork server.
    @Test func hopWhoseCacheFileWasReplacedStillStartsChildren() throws {
        try withFreshCache { dir, router in
            let hop = try router.local(name: "hop")
            let exe: String = try hop.call("os.readlink", "/proc/self/exe")
            let copy = exe + ".racing"
            #expect(system("cp '\(exe)' '\(copy)' && mv '\(copy)' '\(exe)'") == 0)
            let after: String = try hop.call("os.readlink", "/proc/self/exe")
            #expect(after == exe + " (deleted)")
            let below = try router.local(name: "below", via: hop)
            #expect(try below.call("os.getpid") as Int > 0)
            let forked = try router.fork(via: hop, name: "forked")
            #expect(try forked.call("os.getpid") as Int > 0)
        }
    }

    @Test func cacheDirectoryWritableByOthersIsRefused() throws {
        try withFreshCache { dir, router in
            #expect(mkdir(dir + "/mitogen", 0o777) == 0)
            chmod(dir + "/mitogen", 0o777)
            do {
                let child = try router.local()
                let exe: String = try child.call("os.readlink", "/proc/self/exe")
                // It fell back to <fallback root>/mitogen-<uid> rather than the world-writable directory.
                #expect(!exe.hasPrefix(dir))
                #expect(exe.hasPrefix("/tmp/mitogen-fallback.") && exe.contains("/mitogen-\(getuid())/mitogen-child-"))
            }
            let entries = try? listDirectory(dir + "/mitogen")
            #expect(entries?.isEmpty == true)
        }
    }

    @Test func forkServerStartsContextsThatAnswer() throws {
        try withTestRouter { router in
            let a = try router.fork()
            let b = try router.fork()
            let pa: Int = try a.call("os.getpid")
            let pb: Int = try b.call("os.getpid")
            #expect(pa != pb && pa != Int(getpid()))
            #expect(try a.callValue("mitogen.echo", args: ["forked"]) == "forked")
            let cmdline = try readWholeFile("/proc/\(pa)/cmdline")
            #expect(String(decoding: cmdline.prefix { $0 != 0 }, as: UTF8.self).hasPrefix("mitogen:"))
            try a.shutdown(wait: true, timeout: 10)
            #expect(waitUntil { !processAlive(Int32(pa)) })
            #expect(try b.callValue("os.getpid").intValue == pb)
        }
    }

    @Test func connectTimeoutGivesMitogensError() throws {
        try withTestRouter { router in
            let error = #expect(throws: StreamError.self) {
                try router.connect(SleepingMethod(), ConnectionOptions(connectTimeout: 0.3))
            }
            // Mitogen's text, then the stage the start was stuck in.
            #expect(error?.message.hasPrefix("Connection timed out. (after 0.3 s, while ") == true, "\(String(describing: error))")
            #expect(error?.kind == .timeout)
        }
    }

    @Test func slashInRemoteNameIsRefused() throws {
        try withTestRouter { router in
            let error = #expect(throws: StreamError.self) { try router.local(remoteName: "a/b") }
            #expect(error?.message == "remote_name= cannot contain slashes")
        }
    }
}

/// A transport that never starts the first stage: for the connect timeout.
struct SleepingMethod: ConnectionMethod {
    var methodName: String { "sleep" }
    func defaultName(pid: Int32) -> String { "sleep.\(pid)" }
    func command(stageArgv: [String], stageCommand: String) throws -> [String] { ["/bin/sleep", "30"] }
    var preferCompression: Bool { false }
}

func listDirectory(_ path: String) throws -> [String] {
    guard let d = opendir(path) else { throw SystemError("opendir", errno: errno) }
    defer { closedir(d) }
    var names: [String] = []
    while let e = readdir(d) {
        let name = withUnsafeBytes(of: e.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        if name != "." && name != ".." { names.append(name) }
    }
    return names
}

/// A child whose master dies exits too: no orphans.
@Suite struct OrphanTests {
    @Test func childExitsWhenItsMasterIsKilled() throws {
        let tui = CommandLineTests.executable.path
        let name = "orphan\(getpid())"
        var pid: pid_t = 0
        var attrs: posix_spawnattr_t = posix_spawnattr_t()
        posix_spawnattr_init(&attrs)
        let argv = [tui, "call", "local?remote_name=\(name)", "time.sleep(60)"]
        let cargs = argv.map { strdup($0) } + [nil]
        defer { cargs.forEach { free($0) } }
        #expect(posix_spawn(&pid, tui, nil, &attrs, cargs, environ) == 0)
        var child: Int32 = 0
        #expect(waitUntil(timeout: 10) {
            child = findProcess(commandLine: "mitogen:\(name)") ?? 0
            return child != 0
        })
        kill(pid, SIGKILL)
        var status: Int32 = 0
        waitpid(pid, &status, 0)
        #expect(waitUntil(timeout: 5) { !processAlive(child) })
    }
}

/// The pid whose /proc cmdline starts with `prefix`.
func findProcess(commandLine prefix: String) -> Int32? {
    for name in (try? listDirectory("/proc")) ?? [] {
        guard let pid = Int32(name), let raw = try? readWholeFile("/proc/\(pid)/cmdline") else { continue }
        if String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self).hasPrefix(prefix) { return pid }
    }
    return nil
}

/// `debug` and `profiling` leave their files, as the seed describes.
@Suite struct DebugAndProfilingTests {
    @Test func debugChildWritesItsLogAndProfilingWritesStats() throws {
        let router = Router(profiling: true)
        let child = try router.local(debug: true)
        let pid = try child.callValue("os.getpid").intValue!
        try child.callValue("time.sleep", args: [0.01])
        try child.shutdown(wait: true, timeout: 10)
        router.shutdown()
        try router.join(timeout: 10)
        let childLog = String(decoding: try readWholeFile("/tmp/mitogen.\(pid).log"), as: UTF8.self)
        #expect(childLog.contains("running time.sleep"))
        let childStats = String(decoding: try readWholeFile("/tmp/mitogen.stats.\(pid).mitogen.main.log"), as: UTF8.self)
        #expect(childStats.contains("time.sleep") && childStats.contains("os.getpid"), "stats: \(childStats)")
        let masterStats = String(decoding: try readWholeFile("/tmp/mitogen.stats.\(getpid()).mitogen.broker.log"), as: UTF8.self)
        #expect(masterStats.contains("time.sleep"))
        for p in ["/tmp/mitogen.\(pid).log", "/tmp/mitogen.stats.\(pid).mitogen.main.log", "/tmp/mitogen.stats.\(getpid()).mitogen.broker.log"] {
            unlink(p)
        }
    }
}
