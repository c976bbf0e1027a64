package import MitogenWire

/// A function call as typed on the console's command line:
/// `os.listdir('/etc')`, `myapp.report(path='/', depth=2)`.
package struct CallExpression: Sendable, Equatable {
    /// The dotted name, as written: `os.listdir`.
    package var function: String
    /// The positional arguments, in order.
    package var args: [Value]
    /// The keyword arguments, in the order written (str keys).
    package var kwargs: PyDict

    package init(function: String, args: [Value] = [], kwargs: PyDict = PyDict()) {
        self.function = function
        self.args = args
        self.kwargs = kwargs
    }
}

/// A syntax error in a Python literal or call, with the place it was found.
package struct PythonLiteralError: Error, Sendable, Equatable, CustomStringConvertible {
    /// 1-based position in the text, counted in Unicode scalars.
    package var column: Int
    /// What was expected and what was found instead.
    package var message: String

    package var description: String { "column \(column): \(message)" }
}

/// Reads Python literals and calls made of them: the subset of Python that
/// `ast.literal_eval` accepts, which is what `Value.pythonRepr` prints.
///
/// Literals: `None`, `True`, `False`; ints with an optional sign, underscores
/// and `0x`/`0o`/`0b` prefixes, of any size; floats (`1.5`, `1.`, `.5`,
/// `1e-3`, `1e999` for infinity); strings in single, double or triple quotes
/// with the `r`, `b`, `u` prefixes and Python's escapes, adjacent strings
/// concatenated; lists, tuples (`()`, `(x,)`), dicts, sets and `set()`.
///
/// Beyond `literal_eval`, so that everything `pythonRepr` prints reads back:
/// `nan` and `inf` (optionally signed), and `frozenset()` /
/// `frozenset({...})`. Not supported: complex numbers, `\N{name}` escapes,
/// lone surrogates (a Swift `String` cannot hold them), f-strings.
package enum PythonLiteralParser {
    /// Parses `name.dotted(arg, ..., key=value, ...)`, with an optional
    /// trailing comma and whitespace anywhere between tokens.
    ///
    /// - Throws: `PythonLiteralError` naming the column and what was expected,
    ///   also for a positional argument after a keyword and a repeated keyword.
    package static func parse(_ text: String) throws(PythonLiteralError) -> CallExpression {
        var reader = Reader(text)
        return try reader.readCall()
    }

    /// Parses one literal (surrounding whitespace allowed). As with
    /// `literal_eval`, a bare comma-separated sequence is a tuple: `1, 2`.
    ///
    /// - Throws: `PythonLiteralError` naming the column and what was expected.
    static func parseLiteral(_ text: String) throws(PythonLiteralError) -> Value {
        var reader = Reader(text)
        let value = try reader.readTopLevel()
        return value
    }
}

// MARK: - The reader

/// A recursive-descent reader over the text's Unicode scalars.
private struct Reader {
    let text: [Unicode.Scalar]
    var pos = 0
    var depth = 0
    static let maximumDepth = 200

    init(_ string: String) { text = Array(string.unicodeScalars) }

    // MARK: Helpers

    var atEnd: Bool { pos >= text.count }
    func peek(_ offset: Int = 0) -> Unicode.Scalar? { pos + offset < text.count ? text[pos + offset] : nil }

    func error(_ message: String, at position: Int? = nil) -> PythonLiteralError {
        PythonLiteralError(column: (position ?? pos) + 1, message: message)
    }

    /// The current character as an error message shows it.
    var found: String {
        guard let c = peek() else { return "end of input" }
        return Value.str(String(c)).pythonRepr
    }

    mutating func skipSpace() {
        while let c = peek(), c == " " || c == "\t" || c == "\n" || c == "\r" || c == "\u{0C}" { pos += 1 }
    }

    mutating func expect(_ c: Unicode.Scalar, _ what: String) throws(PythonLiteralError) {
        skipSpace()
        guard peek() == c else { throw error("expected \(what), found \(found)") }
        pos += 1
    }

    static func isIdentifierStart(_ c: Unicode.Scalar) -> Bool {
        c == "_" || ("a"..."z").contains(c) || ("A"..."Z").contains(c) || (c.value > 0x7f && c.properties.isXIDStart)
    }

    static func isIdentifierContinue(_ c: Unicode.Scalar) -> Bool {
        isIdentifierStart(c) || ("0"..."9").contains(c) || (c.value > 0x7f && c.properties.isXIDContinue)
    }

    mutating func readIdentifier() -> String? {
        guard let c = peek(), Self.isIdentifierStart(c) else { return nil }
        var name = String.UnicodeScalarView()
        while let c = peek(), Self.isIdentifierContinue(c) {
            name.append(c)
            pos += 1
        }
        return String(name)
    }

    // MARK: Calls and top level

    mutating func readCall() throws(PythonLiteralError) -> CallExpression {
        skipSpace()
        guard var function = readIdentifier() else {
            throw error("expected a function name such as os.getpid, found \(found)")
        }
        while peek() == "." {
            pos += 1
            guard let part = readIdentifier() else { throw error("expected a name after '.', found \(found)") }
            function += "." + part
        }
        try expect("(", "'(' after the function name \(function)")
        var call = CallExpression(function: function)
        while true {
            skipSpace()
            if peek() == ")" { break }
            let start = pos
            if let keyword = readKeywordName() {
                guard call.kwargs[keyword] == nil else {
                    throw error("keyword argument repeated: \(keyword)", at: start)
                }
                call.kwargs[keyword] = try readValue()
            } else {
                guard call.kwargs.isEmpty else {
                    throw error("positional argument follows keyword argument", at: start)
                }
                call.args.append(try readValue())
            }
            skipSpace()
            if peek() == "," {
                pos += 1
            } else if peek() != ")" {
                throw error("expected ',' or ')' after an argument, found \(found)")
            }
        }
        pos += 1
        skipSpace()
        guard atEnd else { throw error("unexpected \(found) after the closing ')'") }
        return call
    }

    /// `name =` (but not `name ==`): consumes it and returns the name, or
    /// leaves the position alone.
    mutating func readKeywordName() -> String? {
        let start = pos
        guard let name = readIdentifier() else { return nil }
        skipSpace()
        if peek() == "=", peek(1) != "=" {
            pos += 1
            return name
        }
        pos = start
        return nil
    }

    mutating func readTopLevel() throws(PythonLiteralError) -> Value {
        let first = try readValue()
        skipSpace()
        guard peek() == "," else {
            guard atEnd else { throw error("unexpected \(found) after the value") }
            return first
        }
        var items = [first]
        while peek() == "," {
            pos += 1
            skipSpace()
            if atEnd { break }
            items.append(try readValue())
            skipSpace()
        }
        guard atEnd else { throw error("expected ',' or end of input, found \(found)") }
        return .tuple(items)
    }

    // MARK: Values

    mutating func readValue() throws(PythonLiteralError) -> Value {
        skipSpace()
        guard let c = peek() else { throw error("expected a value, found end of input") }
        switch c {
        case "[", "(", "{":
            depth += 1
            defer { depth -= 1 }
            guard depth <= Self.maximumDepth else {
                throw error("nesting deeper than \(Self.maximumDepth) levels")
            }
            pos += 1
            switch c {
            case "[": return .list(try readItems(until: "]", what: "list"))
            case "(": return try readParenthesized()
            default: return try readBraced()
            }
        case "'", "\"":
            return try readStrings()
        case "+", "-":
            let start = pos
            pos += 1
            skipSpace()
            let negative = c == "-"
            if let d = peek(), ("0"..."9").contains(d) || d == "." {
                return try readNumber(negative: negative)
            }
            if let name = readIdentifier(), name == "inf" || name == "nan" {
                return .float(name == "nan" ? .nan : (negative ? -.infinity : .infinity))
            }
            throw error("expected a number after '\(c)'", at: start)
        case "0"..."9", ".":
            return try readNumber(negative: false)
        default:
            let start = pos
            guard let name = readIdentifier() else { throw error("expected a value, found \(found)") }
            if peek() == "'" || peek() == "\"" {
                pos = start
                return try readStrings()
            }
            switch name {
            case "None": return .none
            case "True": return .bool(true)
            case "False": return .bool(false)
            case "inf": return .float(.infinity)
            case "nan": return .float(.nan)
            case "set", "frozenset": return try readSetCall(name, start: start)
            default:
                throw error(
                    "\(name) is not a literal: use None, True, False, a number, a string, or a list, tuple, "
                        + "dict or set of those",
                    at: start
                )
            }
        }
    }

    /// Comma-separated values up to `close`, trailing comma allowed; the
    /// opening bracket is already consumed.
    mutating func readItems(until close: Unicode.Scalar, what: String) throws(PythonLiteralError) -> [Value] {
        var items: [Value] = []
        while true {
            skipSpace()
            if peek() == close { break }
            items.append(try readValue())
            skipSpace()
            if peek() == "," {
                pos += 1
            } else if peek() != close {
                throw error("expected ',' or '\(close)' in \(what), found \(found)")
            }
        }
        pos += 1
        return items
    }

    /// After `(`: `()`, `(x)` (just x), `(x,)`, `(x, y)`.
    mutating func readParenthesized() throws(PythonLiteralError) -> Value {
        skipSpace()
        if peek() == ")" {
            pos += 1
            return .tuple([])
        }
        let first = try readValue()
        skipSpace()
        if peek() == ")" {
            pos += 1
            return first
        }
        guard peek() == "," else { throw error("expected ',' or ')' in tuple, found \(found)") }
        pos += 1
        return .tuple([first] + (try readItems(until: ")", what: "tuple")))
    }

    /// After `{`: `{}` (a dict), `{k: v, ...}` or `{a, b}`.
    mutating func readBraced() throws(PythonLiteralError) -> Value {
        skipSpace()
        if peek() == "}" {
            pos += 1
            return .dict(PyDict())
        }
        var start = pos
        let first = try readValue()
        skipSpace()
        guard peek() == ":" else {
            var items = [first]
            if peek() == "," {
                pos += 1
                items += try readItems(until: "}", what: "set")
            } else if peek() == "}" {
                pos += 1
            } else {
                throw error("expected ',', ':' or '}' after the first item of a set or dict, found \(found)")
            }
            return .set(try unique(items, in: "set", start: start))
        }
        try requireHashable(first, at: start, in: "dict key")
        var dict = PyDict()
        var key = first
        while true {
            pos += 1  // the ':'
            dict[key] = try readValue()
            skipSpace()
            if peek() == "," {
                pos += 1
                skipSpace()
            } else if peek() != "}" {
                throw error("expected ',' or '}' in dict, found \(found)")
            }
            if peek() == "}" { break }
            start = pos
            key = try readValue()
            try requireHashable(key, at: start, in: "dict key")
            skipSpace()
            guard peek() == ":" else { throw error("expected ':' after a dict key, found \(found)") }
        }
        pos += 1
        return .dict(dict)
    }

    /// After the name `set` or `frozenset`: `()` or `(<list, tuple or set>)`.
    mutating func readSetCall(_ name: String, start: Int) throws(PythonLiteralError) -> Value {
        try expect("(", "'(' after \(name)")
        skipSpace()
        var items: [Value] = []
        if peek() != ")" {
            guard name == "frozenset" else { throw error("set() takes no arguments here; write {a, b} instead") }
            let argStart = pos
            guard let argument = (try readValue()).sequenceOrSet else {
                throw error("frozenset() needs a list, tuple or set literal", at: argStart)
            }
            items = try unique(argument, in: "frozenset", start: argStart)
        }
        try expect(")", "')' to close \(name)(")
        return name == "set" ? .set(items) : .frozenset(items)
    }

    func requireHashable(_ value: Value, at position: Int, in what: String) throws(PythonLiteralError) {
        guard value.isHashable else { throw error("unhashable \(value.typeName) used as a \(what)", at: position) }
    }

    /// Set members without repeats, first occurrence kept.
    func unique(_ items: [Value], in what: String, start: Int) throws(PythonLiteralError) -> [Value] {
        var seen = Set<Value>()
        var result: [Value] = []
        for item in items {
            try requireHashable(item, at: start, in: "\(what) member")
            if seen.insert(item).inserted { result.append(item) }
        }
        return result
    }
}

extension Value {
    /// The items of a list, tuple, set or frozenset.
    fileprivate var sequenceOrSet: [Value]? {
        switch self {
        case .list(let v), .tuple(let v), .set(let v), .frozenset(let v): v
        default: nil
        }
    }
}

// MARK: - Numbers

extension Reader {
    /// An int or float starting at the current position (after any sign).
    mutating func readNumber(negative: Bool) throws(PythonLiteralError) -> Value {
        let start = pos
        if peek() == "0", let p = peek(1), let base = ["x": 16, "X": 16, "o": 8, "O": 8, "b": 2, "B": 2][p] {
            pos += 2
            var digits: [UInt8] = []
            var lastWasDigit = true  // Python allows one underscore right after the prefix
            while let c = peek(), Self.isIdentifierContinue(c) {
                if c == "_" {
                    guard lastWasDigit else { throw error("invalid underscore in number") }
                    lastWasDigit = false
                } else {
                    guard let d = Self.digitValue(c), d < base else {
                        throw error("invalid digit \(Value.str(String(c)).pythonRepr) in base \(base) literal")
                    }
                    digits.append(UInt8(d))
                    lastWasDigit = true
                }
                pos += 1
            }
            guard !digits.isEmpty, lastWasDigit else { throw error("incomplete base \(base) literal", at: start) }
            return Self.integer(digits: digits, base: base, negative: negative)
        }

        var literal = String.UnicodeScalarView()
        var isFloat = false
        var sawExponent = false
        while let c = peek() {
            if ("0"..."9").contains(c) || c == "_" {
                if c == "_" {
                    guard let prev = literal.last, ("0"..."9").contains(prev),
                        let next = peek(1), ("0"..."9").contains(next)
                    else { throw error("invalid underscore in number") }
                } else {
                    literal.append(c)
                }
            } else if c == ".", !isFloat, !sawExponent {
                isFloat = true
                literal.append(c)
            } else if c == "e" || c == "E", !sawExponent, literal.contains(where: { ("0"..."9").contains($0) }) {
                sawExponent = true
                isFloat = true
                literal.append("e")
                if let sign = peek(1), sign == "+" || sign == "-" {
                    literal.append(sign)
                    pos += 1
                }
                guard let d = peek(1), ("0"..."9").contains(d) else { throw error("exponent needs digits", at: pos + 1) }
            } else {
                break
            }
            pos += 1
        }
        if let c = peek(), c == "j" || c == "J" { throw error("complex numbers are not supported", at: start) }
        if let c = peek(), Self.isIdentifierContinue(c) { throw error("invalid number literal") }
        var text = String(literal)
        if text.hasPrefix(".") { text = "0" + text }
        if text.hasSuffix(".") { text += "0" }
        if let dotE = text.firstRange(of: ".e") { text.replaceSubrange(dotE, with: ".0e") }
        guard text.contains(where: { ("0"..."9").contains($0) }) else { throw error("expected a number", at: start) }
        if isFloat {
            guard let d = Double(text) else { throw error("invalid float literal \(text)", at: start) }
            return .float(negative ? -d : d)
        }
        if text.count > 1, text.first == "0", text.contains(where: { $0 != "0" }) {
            throw error("leading zeros in decimal integer literals are not permitted; use an 0o prefix for octal", at: start)
        }
        return Self.integer(digits: text.unicodeScalars.map { UInt8($0.value - 48) }, base: 10, negative: negative)
    }

    static func digitValue(_ c: Unicode.Scalar) -> Int? {
        switch c {
        case "0"..."9": Int(c.value - 48)
        case "a"..."f": Int(c.value - 87)
        case "A"..."F": Int(c.value - 55)
        default: nil
        }
    }

    /// Digits (most significant first) in `base` as an `.int` or `.bigInt`.
    static func integer(digits: [UInt8], base: Int, negative: Bool) -> Value {
        Value.integer(LargeInt(digits: digits, base: base, negative: negative))
    }
}

// MARK: - Strings

extension Reader {
    /// One or more adjacent string literals, concatenated (`'a' "b"`).
    mutating func readStrings() throws(PythonLiteralError) -> Value {
        let start = pos
        var result: Value?
        while true {
            let pieceStart = pos
            let piece = try readString()
            switch (result, piece) {
            case (nil, _): result = piece
            case (.str(let a)?, .str(let b)): result = .str(a + b)
            case (.bytes(let a)?, .bytes(let b)): result = .bytes(a + b)
            default: throw error("cannot mix bytes and str literals", at: pieceStart)
            }
            let save = pos
            skipSpace()
            if !startsString() {
                pos = save
                break
            }
        }
        guard let result else { throw error("expected a string", at: start) }
        return result
    }

    /// True when a string literal (with optional prefix) starts here.
    func startsString() -> Bool {
        var i = 0
        while i < 2, let c = peek(i), "rRbBuU".unicodeScalars.contains(c) { i += 1 }
        return peek(i) == "'" || peek(i) == "\""
    }

    /// One string literal with its optional prefix.
    mutating func readString() throws(PythonLiteralError) -> Value {
        let start = pos
        var isRaw = false, isBytes = false, isUnicode = false
        while let c = peek(), c != "'", c != "\"" {
            let letter = Character(c).lowercased()
            if letter == "r", !isRaw, !isUnicode {
                isRaw = true
            } else if letter == "b", !isBytes, !isUnicode {
                isBytes = true
            } else if letter == "u", pos == start {
                isUnicode = true
            } else if letter == "f" {
                throw error("f-strings are not literals", at: start)
            } else {
                throw error("invalid string prefix", at: start)
            }
            pos += 1
        }
        guard let quote = peek() else { throw error("expected a string", at: start) }
        let triple = peek(1) == quote && peek(2) == quote
        pos += triple ? 3 : 1
        var codes: [UInt32] = []
        while true {
            guard let c = peek() else {
                throw error("unterminated string that starts at column \(start + 1)", at: text.count)
            }
            if c == quote {
                if !triple {
                    pos += 1
                    break
                }
                if peek(1) == quote, peek(2) == quote {
                    pos += 3
                    break
                }
            }
            if !triple, c == "\n" || c == "\r" {
                throw error("unterminated string that starts at column \(start + 1): newline inside quotes")
            }
            if isBytes, c.value > 0x7f {
                throw error("bytes literals can contain only ASCII characters; write \\xhh escapes")
            }
            if c == "\\" {
                if isRaw {
                    guard let next = peek(1) else {
                        throw error("unterminated string that starts at column \(start + 1)", at: text.count)
                    }
                    codes.append(c.value)
                    codes.append(next.value)
                    pos += 2
                } else {
                    try readEscape(into: &codes, bytes: isBytes)
                }
                continue
            }
            codes.append(c.value)
            pos += 1
        }
        if isBytes { return .bytes(codes.map { UInt8($0) }) }
        var scalars = String.UnicodeScalarView()
        for code in codes {
            guard let scalar = Unicode.Scalar(code) else {
                throw error("lone surrogate \\u\(String(code, radix: 16)) cannot be represented", at: start)
            }
            scalars.append(scalar)
        }
        return .str(String(scalars))
    }

    /// A backslash escape in a non-raw literal; the position is on the backslash.
    mutating func readEscape(into codes: inout [UInt32], bytes: Bool) throws(PythonLiteralError) {
        let start = pos
        pos += 1
        guard let c = peek() else { throw error("unterminated string: backslash at end of input", at: start) }
        pos += 1
        switch c {
        case "\n": break  // line continuation
        case "\r": if peek() == "\n" { pos += 1 }
        case "\\", "'", "\"": codes.append(c.value)
        case "a": codes.append(0x07)
        case "b": codes.append(0x08)
        case "f": codes.append(0x0c)
        case "n": codes.append(0x0a)
        case "r": codes.append(0x0d)
        case "t": codes.append(0x09)
        case "v": codes.append(0x0b)
        case "0"..."7":
            var value = c.value - 48
            for _ in 0..<2 {
                guard let d = peek(), ("0"..."7").contains(d) else { break }
                value = value * 8 + d.value - 48
                pos += 1
            }
            if bytes, value > 0xff { throw error("octal escape value \(value) is too large for bytes", at: start) }
            codes.append(value)
        case "x":
            codes.append(try readHexDigits(2, escape: "\\x", start: start))
        case "u" where !bytes:
            codes.append(try readHexDigits(4, escape: "\\u", start: start))
        case "U" where !bytes:
            let value = try readHexDigits(8, escape: "\\U", start: start)
            guard value <= 0x10ffff else { throw error("\\U escape beyond U+10FFFF", at: start) }
            codes.append(value)
        case "N" where !bytes:
            throw error("\\N{...} escapes are not supported; write the character or a \\u escape", at: start)
        default:
            // Python keeps unknown escapes as they are (with a warning).
            codes.append(0x5c)
            codes.append(c.value)
        }
    }

    mutating func readHexDigits(_ count: Int, escape: String, start: Int) throws(PythonLiteralError) -> UInt32 {
        var value: UInt32 = 0
        for _ in 0..<count {
            guard let c = peek(), let d = Self.digitValue(c) else {
                throw error("truncated \(escape) escape: needs \(count) hex digits", at: start)
            }
            value = value * 16 + UInt32(d)
            pos += 1
        }
        return value
    }
}
