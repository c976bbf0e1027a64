import Foundation
import Testing
import MitogenLib
@testable import MitogenSys
@testable import MitogenWire
@testable import MitogenCore
@testable import MitogenCalls
@testable import MitogenMaster
@testable import MitogenChild

/// The first stage run by the real `/bin/sh` (dash here), driven by the real
/// ``BootstrapHandshake``, uploading a fake child: a shell script that answers
/// the probe with `ok`, prints its argv, `MITO002`, then echoes stdin (`cat`).
@Suite struct FirstStageTests {
    static let isRoot = getuid() == 0

    @Test func missUploadsThenSecondRunHits() throws {
        let sandbox = try Sandbox()
        let first = try sandbox.run()
        try #require(first.failure == nil, "\(first.failure ?? "")")
        #expect(first.handshake.uploadedFormat == .raw)
        #expect(first.handshake.uploadedBytes == sandbox.child.size)
        #expect(first.logs.contains("fake child argv: mitogen:test-target"))
        #expect(first.echoed == Array("ping\n".utf8))
        #expect(first.exitStatus == 0)
        let installed = sandbox.home + "/.cache/mitogen/mitogen-child-" + sandbox.child.hash
        #expect(try permissions(installed) == 0o700)
        #expect(try permissions(sandbox.home + "/.cache/mitogen") == 0o700)
        #expect(try sandbox.leftoverTemporaries().isEmpty)

        let second = try sandbox.run()
        try #require(second.failure == nil, "\(second.failure ?? "")")
        #expect(second.sent.isEmpty, "a cache hit must not upload anything")
        #expect(second.handshake.uploadedFormat == nil)
        #expect(second.echoed == Array("ping\n".utf8))
    }

    /// The hit path runs builtins and a single `ls` for the cache's mode bits
    /// (no builtin reads them): strace sees exactly one fork, vfork or clone.
    @Test(.enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/strace"), "needs strace"))
    func hitPathForksOnlyForTheModeCheck() throws {
        let sandbox = try Sandbox()
        try #require(try sandbox.run().failure == nil)
        let trace = sandbox.root + "/trace"
        let traced = try sandbox.run(
            wrapper: ["/usr/bin/strace", "-f", "-qq", "-e", "trace=fork,vfork,clone,clone3", "-o", trace])
        try #require(traced.failure == nil, "\(traced.failure ?? "")")
        #expect(traced.sent.isEmpty)
        let calls = try String(contentsOfFile: trace, encoding: .utf8).split(separator: "\n").filter { !$0.contains("--- SIG") }
        #expect(calls.count == 1, "forks on the hit path:\n\(calls.joined(separator: "\n"))")
    }

    @Test func shellCommandFormWorksToo() throws {
        let sandbox = try Sandbox()
        let command = FirstStage.shellCommand(
            hash: sandbox.child.hash, name: "test-target", fallbackRoots: [sandbox.fallbackRoot])
        #expect(!command.contains("\n"))
        for expectUpload in [true, false] {
            let outcome = try sandbox.run(argv: ["/bin/sh", "-c", command])
            try #require(outcome.failure == nil, "\(outcome.failure ?? "")")
            #expect((outcome.handshake.uploadedFormat != nil) == expectUpload)
            #expect(outcome.echoed == Array("ping\n".utf8))
        }
    }

    @Test func xzUploadWhenCompressionIsPreferred() throws {
        let sandbox = try Sandbox()
        let outcome = try sandbox.run(preferCompression: true)
        try #require(outcome.failure == nil, "\(outcome.failure ?? "")")
        #expect(outcome.handshake.uploadedFormat == .xz)
        #expect(outcome.handshake.uploadedBytes < sandbox.child.size / 2)
        #expect(outcome.echoed == Array("ping\n".utf8))
    }

    /// A target without xz and zstd offers gzip, and gzip is what goes.
    @Test func gzipUploadWhenTargetLacksXz() throws {
        let sandbox = try Sandbox()
        let tools = try sandbox.toolbox(Sandbox.baseTools + ["gzip", "sha256sum"])
        let outcome = try sandbox.run(preferCompression: true, path: tools)
        try #require(outcome.failure == nil, "\(outcome.failure ?? "")")
        #expect(outcome.handshake.uploadedFormat == .gzip)
        #expect(outcome.echoed == Array("ping\n".utf8))
    }

    /// Without sha256sum the probe is asked to verify its own hash.
    @Test func withoutSha256sumTheProbeVerifies() throws {
        let sandbox = try Sandbox()
        let tools = try sandbox.toolbox(Sandbox.baseTools)
        let outcome = try sandbox.run(path: tools)
        try #require(outcome.failure == nil, "\(outcome.failure ?? "")")
        let probeArgs = try String(contentsOfFile: sandbox.root + "/probe-args", encoding: .utf8)
        #expect(probeArgs == "--mitogen-probe --verify-hash \(sandbox.child.hash)\n")
    }

    /// Two first connections racing on the same hash both upload and both succeed.
    @Test func racingMissesBothSucceed() throws {
        let sandbox = try Sandbox()
        let bothMissed = DispatchGroup()
        bothMissed.enter()
        bothMissed.enter()
        let outcomes = Outcomes()
        let finished = DispatchGroup()
        for _ in 0..<2 {
            finished.enter()
            Thread {
                let result = Result {
                    try sandbox.run(beforeUpload: {
                        bothMissed.leave()
                        _ = bothMissed.wait(timeout: .now() + 20)
                    })
                }
                outcomes.append(result)
                finished.leave()
            }.start()
        }
        finished.wait()
        let results = outcomes.all
        #expect(results.count == 2)
        for result in results {
            let outcome = try result.get()
            #expect(outcome.failure == nil, "\(outcome.failure ?? "")")
            #expect(outcome.handshake.uploadedFormat == .raw)
            #expect(outcome.echoed == Array("ping\n".utf8))
        }
        #expect(try sandbox.leftoverTemporaries().isEmpty)
    }

    /// Bytes that do not hash to the expected value are refused and not installed.
    @Test func corruptedUploadIsRefused() throws {
        let sandbox = try Sandbox()
        let otherHash = SHA256.hexDigest(of: Array("something else".utf8))
        let argv = FirstStage.argv(hash: otherHash, name: "test-target", fallbackRoots: [sandbox.fallbackRoot])
        let outcome = try sandbox.run(argv: argv)
        #expect(outcome.failure == "uploaded mitogen-child has sha256 \(sandbox.child.hash) but \(otherHash) was expected")
        #expect(outcome.exitStatus == 1)
        #expect(!FileManager.default.fileExists(atPath: sandbox.home + "/.cache/mitogen/mitogen-child-" + otherHash))
        #expect(try sandbox.leftoverTemporaries().isEmpty)
    }

    @Test func groupWritableCacheDirectoryIsRefused() throws {
        let sandbox = try Sandbox()
        let cache = sandbox.home + "/.cache/mitogen"
        try FileManager.default.createDirectory(atPath: cache, withIntermediateDirectories: true)
        chmod(cache, 0o777)
        let outcome = try sandbox.run()
        try #require(outcome.failure == nil, "\(outcome.failure ?? "")")
        #expect(outcome.logs.contains("first stage: cache directory \(cache) has mode 0777, refusing it"))
        #expect(sandbox.isInstalledInFallback)
        #expect(try permissions(cache) == 0o777, "the refused directory is left alone")
    }

    @Test(.enabled(if: isRoot, "chown to another user needs root"))
    func cacheDirectoryOwnedBySomeoneElseIsRefused() throws {
        let sandbox = try Sandbox()
        let cache = sandbox.home + "/.cache/mitogen"
        try FileManager.default.createDirectory(atPath: cache, withIntermediateDirectories: true)
        chmod(cache, 0o700)
        chown(cache, 65534, 65534)
        let outcome = try sandbox.run()
        try #require(outcome.failure == nil, "\(outcome.failure ?? "")")
        #expect(outcome.logs.contains("first stage: cache directory \(cache) is owned by uid 65534, refusing it"))
        #expect(sandbox.isInstalledInFallback)
    }

    @Test func noUsableDirectoryFailsBeforeUploading() throws {
        let sandbox = try Sandbox()
        let cache = sandbox.home + "/.cache/mitogen"
        let fallback = "\(sandbox.fallbackRoot)/mitogen-\(geteuid())"
        for directory in [cache, fallback] {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            chmod(directory, 0o775)
        }
        let outcome = try sandbox.run()
        #expect(outcome.sent.isEmpty)
        #expect(
            outcome.failure
                == "no usable cache directory: cache directory \(cache) has mode 0775, refusing it; "
                + "cache directory \(fallback) has mode 0775, refusing it")
        #expect(outcome.exitStatus == 1)
    }

    @Test func homeUnsetUsesTheFallback() throws {
        let sandbox = try Sandbox()
        let outcome = try sandbox.run(environment: ["PATH": "/usr/bin:/bin"])
        try #require(outcome.failure == nil, "\(outcome.failure ?? "")")
        #expect(sandbox.isInstalledInFallback)
        let again = try sandbox.run(environment: ["PATH": "/usr/bin:/bin"])
        #expect(again.sent.isEmpty, "the fallback directory is also checked on the hit path")
    }

    @Test func xdgCacheHomeWins() throws {
        let sandbox = try Sandbox()
        let xdg = sandbox.root + "/xdg"
        let outcome = try sandbox.run(environment: ["PATH": "/usr/bin:/bin", "HOME": sandbox.home, "XDG_CACHE_HOME": xdg])
        try #require(outcome.failure == nil, "\(outcome.failure ?? "")")
        #expect(FileManager.default.fileExists(atPath: "\(xdg)/mitogen/mitogen-child-\(sandbox.child.hash)"))
    }

    /// Login noise (motd, rc files) before the first stage's lines is logged and ignored.
    @Test func shellNoiseIsIgnored() throws {
        let sandbox = try Sandbox()
        let stage = FirstStage.argv(hash: sandbox.child.hash, name: "test-target", fallbackRoots: [sandbox.fallbackRoot])
        let noisy = ["/bin/sh", "-c", "echo 'Welcome to host'; echo 'MITOGEN1 not ours'; echo; exec \"$@\"", "noise"] + stage
        let outcome = try sandbox.run(argv: noisy)
        try #require(outcome.failure == nil, "\(outcome.failure ?? "")")
        #expect(Array(outcome.logs.prefix(3)) == ["Welcome to host", "MITOGEN1 not ours", ""])
        #expect(outcome.echoed == Array("ping\n".utf8))
    }

    @Test func eofMidwayQuotesTheLastLines() throws {
        let sandbox = try Sandbox()
        let outcome = try sandbox.run(argv: ["/bin/sh", "-c", "echo one; echo two >&2; printf three; exit 3"])
        #expect(outcome.failure?.hasPrefix("EOF on stream; last 100 lines received:\n") == true)
        #expect(outcome.failure?.contains("one") == true)
        #expect(outcome.failure?.hasSuffix("three") == true)
        #expect(outcome.exitStatus == 3)
    }

    @Test func targetOnAnotherPlatformIsAborted() throws {
        let sandbox = try Sandbox(platform: ChildBinary.Platform(os: "Linux", arch: "riscv64"))
        let outcome = try sandbox.run()
        let here = ChildBinary.Platform.current
        #expect(outcome.failure == "target is \(here) but this master's mitogen-child is built for Linux/riscv64")
        #expect(outcome.sent == [Array("ABORT \(outcome.failure ?? "")\n".utf8)])
        #expect(outcome.exitStatus == 1)
        #expect(try sandbox.leftoverTemporaries().isEmpty)
    }

    /// A noexec cache directory is detected by the probe and the fallback is used;
    /// with every directory noexec the stage fails with a clear message.
    @Test(.enabled(if: isRoot, "mounting a noexec tmpfs needs root"))
    func noexecMountFallsBack() throws {
        let sandbox = try Sandbox()
        let mountPoint = sandbox.root + "/noexec"
        try FileManager.default.createDirectory(atPath: mountPoint, withIntermediateDirectories: true)
        guard try Sandbox.execute(["/bin/mount", "-t", "tmpfs", "-o", "noexec,size=64m", "tmpfs", mountPoint]) == 0 else {
            Issue.record("mount -t tmpfs -o noexec failed although we are root")
            return
        }
        defer { _ = try? Sandbox.execute(["/bin/umount", mountPoint]) }
        let environment = ["PATH": "/usr/bin:/bin", "XDG_CACHE_HOME": mountPoint]
        let outcome = try sandbox.run(environment: environment)
        try #require(outcome.failure == nil, "\(outcome.failure ?? "")")
        #expect(outcome.logs.contains("first stage: cache directory \(mountPoint)/mitogen is on a noexec mount"))
        #expect(sandbox.isInstalledInFallback)
        #expect(try sandbox.leftoverTemporaries(in: mountPoint + "/mitogen").isEmpty)

        let allNoexec = FirstStage.argv(
            hash: sandbox.child.hash, name: "test-target", fallbackRoots: [mountPoint + "/fallback"])
        let failed = try sandbox.run(argv: allNoexec, environment: environment)
        #expect(
            failed.failure
                == "cache directory \(mountPoint)/mitogen is on a noexec mount and no fallback worked "
                + "(cache directory \(mountPoint)/mitogen is on a noexec mount; "
                + "cache directory \(mountPoint)/fallback/mitogen-\(geteuid()) is on a noexec mount)")
        #expect(try sandbox.leftoverTemporaries(in: mountPoint + "/mitogen").isEmpty)
    }

    /// Without /proc (unmounted in a private mount namespace) the stage says so.
    @Test(.enabled(if: isRoot && FileManager.default.isExecutableFile(atPath: "/usr/bin/unshare"), "needs root and unshare"))
    func missingProcIsReported() throws {
        let sandbox = try Sandbox()
        let stage = FirstStage.argv(hash: sandbox.child.hash, name: "test-target", fallbackRoots: [sandbox.fallbackRoot])
        let argv = ["/usr/bin/unshare", "-m", "--propagation", "private", "/bin/sh", "-c", "umount -l /proc && exec \"$@\"", "x"]
        let outcome = try sandbox.run(argv: argv + stage)
        var host = [CChar](repeating: 0, count: 256)
        gethostname(&host, host.count)
        let hostName = String(decoding: host.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        #expect(outcome.failure == "no /proc on \(hostName): the static child needs /proc mounted")
        #expect(outcome.sent.isEmpty)
        #expect(outcome.exitStatus == 1)
    }

    @Test func shellQuoting() {
        #expect(FirstStage.shellQuote("plain") == "'plain'")
        #expect(FirstStage.shellQuote("it's") == "'it'\\''s'")
        #expect(FirstStage.argv(hash: String(repeating: "a", count: 64), name: "n").first == "/bin/sh")
        #expect(FirstStage.argv(hash: String(repeating: "a", count: 64), name: "n").last == BootstrapMarker.processName)
    }

    /// A name with quotes and spaces reaches the child intact, in both forms.
    @Test func awkwardNameReachesTheChild() throws {
        let sandbox = try Sandbox()
        let name = "it's a \"name\" $HOME `x` \\ ; done"
        for argv in [
            FirstStage.argv(hash: sandbox.child.hash, name: name, fallbackRoots: [sandbox.fallbackRoot]),
            ["/bin/sh", "-c", FirstStage.shellCommand(hash: sandbox.child.hash, name: name, fallbackRoots: [sandbox.fallbackRoot])],
        ] {
            let outcome = try sandbox.run(argv: argv)
            try #require(outcome.failure == nil, "\(outcome.failure ?? "")")
            #expect(outcome.logs.contains("fake child argv: mitogen:\(name)"))
        }
    }
}

/// Results collected from several threads.
private final class Outcomes: @unchecked Sendable {
    // @unchecked: every access to `results` holds `lock`.
    private let lock = NSLock()
    private var results: [Result<StageOutcome, any Error>] = []

    func append(_ result: Result<StageOutcome, any Error>) { lock.withLock { results.append(result) } }
    var all: [Result<StageOutcome, any Error>] { lock.withLock { results } }
}

/// Deletes a test's temporary tree when the last copy of its owner goes away.
final class RemoveOnDeinit: Sendable {
    let path: String
    init(_ path: String) { self.path = path }
    deinit { try? FileManager.default.removeItem(atPath: path) }
}

private func permissions(_ path: String) throws -> Int {
    let attributes = try FileManager.default.attributesOfItem(atPath: path)
    return (attributes[.posixPermissions] as? Int) ?? -1
}

/// What one run of the first stage produced.
struct StageOutcome {
    var handshake: BootstrapHandshake
    /// Every action returned by the handshake, in order.
    var actions: [BootstrapHandshake.Action] = []
    /// The `failed` text, if the handshake failed.
    var failure: String?
    /// What the fake child echoed back after `ready` (we send `ping\n`).
    var echoed: [UInt8] = []
    var exitStatus: Int32 = -1

    var logs: [String] { actions.compactMap { if case .log(let line) = $0 { line } else { nil } } }
    var sent: [[UInt8]] { actions.compactMap { if case .send(let bytes) = $0 { bytes } else { nil } } }
}

/// A private HOME, fallback root and fake child for one test.
struct Sandbox: Sendable {
    static let baseTools = ["uname", "mkdir", "ls", "head", "chmod", "mv", "rm", "cp", "cat"]

    let root: String
    let home: String
    let fallbackRoot: String
    let child: ChildBinary
    private let cleanup: RemoveOnDeinit

    init(platform: ChildBinary.Platform = .current) throws {
        root = NSTemporaryDirectory() + "mitogen-boot-test-" + UUID().uuidString
        cleanup = RemoveOnDeinit(root)
        home = root + "/home"
        fallbackRoot = root + "/fallback"
        for directory in [home, fallbackRoot] {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        }
        // The padding after `exec cat` is never parsed; it gives compression something to do.
        var padding = "# "
        var generator = SystemRandomNumberGenerator()
        for index in 0..<200_000 {
            padding.append(["a", "b", "c", "d"][Int.random(in: 0..<4, using: &generator)])
            if index % 100 == 99 { padding += "\n# " }
        }
        let script = """
            #!/bin/sh
            if [ "$1" = --mitogen-probe ]; then echo "$*" > '\(root)/probe-args'; echo ok; exit 0; fi
            echo "fake child argv: $*"
            echo MITO002
            exec cat
            \(padding)

            """
        let path = root + "/fake-child"
        try script.write(toFile: path, atomically: true, encoding: .utf8)
        chmod(path, 0o755)
        child = try ChildBinary(path: path, platform: platform, formCacheDirectory: root + "/forms")
    }

    var isInstalledInFallback: Bool {
        FileManager.default.isExecutableFile(atPath: "\(fallbackRoot)/mitogen-\(geteuid())/mitogen-child-\(child.hash)")
    }

    /// Temporary upload files left in the home cache and fallback directories (or `directory`).
    func leftoverTemporaries(in directory: String? = nil) throws -> [String] {
        let directories = directory.map { [$0] } ?? [home + "/.cache/mitogen", "\(fallbackRoot)/mitogen-\(geteuid())"]
        return directories.flatMap { directory in
            ((try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []).filter { $0.hasPrefix(".") }
        }
    }

    /// A directory holding symlinks to just `tools`, to run the stage with a restricted PATH.
    func toolbox(_ tools: [String]) throws -> String {
        let directory = root + "/tools-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        for tool in tools {
            let target = ["/usr/bin/" + tool, "/bin/" + tool].first { FileManager.default.isExecutableFile(atPath: $0) }
            try FileManager.default.createSymbolicLink(atPath: directory + "/" + tool, withDestinationPath: try #require(target))
        }
        return directory
    }

    /// Runs a command to completion and returns its exit status.
    static func execute(_ argv: [String]) throws -> Int32 {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: argv[0])
        process.arguments = Array(argv.dropFirst())
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        process.waitUntilExit()
        return process.terminationStatus
    }

    /// Runs the first stage (or `argv`) with pipes, drives a handshake until it
    /// finishes, then pings the child and closes its stdin.
    func run(
        argv: [String]? = nil, environment: [String: String]? = nil, preferCompression: Bool = false,
        path: String? = nil, wrapper: [String] = [], beforeUpload: (() -> Void)? = nil
    ) throws -> StageOutcome {
        signal(SIGPIPE, SIG_IGN)
        let command = wrapper
            + (argv ?? FirstStage.argv(hash: child.hash, name: "test-target", fallbackRoots: [fallbackRoot]))
        let process = Process()
        process.executableURL = URL(fileURLWithPath: command[0])
        process.arguments = Array(command.dropFirst())
        process.environment = environment ?? ["PATH": path ?? "/usr/bin:/bin", "HOME": home]
        let input = Pipe()
        let output = Pipe()
        let errors = Pipe()
        process.standardInput = input
        process.standardOutput = output
        process.standardError = errors
        try process.run()
        let watchdog = DispatchWorkItem { process.terminate() }
        DispatchQueue.global().asyncAfter(deadline: .now() + 60, execute: watchdog)
        defer { watchdog.cancel() }

        var outcome = StageOutcome(handshake: BootstrapHandshake(child: child, preferCompression: preferCompression))
        var readyLeftover: [UInt8]?
        var uploadStarted = false
        reading: while true {
            let data = output.fileHandleForReading.availableData
            let actions = data.isEmpty ? outcome.handshake.eof() : outcome.handshake.feed([UInt8](data))
            for action in actions {
                outcome.actions.append(action)
                switch action {
                case .send(let bytes):
                    if !uploadStarted {
                        uploadStarted = true
                        beforeUpload?()
                    }
                    try input.fileHandleForWriting.write(contentsOf: Data(bytes))
                case .ready(let leftover):
                    readyLeftover = leftover
                case .failed(let reason):
                    outcome.failure = reason
                case .log, .progress:
                    break
                }
            }
            if data.isEmpty || readyLeftover != nil || outcome.failure != nil { break reading }
        }
        if var echoed = readyLeftover {
            try input.fileHandleForWriting.write(contentsOf: Data("ping\n".utf8))
            while echoed.count < 5 {
                let data = output.fileHandleForReading.availableData
                if data.isEmpty { break }
                echoed += data
            }
            outcome.echoed = echoed
        }
        try input.fileHandleForWriting.close()
        _ = output.fileHandleForReading.readDataToEndOfFile()
        // The stage writes little to stderr, so reading it last cannot deadlock.
        _ = errors.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        outcome.exitStatus = process.terminationStatus
        return outcome
    }
}
