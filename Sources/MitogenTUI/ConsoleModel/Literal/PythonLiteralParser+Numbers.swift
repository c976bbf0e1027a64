import MitogenWire

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
