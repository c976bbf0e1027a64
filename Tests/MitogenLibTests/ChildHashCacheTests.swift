import Foundation
import Glibc
import Testing
import TestSupport
@testable import MitogenSys
@testable import MitogenWire
@testable import MitogenMaster

/// The child's hash is computed once per file version and remembered on disk;
/// a changed file or an entry in a directory others can write is not trusted.
@Suite struct ChildHashCacheTests {
    let root = makeTempDirectory("mitogen-hashcache")
    var file: String { root + "/child" }
    var forms: String { root + "/forms" }

    func entry() throws -> String {
        var info = stat()
        #expect(stat(file, &info) == 0)
        return "\(forms)/\(info.st_dev)-\(info.st_ino).sha256"
    }

    @Test func hashIsStoredThenReusedUntilTheFileChanges() throws {
        defer { _ = system("rm -rf '\(root)'") }
        let bytes = (0..<300_000).map { UInt8(truncatingIfNeeded: $0 &* 7) }
        try Data(bytes).write(to: URL(fileURLWithPath: file))
        let real = SHA256.hexDigest(of: bytes)
        #expect(try ChildBinary(path: file, formCacheDirectory: forms).hash == real)
        let stored = try String(contentsOfFile: try entry(), encoding: .utf8)
        #expect(stored.hasSuffix(" \(real)\n"))

        // A planted entry for this exact version is what the next process uses:
        // proof that it reads the cache instead of hashing.
        let planted = String(repeating: "ab", count: 32)
        try stored.replacingOccurrences(of: real, with: planted).write(toFile: try entry(), atomically: false, encoding: .utf8)
        #expect(try ChildBinary(path: file, formCacheDirectory: forms).hash == planted)

        // Rewriting the same bytes changes the change time: hashed again.
        usleep(10_000)
        try Data(bytes).write(to: URL(fileURLWithPath: file))
        #expect(try ChildBinary(path: file, formCacheDirectory: forms).hash == real)

        // Garbage in the entry is ignored, not trusted.
        try "junk".write(toFile: try entry(), atomically: false, encoding: .utf8)
        #expect(try ChildBinary(path: file, formCacheDirectory: forms).hash == real)
    }

    @Test func directoryOthersCanWriteIsNotTrusted() throws {
        defer { _ = system("rm -rf '\(root)'") }
        let bytes = Array("a small child".utf8)
        try Data(bytes).write(to: URL(fileURLWithPath: file))
        #expect(mkdir(forms, 0o700) == 0)
        chmod(forms, 0o777)
        let version = try readWholeFileAndVersion(file).version
        try "\(version) \(String(repeating: "cd", count: 32))\n".write(toFile: try entry(), atomically: false, encoding: .utf8)
        #expect(try ChildBinary(path: file, formCacheDirectory: forms).hash == SHA256.hexDigest(of: bytes))
    }
}
