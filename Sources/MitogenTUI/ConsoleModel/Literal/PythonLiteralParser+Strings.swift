import MitogenWire

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
