import Foundation
import Testing
@testable import ConsoleRender

/// The repository root, from this file's path.
let repoRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent().path

@Suite struct ThemeTests {
    let library = ThemeLibrary(directories: [repoRoot + "/themes"])

    @Test func builtinDefaultMatchesTheShippedFile() throws {
        let file = try String(contentsOfFile: repoRoot + "/themes/default.theme", encoding: .utf8)
        #expect(file.trimmingCharacters(in: .newlines) == BuiltinTheme.text.trimmingCharacters(in: .newlines))
    }

    @Test func shipsTheFiveThemes() {
        #expect(Set(["default", "light", "high-contrast", "mono", "nord"]).isSubset(of: Set(library.names())))
    }

    @Test(arguments: ["default", "light", "high-contrast", "mono", "nord"])
    func everyRoleResolvesAtEveryDepthWithDistinctColours(name: String) throws {
        let (theme, problems) = try library.load(name)
        #expect(problems.isEmpty, "\(problems)")
        for depth in ColorDepth.allCases {
            for role in Role.allCases {
                let style = theme.style(role, at: depth)
                if depth == .mono {
                    #expect(style.fg == nil && style.bg == nil)
                } else if let fg = style.fg, let bg = style.bg, fg != .terminalDefault {
                    #expect(fg != bg, "\(name) \(role.rawValue) at \(depth): fg == bg")
                }
            }
        }
        // The selection must stand out even without colours.
        #expect(!theme.style(.selection, at: .mono).attributes.isEmpty)
    }

    @Test func hexColoursAreNotComments() throws {
        let (nord, _) = try library.load("nord")
        #expect(nord.style(.base, at: .truecolor).bg == .rgb(0x2e, 0x34, 0x40))
        let (file, errors) = ThemeParser.parse("# a comment\nmark = #ff0000 # red\ntitle = red#not-a-comment\n", file: "t", defaultName: "t")
        #expect(file.theme.styles[.mark]?.fg == .rgb(255, 0, 0))
        #expect(errors.map(\.line) == [3])
    }

    @Test func colourFallbackStepsDown() {
        let bright8 = ThemeColor.parse("bright-red")!.reduced(to: .ansi8)
        #expect(bright8.color == .ansi(1) && bright8.bold)
        #expect(ThemeColor.parse("#ff0000")!.reduced(to: .xterm256).color == .indexed(196))
        #expect(ThemeColor.parse("#ff0000")!.reduced(to: .truecolor).color == .rgb(255, 0, 0))
        #expect(ThemeColor.parse("#ff0000")!.reduced(to: .ansi16).color == .ansi(9))
        let hex8 = ThemeColor.parse("#ff0000")!.reduced(to: .ansi8)
        #expect(hex8.color == .ansi(1) && hex8.bold)
        #expect(ThemeColor.parse("color244")!.reduced(to: .ansi16).color == .ansi(8))
        #expect(ThemeColor.parse("red")!.reduced(to: .mono).color == nil)
        #expect(ThemeColor.parse("colour9") == nil)
        #expect(ThemeColor.parse("color9") == .ansi(9))
    }

    @Test func aBadLineIsReportedWithItsLineAndSkipped() {
        let text = "name = x\nbase = default\nstate.failed = blurple\nnot a line\nfoo.bar = red\nlog.error = red sparkly\nmark = yellow\n"
        let (file, errors) = ThemeParser.parse(text, file: "x.theme", defaultName: "x")
        #expect(errors.map(\.line) == [3, 4, 5, 6])
        #expect(errors[0].description == "x.theme:3: unknown colour 'blurple'")
        #expect(errors[2].description.hasPrefix("x.theme:5: unknown role 'foo.bar'"))
        #expect(file.theme.styles[.mark] == StyleSpec(fg: .ansi(3)))
    }

    @Test func inheritanceAndPerDepthLines() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("tui-themes-\(getpid())").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try "inherits = default\nmark = #00ff00 on blue underline\nmark@16 = red\n".write(
            toFile: dir + "/child.theme", atomically: true, encoding: .utf8)
        try "inherits = loop2\n".write(toFile: dir + "/loop1.theme", atomically: true, encoding: .utf8)
        try "inherits = loop1\n".write(toFile: dir + "/loop2.theme", atomically: true, encoding: .utf8)
        let lib = ThemeLibrary(directories: [dir, repoRoot + "/themes"])
        let (theme, _) = try lib.load("child")
        #expect(theme.style(.mark, at: .truecolor) == ResolvedStyle(fg: .rgb(0, 255, 0), bg: .ansi(4), attributes: .underline))
        #expect(theme.style(.mark, at: .ansi16).fg == .ansi(1))
        // Not set in child: comes from default.
        #expect(theme.style(.stateFailed, at: .ansi16).fg == .ansi(9))
        #expect(throws: ThemeError.self) { try lib.load("loop1") }
        #expect(throws: ThemeError.self) { try lib.load("does-not-exist") }
    }
}
