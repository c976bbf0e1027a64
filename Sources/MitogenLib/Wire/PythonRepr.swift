extension Value {
    /// The value as Python's `repr()` prints it, so that `ast.literal_eval`
    /// (and `PythonLiteralParser.parseLiteral`) reads it back to an equal
    /// value. Used by the console and by `--python` output.
    ///
    /// Exactly CPython's text for None, bools, ints of up to 4300 digits
    /// (``LargeInt/maxDecimalDigits``), finite floats (shortest
    /// round-trip digits, `1e+16`, `1e-05`, `1.0`), str (quote choice and
    /// escapes: `\n`, `\x07`, `\u200b`, `\U000e0001` for non-printables,
    /// printable Unicode kept), bytes, lists, tuples (`(1,)`), dicts and sets
    /// (`set()` when empty). Where Python's repr fails or is not a literal, this one
    /// differs or is documented:
    /// - an int of more than 4300 decimal digits prints in hex (`0x…`): CPython
    ///   refuses to print it in decimal (`ValueError`, the conversion is
    ///   quadratic), hex is linear and reads back to the same int;
    /// - infinities print as `1e999` and `-1e999`, which read back as
    ///   infinities (Python prints `inf`, which literal_eval refuses);
    /// - NaN prints as `nan`: no literal denotes NaN, so literal_eval refuses
    ///   it (our parser accepts it);
    /// - a frozenset prints as `frozenset({1, 2})`, not a literal for
    ///   literal_eval (our parser accepts it);
    /// - Mitogen's objects print as Mitogen does: `Context(5, 'name')`,
    ///   `Sender(Context(5, None), 1000)`, `CallError('text')`,
    ///   `[blob: 3 bytes]` and `[secret]` (content hidden, not literals), and
    ///   Kwargs like a plain dict (`{'a': 1}`), which reads back as a dict.
    public var pythonRepr: String { repr(.literal) }

    /// The value as text in `style`; every repr in the package comes from here.
    package func repr(_ style: ReprStyle) -> String {
        var out = ""
        writeRepr(to: &out, style)
        return out
    }

    /// A short one-line form for displays and log lines: the repr with bytes
    /// summarised as `[N bytes]`, secrets hidden, cut at 200 characters.
    package var displayText: String {
        let text = repr(.display)
        return text.count > 200 ? String(text.prefix(197)) + "..." : text
    }

    /// CPython's `repr(str)`: quote choice and escapes as `unicode_repr`.
    package static func strRepr(_ s: String) -> String {
        var out = ""
        writeStringRepr(s, to: &out)
        return out
    }

    /// CPython's `repr(bytes)`: `b'...'` with `\xhh` outside printable ASCII.
    package static func bytesRepr(_ bytes: [UInt8]) -> String {
        var out = ""
        writeBytesRepr(bytes, to: &out)
        return out
    }

    private func writeRepr(to out: inout String, _ style: ReprStyle) {
        switch self {
        case .none: out += "None"
        case .bool(let b): out += b ? "True" : "False"
        case .int(let i): out += String(i)
        case .bigInt(let n): out += n.description
        case .float(let d):
            out += style != .literal && d.isInfinite ? (d < 0 ? "-inf" : "inf") : Self.floatRepr(d)
        case .str(let s): Self.writeStringRepr(s, to: &out)
        case .bytes(let b) where style == .display: out += "[\(b.count) bytes]"
        case .bytes(let b): Self.writeBytesRepr(b, to: &out)
        case .list(let items): Self.writeSequence(items, open: "[", close: "]", to: &out, style)
        case .tuple(let items):
            if items.count == 1 {
                out += "("
                items[0].writeRepr(to: &out, style)
                out += ",)"
            } else {
                Self.writeSequence(items, open: "(", close: ")", to: &out, style)
            }
        case .dict(let d), .kwargs(let d): Self.writeDict(d, to: &out, style)
        case .set(let items):
            if items.isEmpty { out += "set()" } else { Self.writeSequence(items, open: "{", close: "}", to: &out, style) }
        case .frozenset(let items):
            out += "frozenset("
            if !items.isEmpty { Self.writeSequence(items, open: "{", close: "}", to: &out, style) }
            out += ")"
        case .context(let id, let name):
            out += "Context(\(id), "
            if let name { Self.writeStringRepr(name, to: &out) } else { out += "None" }
            out += ")"
        case .sender(let contextID, let handle): out += "Sender(Context(\(contextID), None), \(handle))"
        case .callError(let text):
            out += "CallError("
            Self.writeStringRepr(text, to: &out)
            out += ")"
        case .blob(let b): out += "[blob: \(b.count) bytes]"
        case .secret: out += "[secret]"
        }
    }

    /// Python's `repr(float)`, with the two non-finite exceptions above.
    ///
    /// Swift's `description` already picks the shortest round-trip digits and
    /// switches to exponent form at the same thresholds as CPython
    /// (exponent < -4 or >= 16), with a sign and two-digit minimum exponent.
    package static func floatRepr(_ d: Double) -> String {
        if d.isNaN { return "nan" }
        if d.isInfinite { return d < 0 ? "-1e999" : "1e999" }
        let text = d.description
        // Swift and Python agree on the shortest digits but not always on the
        // layout: Swift writes 2^53 <= |d| < 1e16 in exponent form, Python in
        // fixed form (exponent below 16).
        guard let e = text.firstIndex(of: "e"), let exp = Int(text[text.index(after: e)...]), exp < 16, exp >= -4 else {
            return text
        }
        var mantissa = text[..<e]
        let negative = mantissa.hasPrefix("-")
        if negative { mantissa = mantissa.dropFirst() }
        let digits = mantissa.filter { $0 != "." }
        let intDigits = exp + 1
        let body: String
        if intDigits >= digits.count {
            body = digits + String(repeating: "0", count: intDigits - digits.count) + ".0"
        } else if intDigits > 0 {
            body = String(digits.prefix(intDigits)) + "." + String(digits.dropFirst(intDigits))
        } else {
            body = "0." + String(repeating: "0", count: -intDigits) + digits
        }
        return (negative ? "-" : "") + body
    }

    private static func writeSequence(
        _ items: [Value], open: String, close: String, to out: inout String, _ style: ReprStyle
    ) {
        out += open
        for (i, item) in items.enumerated() {
            if i > 0 { out += ", " }
            item.writeRepr(to: &out, style)
        }
        out += close
    }

    private static func writeDict(_ d: PyDict, to out: inout String, _ style: ReprStyle) {
        out += "{"
        for (i, (key, value)) in zip(d.keys, d.values).enumerated() {
            if i > 0 { out += ", " }
            key.writeRepr(to: &out, style)
            out += ": "
            value.writeRepr(to: &out, style)
        }
        out += "}"
    }

    /// CPython's `unicode_repr`: single quotes unless the text has a single
    /// quote and no double quote; escapes for the quote, backslash, `\t\n\r`,
    /// other ASCII controls and DEL as `\xhh`, and non-printable non-ASCII as
    /// `\xhh`, `\uhhhh` or `\Uhhhhhhhh` by size.
    private static func writeStringRepr(_ s: String, to out: inout String) {
        let scalars = s.unicodeScalars
        let quote: Unicode.Scalar = scalars.contains("'") && !scalars.contains("\"") ? "\"" : "'"
        out.unicodeScalars.append(quote)
        for ch in scalars {
            switch ch {
            case quote, "\\":
                out += "\\"
                out.unicodeScalars.append(ch)
            case "\t": out += "\\t"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            default:
                if ch.value < 0x20 || ch.value == 0x7f {
                    out += "\\x" + hex(ch.value, width: 2)
                } else if ch.value < 0x7f || isPrintable(ch) {
                    out.unicodeScalars.append(ch)
                } else if ch.value <= 0xff {
                    out += "\\x" + hex(ch.value, width: 2)
                } else if ch.value <= 0xffff {
                    out += "\\u" + hex(ch.value, width: 4)
                } else {
                    out += "\\U" + hex(ch.value, width: 8)
                }
            }
        }
        out.unicodeScalars.append(quote)
    }

    /// CPython's `bytes.__repr__`: `b'...'` with the same quote choice, and
    /// everything outside printable ASCII as `\xhh`.
    private static func writeBytesRepr(_ bytes: [UInt8], to out: inout String) {
        let quote: UInt8 = bytes.contains(0x27) && !bytes.contains(0x22) ? 0x22 : 0x27
        out += "b"
        out.unicodeScalars.append(Unicode.Scalar(quote))
        for b in bytes {
            switch b {
            case quote, 0x5c:
                out += "\\"
                out.unicodeScalars.append(Unicode.Scalar(b))
            case 0x09: out += "\\t"
            case 0x0a: out += "\\n"
            case 0x0d: out += "\\r"
            case 0x20..<0x7f: out.unicodeScalars.append(Unicode.Scalar(b))
            default: out += "\\x" + hex(UInt32(b), width: 2)
            }
        }
        out.unicodeScalars.append(Unicode.Scalar(quote))
    }

    /// Python's `str.isprintable` for one character: everything except the
    /// categories Cc, Cf, Cs, Co, Cn, Zl, Zp and Zs (but space is printable).
    /// The Unicode version is Swift's, which may differ from the peer's
    /// Python for characters assigned recently.
    static func isPrintable(_ ch: Unicode.Scalar) -> Bool {
        if ch == " " { return true }
        switch ch.properties.generalCategory {
        case .control, .format, .surrogate, .privateUse, .unassigned,
            .lineSeparator, .paragraphSeparator, .spaceSeparator:
            return false
        default:
            return true
        }
    }

    private static func hex(_ v: UInt32, width: Int) -> String {
        let digits = String(v, radix: 16)
        return String(repeating: "0", count: max(0, width - digits.count)) + digits
    }
}

/// How `Value.repr(_:)` prints.
package enum ReprStyle: Sendable {
    /// Reads back with `ast.literal_eval`: infinities as `1e999` (the console
    /// and `mitogen-tui call`).
    case literal
    /// CPython's own `repr()` text, as error messages quote values: `inf`.
    case python
    /// `python`, with bytes summarised as `[N bytes]` (displays and logs).
    case display
}
