import Foundation
import Testing
import TestSupport

/// docs/api.md is the map from the seed's API to ours: every seed element
/// (from the seed's own text, Fixtures/mitogen-api.rst) has a row, and every
/// Swift symbol a row names exists in the built modules (read with
/// swift-symbolgraph-extract, so a rename that forgets the doc fails here).
@Suite struct SeedAPITests {
    /// `mitogen.core.Message.reply` and the like, in the seed's order.
    static func seedElements() throws -> [String] {
        let text = try String(contentsOfFile: packageRoot + "/Tests/MitogenLibTests/Fixtures/mitogen-api.rst", encoding: .utf8)
        var module = "", owner: String? = nil, out: [String] = []
        for line in text.split(separator: "\n") {
            let words = line.trimmingCharacters(in: .whitespaces).split(separator: " ")
            guard words.count >= 2, words[0] == "..", words[1].hasSuffix("::") else { continue }
            let kind = words[1].dropLast(2).replacingOccurrences(of: "py:", with: "")
            guard words.count >= 3 else { continue }
            let name = String(words[2].prefix { $0.isLetter || $0.isNumber || $0 == "_" || $0 == "." })
            switch kind {
            case "currentmodule", "module": module = name; owner = nil
            case "class": owner = module + "." + name; out.append(owner!)
            case "autoclass": out.append(module + "." + name)
            case "autodata", "autofunction": out.append(name.hasPrefix("mitogen.") ? name : module + "." + name)
            case "decorator", "function": out.append(module + "." + name)
            case "method", "attribute", "classmethod": out.append((owner ?? module) + "." + name)
            default: continue
            }
        }
        var seen = Set<String>()
        return out.filter { seen.insert($0).inserted }
    }

    /// The rows of docs/api.md: seed names and Swift symbols, from backticks.
    static func rows() throws -> [(seed: [String], swift: [String])] {
        let text = try String(contentsOfFile: packageRoot + "/docs/api.md", encoding: .utf8)
        return text.split(separator: "\n").filter { $0.hasPrefix("| ") && !$0.hasPrefix("| Seed") }.map { line in
            let columns = line.split(separator: "|", omittingEmptySubsequences: false).map(String.init)
            return (codeSpans(columns[1]), codeSpans(columns[2]))
        }
    }

    static func codeSpans(_ text: String) -> [String] {
        text.split(separator: "`", omittingEmptySubsequences: false).enumerated().filter { $0.offset % 2 == 1 }.map { String($0.element) }
    }

    /// `Type.member(labels:)` paths of every public symbol of the library's layers.
    static func publicSymbols() throws -> Set<String> {
        let modules = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        var dir = modules
        while !FileManager.default.fileExists(atPath: dir.appendingPathComponent("Modules/MitogenCore.swiftmodule").path), dir.path != "/" {
            dir.deleteLastPathComponent()
        }
        let output = makeTempDirectory("mitogen-symbols")
        defer { try? FileManager.default.removeItem(atPath: output) }
        for module in ["MitogenWire", "MitogenCore", "MitogenCalls", "MitogenMaster", "MitogenChild"] {
            let p = Process()
            p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            p.arguments = [
                "swift-symbolgraph-extract", "-module-name", module, "-I", dir.path + "/Modules",
                "-target", "x86_64-unknown-linux-gnu", "-output-dir", output, "-minimum-access-level", "public",
                "-Xcc", "-fmodule-map-file=\(packageRoot)/Sources/CMitogenSys/include/module.modulemap",
            ]
            try p.run()
            p.waitUntilExit()
            try #require(p.terminationStatus == 0, "swift-symbolgraph-extract failed for \(module)")
        }
        var names = Set<String>()
        for file in try FileManager.default.contentsOfDirectory(atPath: output) where file.hasSuffix(".symbols.json") {
            let data = try Data(contentsOf: URL(fileURLWithPath: output + "/" + file))
            let graph = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
            for symbol in graph["symbols"] as? [[String: Any]] ?? [] {
                if let path = symbol["pathComponents"] as? [String] { names.insert(path.joined(separator: ".")) }
            }
        }
        return names
    }

    @Test func everySeedElementHasARow() throws {
        let elements = try Self.seedElements()
        #expect(elements.count >= 100, "the seed parser found only \(elements.count)")
        let documented = Set(try Self.rows().flatMap(\.seed))
        let missing = elements.filter { !documented.contains($0) }
        #expect(missing.isEmpty, "seed elements without a row in docs/api.md: \(missing)")
    }

    @Test func everyListedSwiftSymbolExists() throws {
        let symbols = try Self.publicSymbols()
        #expect(symbols.contains("Router.route(_:)"), "symbol graph looks empty: \(symbols.count) symbols")
        let listed = try Self.rows().flatMap(\.swift)
        #expect(listed.count >= 100)
        let missing = listed.filter { !symbols.contains($0) }
        #expect(missing.isEmpty, "docs/api.md names symbols that do not exist: \(missing)")
    }
}
