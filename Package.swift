// swift-tools-version: 6.0
// Mitogen for Swift: the library, the static child uploaded to targets, the
// operations console and the benchmark.
//
// The library is split into one target per layer, each under
// Sources/MitogenLib/<Layer>/, and dependencies point one way only:
//
//     MitogenSys <- MitogenWire <- MitogenCore <- MitogenCalls <- MitogenMaster <- MitogenChild
//                                                                         ^              ^
//                                      MitogenSSH2 (+ CLibSSH2) ----------+              |
//                                           ^                                             |
//                     MitogenLib (umbrella: `import MitogenLib`) ------------------------+
//
// MitogenSSH2 sits beside the child, never under it: the static child does
// not link libssh2 (DESIGN §6).
//
// so a wrong-way import fails the build. What targets share but users should
// not see is `package`; `public` is the seed's API.
//
// The console (`mitogen-tui`) is layered the same way, under Sources/MitogenTUI/:
//
//     ConsoleModel <- ConsoleRender <- MitogenTUI
//                        Inventory <------+
//
// ConsoleModel (Model, Input, Literal, Text) is plain data and parsing;
// Inventory reads inventory files (Ansible INI and YAML, plain chain lists);
// ConsoleRender (Render, Theme) turns it into frames, a pure function with no
// terminal; only the executable (Console/: App, Terminal, Commands) links curses.
import PackageDescription

/// A library layer living in Sources/MitogenLib/<folder>/.
func layer(_ name: String, _ folder: String, _ dependencies: [Target.Dependency]) -> Target {
    .target(name: name, dependencies: dependencies, path: "Sources/MitogenLib/\(folder)")
}

let logging = Target.Dependency.product(name: "Logging", package: "swift-log")
let argumentParser = Target.Dependency.product(name: "ArgumentParser", package: "swift-argument-parser")

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
        // YAML inventories; the console's Inventory target only, never the child's graph (DESIGN §2).
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
    ],
    targets: [
        // Fork-then-exec with a PTY, wait-status macros, the few things Swift
        // must not do between fork and exec (STYLE.md habit 4).
        .target(name: "CMitogenSys"),
        layer("MitogenSys", "Sys", ["CMitogenSys"]),
        layer("MitogenWire", "Wire", []),
        layer("MitogenCore", "Core", ["MitogenSys", "MitogenWire", logging]),
        layer("MitogenCalls", "Calls", ["MitogenCore"]),
        layer("MitogenMaster", "Master", ["MitogenCalls", logging]),
        layer("MitogenChild", "Child", ["MitogenMaster", logging]),
        // The in-process SSH transport (DESIGN §6): master side only. The
        // umbrella links it; MitogenChild and the static child never do.
        .target(
            name: "MitogenSSH2", dependencies: ["MitogenMaster", "MitogenCore", "MitogenSys", "MitogenWire", "CLibSSH2"],
            path: "Sources/MitogenSSH2"),
        layer("MitogenLib", "Umbrella", ["MitogenChild", "MitogenSSH2"]),
        .executableTarget(
            name: "mitogen-child",
            dependencies: ["MitogenChild"],
            // Static and stripped so it runs on a target with no Swift runtime and
            // uploads small (DESIGN §5). Set on this target only: a global
            // -static-executable breaks `swift test`.
            linkerSettings: [.unsafeFlags(["-static-executable", "-Xlinker", "--strip-all"])]
        ),
        .systemLibrary(name: "CNcursesw", pkgConfig: "ncursesw", providers: [.apt(["libncurses-dev"])]),
        // wcwidth(3) from libc, which the Glibc module does not declare.
        .systemLibrary(name: "CWcwidth"),
        .systemLibrary(name: "CLibSSH2", pkgConfig: "libssh2", providers: [.apt(["libssh2-1-dev"])]),
        .target(
            name: "ConsoleModel", dependencies: ["MitogenLib", "MitogenWire", "CWcwidth"],
            path: "Sources/MitogenTUI/ConsoleModel"),
        .target(
            name: "ConsoleRender", dependencies: ["ConsoleModel", "MitogenLib", "MitogenSys"],
            path: "Sources/MitogenTUI/ConsoleRender"),
        // Ansible INI/YAML inventories and plain chain files, for the console and
        // `mitogen-tui call`: the only target that links Yams.
        .target(
            name: "Inventory", dependencies: ["MitogenLib", "MitogenSys", .product(name: "Yams", package: "Yams")],
            path: "Sources/MitogenTUI/Inventory"),
        .executableTarget(
            name: "MitogenTUI",
            dependencies: ["ConsoleModel", "ConsoleRender", "Inventory", "MitogenLib", "MitogenSys", "CNcursesw", argumentParser],
            path: "Sources/MitogenTUI/Console"),
        .executableTarget(name: "mitogen-bench", dependencies: ["MitogenLib", "MitogenSys", argumentParser]),
        // A compromised child for the security tests (forges messages).
        .executableTarget(
            name: "mitogen-hostile-child", dependencies: ["MitogenChild", "MitogenMaster", "MitogenCalls", logging], path: "Tests/HostileChild"),
        .target(name: "TestSupport", dependencies: ["MitogenLib", "MitogenMaster", "MitogenSys"], path: "Tests/TestSupport"),
        .testTarget(
            name: "MitogenMasterTests",
            dependencies: ["MitogenLib", "MitogenSys", "MitogenCore", "MitogenWire", "MitogenMaster", "TestSupport"],
            exclude: ["Fixtures"]),
        .testTarget(
            name: "MitogenTUITests",
            dependencies: ["MitogenTUI", "ConsoleModel", "ConsoleRender", "Inventory", "MitogenLib", "MitogenSys", "TestSupport"]),
        .testTarget(
            name: "MitogenLibTests",
            dependencies: ["MitogenLib", "MitogenSys", "MitogenWire", "MitogenCore", "MitogenCalls", "MitogenMaster", "MitogenChild", "TestSupport"],
            exclude: ["Fixtures"]),
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
