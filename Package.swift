// swift-tools-version: 6.0
// Mitogen for Swift: the library, the static child uploaded to targets, the
// operations console and the benchmark. Layout and layering: ../shared/DESIGN.md §2.
import PackageDescription

let package = Package(
    name: "mitogen-swift",
    platforms: [.macOS(.v15)],
    products: [
        .library(name: "MitogenLib", targets: ["MitogenLib"]),
        .executable(name: "mitogen-child", targets: ["mitogen-child"]),
        .executable(name: "mitogen-tui", targets: ["MitogenTUI"]),
        .executable(name: "mitogen-bench", targets: ["mitogen-bench"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
    ],
    targets: [
        // Fork-then-exec with a PTY and setns: the few things Swift must not do
        // between fork and exec (STYLE.md habit 4).
        .target(name: "CMitogenSys"),
        .target(
            name: "MitogenLib",
            dependencies: ["CMitogenSys", .product(name: "Logging", package: "swift-log")]
        ),
        .executableTarget(
            name: "mitogen-child",
            dependencies: ["MitogenLib"],
            // Static and stripped so it runs on a target with no Swift runtime and
            // uploads small (DESIGN §5). Set
            // on this target only: a global -static-executable breaks `swift test`.
            linkerSettings: [.unsafeFlags(["-static-executable", "-Xlinker", "--strip-all"])]
        ),
        .systemLibrary(name: "CNcursesw", pkgConfig: "ncursesw", providers: [.apt(["libncurses-dev"])]),
        .systemLibrary(name: "CLibSSH2", pkgConfig: "libssh2", providers: [.apt(["libssh2-1-dev"])]),
        .executableTarget(
            name: "MitogenTUI",
            dependencies: [
                "MitogenLib", "CNcursesw",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .executableTarget(
            name: "mitogen-bench",
            dependencies: ["MitogenLib", .product(name: "ArgumentParser", package: "swift-argument-parser")]
        ),
        .target(name: "TestSupport", dependencies: ["MitogenLib"], path: "Tests/TestSupport"),
        .testTarget(name: "MitogenTUITests", dependencies: ["MitogenTUI", "MitogenLib"]),
        .testTarget(name: "MitogenLibTests", dependencies: ["MitogenLib", "TestSupport"], exclude: ["Fixtures"]),
    ]
)

// One place for the language settings of every Swift target (STYLE.md habit 7).
for target in package.targets where target.type != .system && target.name != "CMitogenSys" {
    var settings = target.swiftSettings ?? []
    settings += [
        .enableUpcomingFeature("InternalImportsByDefault"),
        .enableUpcomingFeature("ExistentialAny"),
        .enableUpcomingFeature("MemberImportVisibility"),
    ]
    target.swiftSettings = settings
}
