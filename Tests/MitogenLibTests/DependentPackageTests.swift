import Foundation
import Testing
import TestSupport

/// A program that depends on this package the way users do: a versioned git
/// dependency (`from: "<tag>"`), built with `swift build`, then its child
/// built the documented way (README, "Using the library").
///
/// Slow (it builds the library from scratch): scripts/test.sh runs it alone,
/// after the other suites.
@Suite struct DependentPackageTests {
    struct Run {
        var status: Int32
        var output: String
    }

    func run(_ argv: [String], in directory: String) throws -> Run {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = argv
        p.currentDirectoryURL = URL(fileURLWithPath: directory)
        let out = Pipe()
        p.standardOutput = out
        p.standardError = out
        try p.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return Run(status: p.terminationStatus, output: String(decoding: data, as: UTF8.self))
    }

    @Test(.timeLimit(.minutes(10))) func aVersionedDependencyGetsAWorkingChildTheDocumentedWay() throws {
        let root = makeTempDirectory("mitogen-dependent")
        defer { try? FileManager.default.removeItem(atPath: root) }
        // The package as a versioned remote: a bare clone of this commit, tagged.
        let clone = try run(["git", "clone", "-q", "--bare", packageRoot, root + "/mitogen-swift.git"], in: root)
        #expect(clone.status == 0, "\(clone.output)")
        let tag = try run(["git", "-C", root + "/mitogen-swift.git", "tag", "9.9.9", "HEAD"], in: root)
        #expect(tag.status == 0, "\(tag.output)")

        let app = root + "/app"
        try FileManager.default.createDirectory(atPath: app + "/Sources/hello", withIntermediateDirectories: true)
        try """
            // swift-tools-version: 6.0
            import PackageDescription
            let package = Package(
                name: "app",
                dependencies: [.package(url: "file://\(root)/mitogen-swift.git", from: "9.9.9")],
                targets: [.executableTarget(name: "hello", dependencies: [.product(name: "MitogenLib", package: "mitogen-swift")])]
            )
            """.write(toFile: app + "/Package.swift", atomically: true, encoding: .utf8)
        try """
            import MitogenLib
            let router = Router()
            let context = try router.local(name: "dependent")
            let pid: Int = try context.call("os.getpid")
            print("child pid \\(pid)")
            """.write(toFile: app + "/Sources/hello/main.swift", atomically: true, encoding: .utf8)

        let build = try run(["swift", "build", "--product", "hello"], in: app)
        try #require(build.status == 0, "\(build.output)")
        let program = app + "/.build/debug/hello"

        // Before the child is built the error says what to run.
        let missing = try run([program], in: app)
        #expect(missing.status != 0)
        #expect(missing.output.contains("swift build --product mitogen-child"), "\(missing.output)")

        let child = try run(["swift", "build", "--product", "mitogen-child"], in: app)
        try #require(child.status == 0, "\(child.output)")
        let works = try run([program], in: app)
        #expect(works.status == 0, "\(works.output)")
        #expect(works.output.hasPrefix("child pid "), "\(works.output)")
    }
}
