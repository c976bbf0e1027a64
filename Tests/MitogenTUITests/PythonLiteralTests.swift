import Foundation
import Testing

import MitogenLib
import MitogenWire
@testable import ConsoleModel

/// Runs a Python script with `lines` on stdin (one per line); returns its
/// stdout lines.
private func runPython(_ script: String, lines: [String]) throws -> [String] {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = ["python3", "-c", script]
    let input = Pipe(), output = Pipe()
    process.standardInput = input
    process.standardOutput = output
    try process.run()
    let writer = Thread {
        input.fileHandleForWriting.write(Data((lines.joined(separator: "\n") + "\n").utf8))
        try? input.fileHandleForWriting.close()
    }
    writer.start()
    let data = output.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    #expect(process.terminationStatus == 0)
    return String(decoding: data, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false)
        .dropLast().map(String.init)
}

private let pythonAvailable = (ProcessInfo.processInfo.environment["PATH"] ?? "").split(separator: ":").contains {
    FileManager.default.isExecutableFile(atPath: "\($0)/python3")
}

/// `same(a, b)`: equal values of the same types all the way down (Python's
/// own `==` would equate 1, 1.0 and True).
private let pythonSame = """
    import ast, math, sys
    def same(a, b):
        if type(a) is not type(b): return False
        if isinstance(a, (list, tuple)): return len(a) == len(b) and all(map(same, a, b))
        if isinstance(a, dict):
            return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
        if isinstance(a, float): return a == b and math.copysign(1, a) == math.copysign(1, b) or (a != a and b != b)
        return a == b
    """

@Suite struct PythonLiteralTests {
    /// Values whose repr must be exactly CPython's.
    static let exactValues: [Value] = [
        nil, true, false, 0, -1, .int(.max), .int(.min), .integer(LargeInt(decimal: "-123456789012345678901234567890")!),
        0.0, -0.0, 1.0, 0.1, 1e16, 1e15, 123456789.125, 1e-5, 0.0001, .float(.leastNonzeroMagnitude), 1.7976931348623157e308, -2.5e-10,
        "", "plain", "it's", "say \"hi\"", "both ' and \"", "back\\slash", "tab\tnl\ncr\r", "\u{0}\u{7}\u{1b}\u{7f}",
        "é ñ 中文 🙂", "\u{85}\u{a0}\u{ad}", "zero\u{200b}width", "\u{2028}\u{2029}", "\u{e000}", "\u{e0001}",
        "\u{378}", "e\u{301}", "\u{3000}",
        .bytes([]), .bytes(Array("it's".utf8)), .bytes([0, 9, 10, 13, 39, 34, 92, 127, 128, 255]), .bytes([39]),
        [], [1, "a", [nil]], .tuple([]), .tuple([1]), .tuple([1, .tuple([2])]),
        [:], ["a": 1, .int(2): [3], .tuple([1, "x"]): .bytes([1])], .set([]), .set([1]),
    ]

    @Test(.enabled(if: pythonAvailable, "needs python3 as the oracle")) func reprMatchesCPython() throws {
        let reprs = Self.exactValues.map(\.pythonRepr)
        let script = pythonSame + """

            for line in sys.stdin.read().split('\\n')[:-1]:
                print(repr(ast.literal_eval(line)).encode('unicode_escape').decode('ascii'))
            """
        let back = try runPython(script, lines: reprs)
        #expect(back.count == reprs.count)
        for (ours, theirs) in zip(reprs, back) {
            // Python printed through unicode_escape so that the comparison sees the exact characters.
            let escapedOurs = ours.unicodeScalars.map { $0.value < 0x80 && $0 != "\\" ? String($0) : escapeLikePython($0) }
                .joined()
            #expect(escapedOurs == theirs)
        }
    }

    /// Python's `unicode_escape` codec for one character.
    private func escapeLikePython(_ s: Unicode.Scalar) -> String {
        func hex(_ v: UInt32, _ w: Int) -> String {
            let d = String(v, radix: 16)
            return String(repeating: "0", count: w - d.count) + d
        }
        if s == "\\" { return "\\\\" }
        if s.value < 0x100 { return "\\x" + hex(s.value, 2) }
        if s.value < 0x10000 { return "\\u" + hex(s.value, 4) }
        return "\\U" + hex(s.value, 8)
    }

    @Test(.enabled(if: pythonAvailable, "needs python3 as the oracle")) func floatReprMatchesCPythonForManyDoubles() throws {
        var rng = SystemRandomNumberGenerator()
        // Includes the range 2^53 <= |d| < 1e16, where Swift's own layout differs.
        var doubles: [Double] = [1e22, 1e23, 9007199254740992, 0.3, 2.0 / 3.0, 1e-7, 12345678901234567890.0,
                                 -9277072964943760.0, 9956112780446054.0, 9.999999999999998e15, 0.0001, 0.00012345]
        for _ in 0..<5000 {
            let d = Double(bitPattern: rng.next())
            if d.isFinite { doubles.append(d) }
        }
        for _ in 0..<500 {
            // Random doubles in [2^53, 1e16), both signs.
            let d = Double.random(in: 9007199254740992..<1e16, using: &rng)
            doubles.append(Bool.random(using: &rng) ? d : -d)
        }
        for e in -30...30 { doubles.append(1.5 * pow(10.0, Double(e))) }
        let script = """
            import struct, sys
            for line in sys.stdin.read().split()[:]:
                print(repr(struct.unpack('<d', int(line, 16).to_bytes(8, 'little'))[0]))
            """
        let back = try runPython(script, lines: doubles.map { String($0.bitPattern, radix: 16) })
        #expect(back == doubles.map { Value.floatRepr($0) })
    }

    @Test(.enabled(if: pythonAvailable, "needs python3 as the oracle")) func nonFiniteFloats() throws {
        #expect(Value.float(.infinity).pythonRepr == "1e999")
        #expect(Value.float(-.infinity).pythonRepr == "-1e999")
        #expect(Value.float(.nan).pythonRepr == "nan")
        let back = try runPython(
            "import ast, sys\nfor l in sys.stdin.read().split('\\n')[:-1]: print(ast.literal_eval(l))",
            lines: ["1e999", "-1e999"]
        )
        #expect(back == ["inf", "-inf"])
    }

    @Test func mitogenObjectsPrintLikeMitogen() {
        #expect(Value.context(id: 5, name: "ssh.web").pythonRepr == "Context(5, 'ssh.web')")
        #expect(Value.context(id: 0, name: nil).pythonRepr == "Context(0, None)")
        #expect(Value.sender(contextID: 2, handle: 1000).pythonRepr == "Sender(Context(2, None), 1000)")
        #expect(Value.callError("boom").pythonRepr == "CallError('boom')")
        #expect(Value.blob([1, 2, 3]).pythonRepr == "[blob: 3 bytes]")
        #expect(Value.secret("hunter2").pythonRepr == "[secret]")
        #expect(Value.kwargs(["a": 1]).pythonRepr == "{'a': 1}")
        #expect(Value.frozenset([]).pythonRepr == "frozenset()")
        #expect(Value.frozenset([1]).pythonRepr == "frozenset({1})")
    }

    /// Source texts CPython's literal_eval accepts: ours must agree on the value.
    static let sources: [String] = [
        "None", "True", "False", "0", "-0", "+7", "- 7", "1_000_000", "0x_ff", "0XdeadBEEF", "-0o777", "0b1010_1010",
        "00", "2_0", "123456789012345678901234567890", "-0x8000000000000000", "0xffffffffffffffff",
        "1.5", "1.", ".5", "-.5e-3", "1e999", "-1e999", "1_0.2_5e1_0", "1E5", "0e0", "4.9e-324",
        "'a'", "\"b\"", "'''tri'ple'''", "\"\"\"x\"y\"\"\"", "'a' \"b\" '''c'''", "r'\\n\\''", "R\"\\d\"",
        "b'\\x00\\xff'", "B'abc' b\"d\"", "rb'\\x'", "Br'\\\\'", "u'x'", "'\\101\\7\\08'", "'\\x41\\u00e9\\U0001F642'",
        "'\\q'", "'a\\\nb'", "'\\a\\b\\f\\n\\r\\t\\v'", "b'\\u1234'", "'é中'",
        "[]", "[1, [2, [3]],]", "()", "(1,)", "(1)", "((1, 2), (3,),)", "{}", "{1: 2, 'a': [b'']}", "{1: 1, 1: 2}",
        "{'k': {'n': (1, {2})}}", "{1, 2, 2}", "set()", "{(1, 2): None}", "[\n  1,\n  2\n]", "1, 2", "1,",
    ]

    @Test(.enabled(if: pythonAvailable, "needs python3 as the oracle")) func parserAgreesWithCPython() throws {
        var ours: [String] = []
        for source in Self.sources {
            ours.append(try PythonLiteralParser.parseLiteral(source).pythonRepr)
        }
        let script = pythonSame + """

            import json
            lines = sys.stdin.read().split('\\n')[:-1]
            for src, mine in zip(lines[0::2], lines[1::2]):
                src = json.loads(src)
                print('ok' if same(ast.literal_eval(src), ast.literal_eval(mine)) else 'DIFF ' + repr(src))
            """
        var lines: [String] = []
        for (source, repr) in zip(Self.sources, ours) {
            let json = String(decoding: try JSONEncoder().encode(source), as: UTF8.self)
            lines += [json, repr]
        }
        let verdicts = try runPython(script, lines: lines)
        #expect(verdicts.count == Self.sources.count)
        for (source, verdict) in zip(Self.sources, verdicts) {
            #expect(verdict == "ok", "\(source)")
        }
    }

    @Test func parsedValuesAreExact() throws {
        #expect(try PythonLiteralParser.parseLiteral("0xffffffffffffffff") == .bigInt(LargeInt(decimal: "18446744073709551615")!))
        #expect(try PythonLiteralParser.parseLiteral("-9223372036854775808") == .int(.min))
        #expect(try PythonLiteralParser.parseLiteral("(1)") == 1)
        #expect(try PythonLiteralParser.parseLiteral("(1,)") == .tuple([1]))
        #expect(try PythonLiteralParser.parseLiteral("{1, 2, 1}") == .set([1, 2]))
        #expect(try PythonLiteralParser.parseLiteral("'a' 'b'") == "ab")
        #expect(try PythonLiteralParser.parseLiteral("b'\\xff'") == .bytes([255]))
        #expect(try PythonLiteralParser.parseLiteral("frozenset({1})") == .frozenset([1]))
        #expect(try PythonLiteralParser.parseLiteral("-inf") == .float(-.infinity))
        #expect(try PythonLiteralParser.parseLiteral(" nan ") == .float(.nan))
    }

    @Test func reprRoundTripsThroughOurParser() throws {
        let values: [Value] =
            Self.exactValues + [
                .float(.nan), .float(.infinity), .float(-.infinity), .frozenset([1, .tuple([2])]), .frozenset([]),
                .kwargs(["a": [1]]), [.set([.frozenset([])])],
                .bigInt(LargeInt(decimal: "340282366920938463463374607431768211456")!),
            ]
        for value in values {
            var expected = value
            if case .kwargs(let d) = value { expected = .dict(d) }  // Kwargs prints as a plain dict
            #expect(try PythonLiteralParser.parseLiteral(value.pythonRepr) == expected, "\(value.pythonRepr)")
        }
    }

    @Test func parsesCalls() throws {
        #expect(try PythonLiteralParser.parse("os.getpid()") == CallExpression(function: "os.getpid"))
        #expect(
            try PythonLiteralParser.parse(" os.listdir ( '/etc' , ) ")
                == CallExpression(function: "os.listdir", args: ["/etc"])
        )
        #expect(
            try PythonLiteralParser.parse("myapp.report(1, [2], path='/', depth=None,)")
                == CallExpression(function: "myapp.report", args: [1, [2]], kwargs: ["path": "/", "depth": nil])
        )
        #expect(
            try PythonLiteralParser.parse("f(a=[1, (2,)], b={'k': b'v'})").kwargs
                == ["a": [1, .tuple([2])], "b": ["k": .bytes([118])]]
        )
    }

    @Test func errorsSayWhere() {
        func error(_ parse: () throws(PythonLiteralError) -> Any) -> PythonLiteralError? {
            do {
                _ = try parse()
                return nil
            } catch {
                return error
            }
        }
        let cases: [(String, Int, String)] = [
            ("os.getpid(1, x=2, 3)", 19, "positional argument follows keyword argument"),
            ("f(1 2)", 5, "expected ',' or ')' after an argument, found '2'"),
            ("f(x=1, x=2)", 8, "keyword argument repeated: x"),
            ("f(1", 4, "expected ',' or ')' after an argument, found end of input"),
            ("f(1) x", 6, "unexpected 'x' after the closing ')'"),
            ("1f()", 1, "expected a function name such as os.getpid, found '1'"),
            ("os.(1)", 4, "expected a name after '.', found '('"),
            ("f x", 3, "expected '(' after the function name f, found 'x'"),
            ("f(open('x'))", 3, "open is not a literal: use None, True, False, a number, a string, or a list, tuple, dict or set of those"),
            ("f(x == 1)", 3, "x is not a literal: use None, True, False, a number, a string, or a list, tuple, dict or set of those"),
        ]
        for (text, column, message) in cases {
            let e = error { () throws(PythonLiteralError) in try PythonLiteralParser.parse(text) }
            #expect(e == PythonLiteralError(column: column, message: message), "\(text)")
        }
        let literalCases: [(String, Int, String)] = [
            ("'abc", 5, "unterminated string that starts at column 1"),
            ("[1, 2", 6, "expected ',' or ']' in list, found end of input"),
            ("{[1]: 2}", 2, "unhashable list used as a dict key"),
            ("012", 1, "leading zeros in decimal integer literals are not permitted; use an 0o prefix for octal"),
            ("1j", 1, "complex numbers are not supported"),
            ("1__0", 2, "invalid underscore in number"),
            ("0x", 1, "incomplete base 16 literal"),
            ("0b102", 5, "invalid digit '2' in base 2 literal"),
            ("'\\N{DASH}'", 2, "\\N{...} escapes are not supported; write the character or a \\u escape"),
            ("'\\x4'", 2, "truncated \\x escape: needs 2 hex digits"),
            ("'\\ud800'", 1, "lone surrogate \\ud800 cannot be represented"),
            ("b'é'", 3, "bytes literals can contain only ASCII characters; write \\xhh escapes"),
            ("'a' b'b'", 5, "cannot mix bytes and str literals"),
            ("f'x'", 1, "f-strings are not literals"),
            ("", 1, "expected a value, found end of input"),
            (String(repeating: "[", count: 1000), 201, "nesting deeper than 200 levels"),
        ]
        for (text, column, message) in literalCases {
            let e = error { () throws(PythonLiteralError) in try PythonLiteralParser.parseLiteral(text) }
            #expect(e == PythonLiteralError(column: column, message: message), "\(text)")
        }
        #expect(PythonLiteralError(column: 3, message: "m").description == "column 3: m")
    }
}
