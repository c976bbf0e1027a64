/// A Python int of any size, as pickle's LONG1/LONG4 carry it: minimal
/// little-endian two's complement bytes (zero is no bytes at all).
///
/// Only what the wire needs: exact storage, conversion to and from `Int`,
/// and text for printing (decimal up to ``maxDecimalDigits`` digits, hex
/// beyond) and parsing literals. No arithmetic.
public struct LargeInt: Sendable, Hashable, CustomStringConvertible {
    /// Minimal little-endian two's complement bytes.
    public let bytes: [UInt8]

    /// The most decimal digits (sign not counted) ``description`` prints;
    /// CPython's default `sys.get_int_max_str_digits()`.
    public static let maxDecimalDigits = 4300

    /// Above this many bytes an int surely has more than ``maxDecimalDigits``
    /// digits, so its decimal form is never computed: the magnitude of a
    /// minimal n-byte encoding is at least 2^(8(n-2)), and 2^14408 has 4338 digits.
    static let maxDecimalBytes = 1802

    /// Wraps pickle's bytes, dropping redundant sign-extension bytes.
    public init(twosComplementLittleEndian raw: [UInt8]) {
        var b = raw
        while let last = b.last {
            let prev: UInt8? = b.count >= 2 ? b[b.count - 2] : nil
            if last == 0x00, prev.map({ $0 & 0x80 == 0 }) ?? true {
                b.removeLast()
            } else if last == 0xff, let p = prev, p & 0x80 != 0 {
                b.removeLast()
            } else {
                break
            }
        }
        bytes = b
    }

    public init(_ value: Int) {
        var raw: [UInt8] = []
        var v = UInt64(bitPattern: Int64(value))
        for _ in 0..<8 {
            raw.append(UInt8(truncatingIfNeeded: v))
            v >>= 8
        }
        self.init(twosComplementLittleEndian: raw)
    }

    public var isNegative: Bool { (bytes.last ?? 0) & 0x80 != 0 }

    /// The value as `Int64`, when it fits.
    public var int64Value: Int64? {
        guard bytes.count <= 8 else { return nil }
        var v: UInt64 = isNegative ? ~0 : 0
        for (i, b) in bytes.enumerated() {
            v &= ~(UInt64(0xff) << (8 * UInt64(i)))
            v |= UInt64(b) << (8 * UInt64(i))
        }
        return Int64(bitPattern: v)
    }

    /// Magnitude as little-endian 32-bit limbs, and the sign.
    private var signAndMagnitude: (negative: Bool, limbs: [UInt32]) {
        var b = bytes
        let negative = isNegative
        if negative { Self.negate(&b) }
        var limbs = [UInt32](repeating: 0, count: (b.count + 3) / 4)
        for (i, byte) in b.enumerated() { limbs[i / 4] |= UInt32(byte) << (8 * UInt32(i % 4)) }
        while limbs.last == 0 { limbs.removeLast() }
        return (negative, limbs)
    }

    /// The text of the int, in time linear in its size.
    ///
    /// Up to ``maxDecimalDigits`` decimal digits (sign not counted) this is
    /// decimal, exactly Python's `repr(int)`. Beyond that CPython's `repr`
    /// raises `ValueError` (decimal conversion is quadratic), and this prints
    /// ``hexDescription`` instead (`0x…`, `-0x…`): still a literal that reads
    /// back to the same int, and bounded work for any size a peer may send.
    public var description: String {
        guard bytes.count <= Self.maxDecimalBytes else { return hexDescription }
        let (negative, limbs) = signAndMagnitude
        guard !limbs.isEmpty else { return "0" }
        let digits = Self.decimalDigits(limbs)
        guard digits.utf8.count <= Self.maxDecimalDigits else { return hexDescription }
        return negative ? "-" + digits : digits
    }

    /// Python's `hex(n)`: `0x` and lowercase hex digits with no leading zero,
    /// `-0x…` for a negative number, `0x0` for zero. Linear time.
    public var hexDescription: String {
        var magnitude = bytes
        let negative = isNegative
        if negative { Self.negate(&magnitude) }
        while magnitude.last == 0 { magnitude.removeLast() }
        guard let top = magnitude.last else { return "0x0" }
        let prefix = Array((negative ? "-0x" : "0x").utf8)
        let length = prefix.count + 2 * magnitude.count - (top < 16 ? 1 : 0)
        return String(unsafeUninitializedCapacity: length) { out in
            let hex: StaticString = "0123456789abcdef"
            let digit = hex.utf8Start
            var i = 0
            for c in prefix {
                out[i] = c
                i += 1
            }
            if top >= 16 {
                out[i] = digit[Int(top >> 4)]
                i += 1
            }
            out[i] = digit[Int(top & 15)]
            i += 1
            magnitude.withUnsafeBufferPointer { m in
                for index in stride(from: m.count - 2, through: 0, by: -1) {
                    out[i] = digit[Int(m[index] >> 4)]
                    out[i + 1] = digit[Int(m[index] & 15)]
                    i += 2
                }
            }
            return i
        }
    }

    /// The decimal digits of a non-zero magnitude (little-endian base 2^32
    /// limbs). Quadratic: callers bound the size first.
    private static func decimalDigits(_ magnitude: [UInt32]) -> String {
        var limbs = magnitude
        var chunks: [UInt32] = []  // base 10^9, least significant first
        while !limbs.isEmpty {
            var rem: UInt64 = 0
            for i in stride(from: limbs.count - 1, through: 0, by: -1) {
                let cur = (rem << 32) | UInt64(limbs[i])
                limbs[i] = UInt32(cur / 1_000_000_000)
                rem = cur % 1_000_000_000
            }
            chunks.append(UInt32(rem))
            while limbs.last == 0 { limbs.removeLast() }
        }
        var text = String(chunks.removeLast())
        for chunk in chunks.reversed() {
            let s = String(chunk)
            text += String(repeating: "0", count: 9 - s.count) + s
        }
        return text
    }

    /// Parses optional sign and decimal digits (underscores allowed, as in
    /// Python literals). Returns nil for anything else.
    public init?(decimal text: some StringProtocol) {
        var digits = Substring(text)
        var negative = false
        if let first = digits.first, first == "-" || first == "+" {
            negative = first == "-"
            digits = digits.dropFirst()
        }
        let clean = digits.filter { $0 != "_" }
        guard !clean.isEmpty, clean.allSatisfy({ $0.isASCII && $0.isNumber }) else { return nil }
        self.init(digits: clean.map { $0.asciiValue! - 48 }, base: 10, negative: negative)
    }

    /// The integer with these digit values (most significant first) in `base`.
    public init(digits: [UInt8], base: Int, negative: Bool) {
        var limbs: [UInt32] = []  // magnitude, little-endian base 2^32
        for d in digits {
            var carry = UInt64(d)
            for i in limbs.indices {
                let cur = UInt64(limbs[i]) * UInt64(base) + carry
                limbs[i] = UInt32(truncatingIfNeeded: cur)
                carry = cur >> 32
            }
            if carry != 0 { limbs.append(UInt32(carry)) }
        }
        var raw: [UInt8] = []
        for limb in limbs { for s in 0..<4 { raw.append(UInt8(truncatingIfNeeded: limb >> (8 * UInt32(s)))) } }
        raw.append(0)  // room for the sign bit
        if negative { Self.negate(&raw) }
        self.init(twosComplementLittleEndian: raw)
    }

    /// Two's complement negation in place: invert and add one.
    static func negate(_ bytes: inout [UInt8]) {
        var carry: UInt16 = 1
        for i in bytes.indices {
            let s = UInt16(~bytes[i]) + carry
            bytes[i] = UInt8(truncatingIfNeeded: s)
            carry = s >> 8
        }
    }
}
