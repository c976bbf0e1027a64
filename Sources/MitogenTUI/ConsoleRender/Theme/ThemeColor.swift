/// How many colours the terminal can show, best first. `Theme.resolve`
/// steps a colour down until it fits.
package enum ColorDepth: Int, Comparable, Sendable, CaseIterable, CustomStringConvertible {
    case mono = 0
    case ansi8 = 8
    case ansi16 = 16
    case xterm256 = 256
    case truecolor = 16_777_216

    package static func < (a: ColorDepth, b: ColorDepth) -> Bool { a.rawValue < b.rawValue }

    /// The depth for a terminal reporting `colors` (curses `COLORS`).
    package init(colors: Int) {
        switch colors {
        case 16_777_216...: self = .truecolor
        case 256...: self = .xterm256
        case 16...: self = .ansi16
        case 8...: self = .ansi8
        default: self = .mono
        }
    }

    /// The suffix of per-depth theme lines (`role@16 = ...`).
    package var description: String {
        switch self {
        case .mono: "mono"
        case .ansi8: "8"
        case .ansi16: "16"
        case .xterm256: "256"
        case .truecolor: "truecolor"
        }
    }
}

/// A colour as written in a theme file.
package enum ThemeColor: Equatable, Sendable, Hashable {
    /// The terminal's own foreground or background (curses -1).
    case terminalDefault
    /// One of the 16 ANSI colours: 0-7 normal, 8-15 bright.
    case ansi(Int)
    /// A colour of the 256-colour palette (16-231 cube, 232-255 greys).
    case indexed(Int)
    /// A 24-bit colour.
    case rgb(UInt8, UInt8, UInt8)

    static let ansiNames = ["black", "red", "green", "yellow", "blue", "magenta", "cyan", "white"]

    /// Parses `default`, `red`, `bright-red`, `color0`..`color255`, `#rrggbb`.
    /// - Returns: nil when the token is none of those.
    static func parse(_ token: String) -> ThemeColor? {
        let t = token.lowercased()
        if t == "default" { return .terminalDefault }
        if let i = ansiNames.firstIndex(of: t) { return .ansi(i) }
        if t.hasPrefix("bright-"), let i = ansiNames.firstIndex(of: String(t.dropFirst(7))) { return .ansi(i + 8) }
        if t.hasPrefix("color"), let n = Int(t.dropFirst(5)), (0...255).contains(n) {
            return n < 16 ? .ansi(n) : .indexed(n)
        }
        if t.hasPrefix("#"), t.count == 7, let v = UInt32(t.dropFirst(), radix: 16) {
            return .rgb(UInt8(v >> 16), UInt8((v >> 8) & 0xff), UInt8(v & 0xff))
        }
        return nil
    }

    /// The colour stepped down to `depth`, and whether it needs bold to
    /// look bright (a bright colour on an 8-colour terminal).
    /// - Returns: nil colour at `.mono` (no colours at all).
    func reduced(to depth: ColorDepth) -> (color: ThemeColor?, bold: Bool) {
        switch (self, depth) {
        case (_, .mono): return (nil, false)
        case (.terminalDefault, _): return (self, false)
        case (.rgb, .truecolor): return (self, false)
        case (.rgb(let r, let g, let b), _): return ThemeColor.indexed(Self.nearest256(r, g, b)).reduced(to: depth)
        case (.indexed, .truecolor), (.indexed, .xterm256): return (self, false)
        case (.indexed(let n), _):
            let (r, g, b) = Self.rgbOf256(n)
            return ThemeColor.ansi(Self.nearest16(r, g, b)).reduced(to: depth)
        case (.ansi(let n), .ansi8): return n >= 8 ? (.ansi(n - 8), true) : (self, false)
        case (.ansi, _): return (self, false)
        }
    }

    /// The curses colour number at a depth already reduced to: -1 for the
    /// default, the palette index, or 0xRRGGBB for direct colour.
    package var cursesNumber: Int32 {
        switch self {
        case .terminalDefault: -1
        case .ansi(let n), .indexed(let n): Int32(n)
        case .rgb(let r, let g, let b): Int32(r) << 16 | Int32(g) << 8 | Int32(b)
        }
    }

    /// True for colours a light text shows best on (luma below half).
    var isDark: Bool {
        let (r, g, b): (Int, Int, Int)
        switch self {
        case .terminalDefault: return true
        case .ansi(let n), .indexed(let n): (r, g, b) = Self.rgbOf256(n)
        case .rgb(let x, let y, let z): (r, g, b) = (Int(x), Int(y), Int(z))
        }
        return 299 * r + 587 * g + 114 * b < 128_000
    }

    // MARK: Palette arithmetic (xterm's standard 256-colour palette)

    private static let cubeLevels: [Int] = [0, 95, 135, 175, 215, 255]
    /// xterm's default 16 colours.
    private static let ansiRGB: [(Int, Int, Int)] = [
        (0, 0, 0), (205, 0, 0), (0, 205, 0), (205, 205, 0), (0, 0, 238), (205, 0, 205), (0, 205, 205), (229, 229, 229),
        (127, 127, 127), (255, 0, 0), (0, 255, 0), (255, 255, 0), (92, 92, 255), (255, 0, 255), (0, 255, 255),
        (255, 255, 255),
    ]

    static func rgbOf256(_ n: Int) -> (Int, Int, Int) {
        if n < 16 { return ansiRGB[n] }
        if n >= 232 {
            let v = 8 + (n - 232) * 10
            return (v, v, v)
        }
        let i = n - 16
        return (cubeLevels[i / 36], cubeLevels[(i / 6) % 6], cubeLevels[i % 6])
    }

    private static func distance(_ a: (Int, Int, Int), _ b: (Int, Int, Int)) -> Int {
        let dr = a.0 - b.0, dg = a.1 - b.1, db = a.2 - b.2
        return 2 * dr * dr + 4 * dg * dg + 3 * db * db
    }

    /// The nearest colour of the cube or grey ramp (16-255).
    static func nearest256(_ r: UInt8, _ g: UInt8, _ b: UInt8) -> Int {
        let target = (Int(r), Int(g), Int(b))
        return (16...255).min { distance(rgbOf256($0), target) < distance(rgbOf256($1), target) }!
    }

    /// The nearest of the 16 ANSI colours.
    static func nearest16(_ r: Int, _ g: Int, _ b: Int) -> Int {
        (0..<16).min { distance(ansiRGB[$0], (r, g, b)) < distance(ansiRGB[$1], (r, g, b)) }!
    }
}
