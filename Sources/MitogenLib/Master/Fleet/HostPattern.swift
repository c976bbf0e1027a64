/// Host patterns, the pdsh/ClusterShell way: one text naming many targets.
///
/// ```
/// web[01-20,25].example.com   web01 ... web20, web25 (zero padding kept)
/// {app,db}-[1-3]              app-1 app-2 app-3 db-1 db-2 db-3
/// web1,web2                   alternatives at the top level
/// ```
///
/// `[...]` holds numbers and ranges `A-B` separated by commas; a range whose
/// start has a leading zero keeps its width (`[08-11]` is 08 09 10 11).
/// `{...}` holds alternatives separated by commas, each itself a pattern.
/// Brackets whose content holds a ':' are an IPv6 address (`[::1]`) and stay
/// literal. Expansion is the cartesian product in written order.
///
/// The number of names is counted before any is made, so a pattern such as
/// `[1-999999999]` is refused with `HostPatternError` instead of allocating.
public enum HostPattern {
    /// The most names one pattern may expand to.
    public static let maximumExpansion = 65_536

    /// True when `text` holds pattern syntax (`[` with a numeric set, `{`, or
    /// a top-level `,`), so a caller can skip expansion for plain names.
    public static func hasPattern(_ text: String) -> Bool {
        var parser = Parser(text)
        guard let parsed = try? parser.parseAlternatives(until: nil) else { return true }  // let expand say what is wrong
        return parsed.count > 1 || parsed.contains { $0.contains { !$0.isLiteral } }
    }

    /// Every name `text` stands for, in order (duplicates kept).
    /// - Throws: `HostPatternError` naming the column (1-based) and the
    ///   problem: an unclosed or empty `[` or `{`, a bad number or range, a
    ///   range that runs backwards, more than `limit` names.
    public static func expand(_ text: String, limit: Int = maximumExpansion) throws(HostPatternError) -> [String] {
        var parser = Parser(text)
        let alternatives = try parser.parseAlternatives(until: nil)
        let total = try count(alternatives, limit: limit)
        var names: [String] = []
        names.reserveCapacity(total)
        for sequence in alternatives { expand(sequence, prefix: "", into: &names) }
        return names
    }

    // MARK: - The parsed form

    /// One piece of a pattern.
    enum Segment {
        case literal(String)
        /// The values of a `[...]`, already formatted.
        case numbers([NumberRange])
        /// The alternatives of a `{...}`.
        case choice([[Segment]])

        var isLiteral: Bool { if case .literal = self { true } else { false } }
    }

    /// `lo...hi`, printed `width` digits wide (0: as is).
    struct NumberRange {
        var lo: Int
        var hi: Int
        var width: Int
        var count: Int { hi - lo + 1 }
        func text(_ n: Int) -> String {
            let digits = String(n)
            return digits.count >= width ? digits : String(repeating: "0", count: width - digits.count) + digits
        }
    }

    /// How many names the alternatives expand to, refusing more than `limit`.
    private static func count(_ alternatives: [[Segment]], limit: Int) throws(HostPatternError) -> Int {
        var total = 0
        for sequence in alternatives {
            var product = 1
            for segment in sequence {
                let n: Int
                switch segment {
                case .literal: n = 1
                case .numbers(let ranges):
                    var sum = 0
                    for range in ranges {
                        sum += range.count  // each below 10^18, so no overflow before the check
                        guard sum <= limit else { throw tooMany(limit) }
                    }
                    n = sum
                case .choice(let inner): n = try count(inner, limit: limit)
                }
                let (p, overflow) = product.multipliedReportingOverflow(by: n)
                guard !overflow, p <= limit else { throw tooMany(limit) }
                product = p
            }
            total += product
            guard total <= limit else { throw tooMany(limit) }
        }
        return total
    }

    private static func tooMany(_ limit: Int) -> HostPatternError {
        HostPatternError(column: nil, message: "the pattern expands to more than \(limit) names")
    }

    private static func expand(_ sequence: ArraySlice<Segment>, prefix: String, into names: inout [String]) {
        guard let first = sequence.first else {
            names.append(prefix)
            return
        }
        let rest = sequence.dropFirst()
        switch first {
        case .literal(let text): expand(rest, prefix: prefix + text, into: &names)
        case .numbers(let ranges):
            for range in ranges {
                for n in range.lo...range.hi { expand(rest, prefix: prefix + range.text(n), into: &names) }
            }
        case .choice(let alternatives):
            for alternative in alternatives {
                var inner: [String] = []
                expand(alternative[...], prefix: prefix, into: &inner)
                for p in inner { expand(rest, prefix: p, into: &names) }
            }
        }
    }

    private static func expand(_ sequence: [Segment], prefix: String, into names: inout [String]) {
        expand(sequence[...], prefix: prefix, into: &names)
    }

    // MARK: - Parsing

    struct Parser {
        let chars: [Character]
        var i = 0

        init(_ text: String) { chars = Array(text) }

        func fail(_ message: String, at index: Int? = nil) -> HostPatternError {
            HostPatternError(column: (index ?? i) + 1, message: message)
        }

        /// Alternatives separated by top-level `,`, up to `close` (consumed)
        /// or the end.
        mutating func parseAlternatives(until close: Character?) throws(HostPatternError) -> [[Segment]] {
            let open = i - 1
            var alternatives: [[Segment]] = []
            var current: [Segment] = []
            var literal = ""
            func flush() {
                if !literal.isEmpty { current.append(.literal(literal)) }
                literal = ""
            }
            while i < chars.count {
                let c = chars[i]
                if c == close {
                    i += 1
                    flush()
                    alternatives.append(current)
                    guard !alternatives.allSatisfy(\.isEmpty) else { throw fail("'{}' is empty", at: open) }
                    return alternatives
                }
                switch c {
                case ",":
                    flush()
                    guard !current.isEmpty else { throw fail("empty name before ','") }
                    alternatives.append(current)
                    current = []
                    i += 1
                case "{":
                    flush()
                    i += 1
                    current.append(.choice(try parseAlternatives(until: "}")))
                case "}": throw fail("'}' without '{'")
                case "[":
                    if let ipv6 = bracketedLiteral() {
                        literal += ipv6
                    } else {
                        flush()
                        current.append(.numbers(try parseNumbers()))
                    }
                case "]": throw fail("']' without '['")
                default:
                    literal.append(c)
                    i += 1
                }
            }
            if let close { throw fail("'\(close == "}" ? "{" : "[")' is never closed", at: open) }
            flush()
            guard !current.isEmpty || alternatives.isEmpty else { throw fail("empty name after ','") }
            alternatives.append(current)
            return alternatives
        }

        /// `[...]` holding a ':' (an IPv6 address), taken whole; nil otherwise.
        mutating func bracketedLiteral() -> String? {
            guard let end = chars[i...].firstIndex(of: "]"), chars[i..<end].contains(":") else { return nil }
            defer { i = end + 1 }
            return String(chars[i...end])
        }

        /// `[A-B,C,...]`, starting at the `[`.
        mutating func parseNumbers() throws(HostPatternError) -> [NumberRange] {
            let open = i
            i += 1
            var ranges: [NumberRange] = []
            while true {
                guard i < chars.count else { throw fail("'[' is never closed", at: open) }
                let (loText, loStart) = digits()
                guard !loText.isEmpty else {
                    if i < chars.count, chars[i] == "]", ranges.isEmpty { throw fail("'[]' is empty", at: open) }
                    throw fail(i < chars.count ? "expected a number, found '\(chars[i])'" : "'[' is never closed",
                               at: i < chars.count ? i : open)
                }
                var hiText = loText
                if i < chars.count, chars[i] == "-" {
                    i += 1
                    let (text, _) = digits()
                    guard !text.isEmpty else { throw fail("the range starting at \(loText) has no end") }
                    hiText = text
                }
                guard let lo = Int(loText), let hi = Int(hiText), hiText.count <= 18 else {
                    throw fail("the number is too large", at: loStart)
                }
                guard lo <= hi else { throw fail("the range \(loText)-\(hiText) runs backwards", at: loStart) }
                let width = loText.count > 1 && loText.first == "0" ? loText.count : 0
                ranges.append(NumberRange(lo: lo, hi: hi, width: width))
                guard i < chars.count else { throw fail("'[' is never closed", at: open) }
                if chars[i] == "]" {
                    i += 1
                    return ranges
                }
                guard chars[i] == "," else { throw fail("expected ',', '-' or ']', found '\(chars[i])'") }
                i += 1
            }
        }

        /// A run of ASCII digits (at most 18 read as a number later).
        mutating func digits() -> (String, Int) {
            let start = i
            while i < chars.count, let a = chars[i].asciiValue, (48...57).contains(a) { i += 1 }
            return (String(chars[start..<i]), start)
        }
    }
}

/// A host pattern that does not parse or expands too far.
public struct HostPatternError: Error, Sendable, Equatable, CustomStringConvertible {
    /// 1-based column of the problem in the pattern; nil for the pattern as a whole.
    public var column: Int?
    public var message: String

    public var description: String { column.map { "column \($0): \(message)" } ?? message }
}
