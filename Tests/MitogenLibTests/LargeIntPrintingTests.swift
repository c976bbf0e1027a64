import Glibc
import Testing
import TestSupport
@testable import MitogenSys
@testable import MitogenWire

/// `LargeInt`'s text: exact decimal (as CPython) up to 4300 digits, linear-time
/// hex beyond, so a huge int from a peer cannot pin a core in a printer.
@Suite struct LargeIntPrintingTests {
    /// `count` random bytes from `rng` (little-endian magnitude), the top one
    /// forced to `top` so the length and sign are known.
    static func randomBytes(_ count: Int, top: UInt8, _ rng: inout SplitMix) -> [UInt8] {
        var bytes = (0..<count).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
        bytes[count - 1] = top
        return bytes
    }

    /// Lowercase hex of a little-endian magnitude, most significant first, no leading zero.
    static func hex(_ littleEndian: [UInt8]) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var out: [UInt8] = []
        out.reserveCapacity(littleEndian.count * 2)
        for byte in littleEndian.reversed() {
            out.append(digits[Int(byte >> 4)])
            out.append(digits[Int(byte & 15)])
        }
        let text = String(decoding: out, as: UTF8.self)
        let trimmed = text.drop { $0 == "0" }
        return trimmed.isEmpty ? "0" : String(trimmed)
    }

    /// A 1 MiB (8 Mbit) int prints as `0x…` in well under a second, in every repr style.
    @Test func megabyteIntPrintsAsHexQuickly() {
        var rng = SplitMix(0x1_2345)
        let magnitude = Self.randomBytes(1 << 20, top: 0x5a, &rng)
        let positive = LargeInt(twosComplementLittleEndian: magnitude)
        var negated = magnitude + [0]
        LargeInt.negate(&negated)
        let negative = LargeInt(twosComplementLittleEndian: negated)
        let expected = "0x" + Self.hex(magnitude)
        #expect(expected.utf8.count == 2 + 2 * (1 << 20))

        let start = monotonicNow()
        let text = positive.description
        let negativeText = negative.description
        let literal = Value.bigInt(positive).repr(.literal)
        let python = Value.bigInt(negative).repr(.python)
        let display = Value.bigInt(positive).displayText
        let elapsed = monotonicNow() - start
        #expect(elapsed < 2, "printing a 1 MiB int took \(elapsed) s")
        #expect(text.utf8.count == expected.utf8.count)
        #expect(text == expected)
        #expect(text.hasPrefix("0x5a"))
        #expect(negativeText == "-" + expected)
        #expect(literal == expected)
        #expect(python == "-" + expected)
        #expect(display.hasPrefix("0x5a") && display.hasSuffix("...") && display.count == 200)
    }

    /// The edge: 4300 digits print in decimal, 4301 in hex; the sign does not count.
    @Test func decimalLimitIsCPythons() throws {
        let nines = String(repeating: "9", count: LargeInt.maxDecimalDigits)
        let largest = try #require(LargeInt(decimal: nines))
        #expect(largest.description == nines)
        let smallest = try #require(LargeInt(decimal: "-" + nines))
        #expect(smallest.description == "-" + nines)
        let tooLong = try #require(LargeInt(decimal: "1" + String(repeating: "0", count: LargeInt.maxDecimalDigits)))
        #expect(tooLong.description.hasPrefix("0x"))
        // 10^4300 in hex is 10^4300 = 2^4300 * 5^4300: ends in 4300 zero bits = 1075 zero nibbles.
        #expect(tooLong.description.hasSuffix("0" + String(repeating: "0", count: 1074)))
        #expect(LargeInt(0).description == "0")
        #expect(LargeInt(-1).description == "-1")
        #expect(LargeInt(Int.min).description == String(Int.min))
    }

    /// Random ints of 100 and 4300 digits (and a few widths between) print
    /// exactly as CPython's `repr(int)`.
    @Test(.enabled(if: systemPython() != nil, "needs python3"))
    func decimalMatchesCPython() throws {
        let python = try #require(systemPython())
        var rng = SplitMix(0xdec1_3a1)
        var cases: [LargeInt] = []
        for digits in [1, 19, 20, 100, 101, 1000, 4299, 4300] {
            for negative in [false, true] {
                var text = negative ? "-" : ""
                text += String(UInt8(1 + rng.below(9)))
                for _ in 1..<digits { text += String(rng.below(10)) }
                cases.append(try #require(LargeInt(decimal: text)))
            }
        }
        // Python reads each as little-endian two's complement hex and prints repr().
        let program = """
            import sys
            for line in sys.stdin.read().split():
                print(repr(int.from_bytes(bytes.fromhex(line), 'little', signed=True)))
            """
        let input = cases.map { $0.bytes.map { byte in String(byte >> 4, radix: 16) + String(byte & 15, radix: 16) }.joined() }
        let dir = makeTempDirectory("mitogen-largeint")
        defer { _ = try? runCapturing(["/bin/rm", "-rf", dir]) }
        let inputPath = dir + "/input"
        let fd = try FileDescriptor.open(inputPath, flags: O_WRONLY | O_CREAT | O_TRUNC, mode: 0o600)
        try fd.writeAll(Array(input.joined(separator: "\n").utf8))
        fd.close()
        let result = try runCapturing(["/bin/sh", "-c", "exec \"$0\" -c \"$1\" < \"$2\"", python, program, inputPath])
        #expect(result.status == .exited(0), "\(result.output)")
        let expected = result.output.split(separator: "\n").map(String.init)
        #expect(expected.count == cases.count)
        for (value, cpython) in zip(cases, expected) {
            #expect(value.description == cpython)
            #expect(Value.bigInt(value).repr(.literal) == cpython)
        }
    }
}
