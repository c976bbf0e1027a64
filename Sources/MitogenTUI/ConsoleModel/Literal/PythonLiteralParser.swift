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

/// A recursive-descent reader over the text's Unicode scalars; its number
/// and string scanners are in PythonLiteralParser+Numbers.swift and
/// PythonLiteralParser+Strings.swift.
struct Reader {
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
