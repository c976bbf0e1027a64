import Foundation
import Glibc
import Testing
import TestSupport
import MitogenLib
@testable import MitogenSys
@testable import MitogenWire
@testable import MitogenCore
@testable import MitogenMaster

/// The first stage's hit path runs a cached child only from a directory and
/// file owned by the target user and not writable by group or others (DESIGN
/// §5): a binary another local user planted under a shared fallback root
/// (`/tmp/mitogen-<uid>`) is never executed, and the connection still works.
@Suite(.serialized) struct FirstStageCacheTrustTests {
    static let isRoot = geteuid() == 0
    static let plantUser = "mitogen-plant"

    /// The uid of the local user who plants binaries, created (`useradd -M`) if missing.
    static func plantUID() throws -> uid_t {
        if let entry = getpwnam(plantUser) { return entry.pointee.pw_uid }
        let made = try runCapturing(["/usr/sbin/useradd", "-M", "-r", "-s", "/usr/sbin/nologin", plantUser])
        try #require(made.status == .exited(0), "useradd \(plantUser): \(made.output)")
        return try #require(getpwnam(plantUser)).pointee.pw_uid
    }

    /// Writes a "child" at `path` that touches `marker` when run, owned by
    /// `owner` with `mode`. It then acts as the fake child would (so a wrongly
    /// trusted plant also "connects"), or with `exits` just exits 1.
    static func plant(at path: String, marker: String, owner: uid_t, mode: mode_t, exits: Bool = false) throws {
        let script = """
            #!/bin/sh
            echo "planted $*" > '\(marker)'
            \(exits ? "exit 1" : "echo MITO002; exec cat")

            """
        try script.write(toFile: path, atomically: false, encoding: .utf8)
        try #require(chown(path, owner, gid_t(owner == 0 ? 0 : 65534)) == 0)
        try #require(chmod(path, mode) == 0)
    }

    /// Creates `path` owned by `owner` with exactly `mode`.
    static func directory(_ path: String, owner: uid_t, mode: mode_t) throws {
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        try #require(chown(path, owner, gid_t(owner == 0 ? 0 : 65534)) == 0)
        try #require(chmod(path, mode) == 0)
    }

    /// The planted child never ran, the stage uploaded a fresh copy into the
    /// home cache and started it.
    static func expectFreshUpload(_ outcome: StageOutcome, _ sandbox: Sandbox, marker: String) throws {
        #expect(!FileManager.default.fileExists(atPath: marker), "the planted binary ran")
        try #require(outcome.failure == nil, "\(outcome.failure ?? "")")
        #expect(outcome.handshake.uploadedFormat != nil, "expected a fresh upload, not a cache hit")
        #expect(outcome.logs.contains("fake child argv: mitogen:test-target"))
        #expect(outcome.echoed == Array("ping\n".utf8))
        #expect(FileManager.default.isExecutableFile(atPath: "\(sandbox.home)/.cache/mitogen/mitogen-child-\(sandbox.child.hash)"))
    }

    /// Another user makes `<fallback>/mitogen-<uid>/mitogen-child-<hash>` first:
    /// not run; the home cache gets the upload; without a home the stage refuses clearly.
    @Test(.enabled(if: isRoot, "planting as another user needs root (chown)"))
    func binaryPlantedByAnotherUserIsNotRun() throws {
        let uid = try Self.plantUID()
        let sandbox = try Sandbox()
        let marker = sandbox.root + "/planted-ran"
        let planted = "\(sandbox.fallbackRoot)/mitogen-\(geteuid())"
        try #require(chmod(sandbox.fallbackRoot, 0o1777) == 0)  // a shared root, like /tmp
        try Self.directory(planted, owner: uid, mode: 0o755)
        try Self.plant(at: "\(planted)/mitogen-child-\(sandbox.child.hash)", marker: marker, owner: uid, mode: 0o755)

        let outcome = try sandbox.run()
        try Self.expectFreshUpload(outcome, sandbox, marker: marker)
        #expect(outcome.logs.contains("first stage: cache directory \(planted) is owned by uid \(uid), refusing it"))

        // With no home cache there is nowhere trusted to go: a clear refusal, nothing run.
        let homeless = try sandbox.run(environment: ["PATH": "/usr/bin:/bin"])
        #expect(!FileManager.default.fileExists(atPath: marker), "the planted binary ran")
        #expect(homeless.failure == "no usable cache directory: cache directory \(planted) is owned by uid \(uid), refusing it")
        #expect(homeless.exitStatus == 1)
    }

    /// Our own directory, but the file in it belongs to another user: not run,
    /// and the upload replaces it.
    @Test(.enabled(if: isRoot, "planting as another user needs root (chown)"))
    func fileOwnedByAnotherUserInOurDirectoryIsNotRun() throws {
        let uid = try Self.plantUID()
        let sandbox = try Sandbox()
        let marker = sandbox.root + "/planted-ran"
        let fallback = "\(sandbox.fallbackRoot)/mitogen-\(geteuid())"
        try Self.directory(fallback, owner: geteuid(), mode: 0o700)
        let file = "\(fallback)/mitogen-child-\(sandbox.child.hash)"
        try Self.plant(at: file, marker: marker, owner: uid, mode: 0o755)

        let outcome = try sandbox.run(environment: ["PATH": "/usr/bin:/bin"])
        #expect(!FileManager.default.fileExists(atPath: marker), "the planted binary ran")
        try #require(outcome.failure == nil, "\(outcome.failure ?? "")")
        #expect(outcome.handshake.uploadedFormat != nil)
        #expect(outcome.logs.contains("fake child argv: mitogen:test-target"))
        var info = stat()
        #expect(stat(file, &info) == 0 && info.st_uid == geteuid(), "the upload replaced the planted file")
    }

    /// A group-writable directory owned by the target user (root) is not run
    /// from, even when the file in it is root's too.
    @Test(.enabled(if: isRoot, "a directory owned by root"))
    func groupWritableRootDirectoryIsNotRunFrom() throws {
        let sandbox = try Sandbox()
        let marker = sandbox.root + "/planted-ran"
        let fallback = "\(sandbox.fallbackRoot)/mitogen-\(geteuid())"
        try Self.directory(fallback, owner: 0, mode: 0o775)
        try Self.plant(at: "\(fallback)/mitogen-child-\(sandbox.child.hash)", marker: marker, owner: 0, mode: 0o755)

        let outcome = try sandbox.run()
        try Self.expectFreshUpload(outcome, sandbox, marker: marker)
        #expect(outcome.logs.contains("first stage: cache directory \(fallback) has mode 0775, refusing it"))
    }

    /// A cached file that group or others may write is not run, whoever we are.
    @Test func groupWritableCachedFileIsNotRun() throws {
        let sandbox = try Sandbox()
        let marker = sandbox.root + "/planted-ran"
        let fallback = "\(sandbox.fallbackRoot)/mitogen-\(geteuid())"
        try Self.directory(fallback, owner: geteuid(), mode: 0o700)
        for mode: mode_t in [0o775, 0o757] {
            try Self.plant(at: "\(fallback)/mitogen-child-\(sandbox.child.hash)", marker: marker, owner: geteuid(), mode: mode)
            try? FileManager.default.removeItem(atPath: sandbox.home + "/.cache")
            let outcome = try sandbox.run()
            try Self.expectFreshUpload(outcome, sandbox, marker: marker)
        }
    }

    /// A symlink in place of the cache directory is not followed on the hit path.
    @Test func symlinkedCacheDirectoryIsNotRunFrom() throws {
        let sandbox = try Sandbox()
        let marker = sandbox.root + "/planted-ran"
        let elsewhere = sandbox.root + "/elsewhere"
        try Self.directory(elsewhere, owner: geteuid(), mode: 0o700)
        try Self.plant(at: "\(elsewhere)/mitogen-child-\(sandbox.child.hash)", marker: marker, owner: geteuid(), mode: 0o700)
        let link = "\(sandbox.fallbackRoot)/mitogen-\(geteuid())"
        try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: elsewhere)

        let outcome = try sandbox.run()
        try Self.expectFreshUpload(outcome, sandbox, marker: marker)
        #expect(outcome.logs.contains("first stage: cache directory \(link) is not a directory, refusing it"))
    }

    /// The whole connection, through the router: a plant in the fallback root
    /// is not run, and the context starts from a fresh upload and answers.
    @Test(.enabled(if: isRoot, "planting as another user needs root (chown)"))
    func routerConnectionIgnoresPlantedBinary() throws {
        let uid = try Self.plantUID()
        let cache = makeTempDirectory("mitogen-trust-cache")
        defer { _ = try? runCapturing(["/bin/rm", "-rf", cache]) }
        let fallback = makeTempDirectory("mitogen-trust-fallback")
        defer { _ = try? runCapturing(["/bin/rm", "-rf", fallback]) }
        try #require(chmod(fallback, 0o1777) == 0)
        let marker = fallback + "/planted-ran"
        let hash = try ChildBinaryCache.shared().hash
        let planted = "\(fallback)/mitogen-\(geteuid())"
        try Self.directory(planted, owner: uid, mode: 0o755)
        try Self.plant(at: "\(planted)/mitogen-child-\(hash)", marker: marker, owner: uid, mode: 0o755, exits: true)

        try withTestRouter { router in
            router.setChildEnvironment("XDG_CACHE_HOME", cache)
            router.setCacheFallbackRoots([fallback])
            let context = try router.local()
            #expect(try context.callValue("mitogen.echo", args: ["hello"]) == "hello")
            let exe: String = try context.call("os.readlink", "/proc/self/exe")
            #expect(exe == "\(cache)/mitogen/mitogen-child-\(hash)")
        }
        #expect(!FileManager.default.fileExists(atPath: marker), "the planted binary ran")
    }
}
