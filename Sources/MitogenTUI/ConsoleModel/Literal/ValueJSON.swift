package import MitogenWire

extension Value {
    /// The value as compact JSON (no spaces, no trailing newline), for the
    /// command line's `--json` output.
    ///
    /// JSON has fewer types than Python, so some values take a tagged form, an
    /// object with one key starting with `$`:
    /// - None, bools, ints (any size, as digits), str: as JSON's own;
    /// - finite floats as Python prints them (`1.0`, `1e+16`, valid JSON);
    ///   `inf`, `-inf` and `nan` as those strings;
    /// - list, tuple, set, frozenset: arrays;
    /// - dict and Kwargs: objects, keys in order; a key that is not a str is
    ///   written as text, as Python's `json.dumps` does (`1` → `"1"`, other
    ///   keys by their Python repr, e.g. `"(1, 2)"`);
    /// - bytes and Blob: `{"$bytes":"<base64>"}` (standard alphabet, padded);
    /// - Context: `{"$context":{"id":5,"name":"web"}}`; Sender:
    ///   `{"$sender":{"context_id":5,"handle":1000}}`; CallError:
    ///   `{"$call_error":"text"}`;
    /// - Secret: `"[secret]"`: its content is never printed.
    ///
    /// Strings are escaped as JSON requires (`\"`, `\\`, controls as `\n` or
    /// `\u001f`); other characters, including non-ASCII, are kept as UTF-8.
    package var jsonText: String {
        var out = ""
        writeJSON(to: &out)
        return out
    }

    private func writeJSON(to out: inout String) {
        switch self {
        case .none: out += "null"
        case .bool(let b): out += b ? "true" : "false"
        case .int(let i): out += String(i)
        case .bigInt(let n):
            // Beyond CPython's 4300 digits the int prints as hex, which JSON
            // has no number for: such an int is written as a string.
            let text = n.description
            if text.hasPrefix("0x") || text.hasPrefix("-0x") { out += "\"" + text + "\"" } else { out += text }
        case .float(let d):
            if d.isFinite {
                out += Self.floatRepr(d)
            } else {
                Self.writeJSONString(d.isNaN ? "nan" : (d < 0 ? "-inf" : "inf"), to: &out)
            }
        case .str(let s): Self.writeJSONString(s, to: &out)
        case .bytes(let b), .blob(let b):
            out += "{\"$bytes\":\""
            out += Self.base64(b)
            out += "\"}"
        case .list(let items), .tuple(let items), .set(let items), .frozenset(let items):
            out += "["
            for (i, item) in items.enumerated() {
                if i > 0 { out += "," }
                item.writeJSON(to: &out)
            }
            out += "]"
        case .dict(let d), .kwargs(let d):
            out += "{"
            for (i, (key, value)) in zip(d.keys, d.values).enumerated() {
                if i > 0 { out += "," }
                if case .str(let s) = key {
                    Self.writeJSONString(s, to: &out)
                } else {
                    Self.writeJSONString(key.pythonRepr, to: &out)
                }
                out += ":"
                value.writeJSON(to: &out)
            }
            out += "}"
        case .context(let id, let name):
            out += "{\"$context\":{\"id\":\(id),\"name\":"
            if let name { Self.writeJSONString(name, to: &out) } else { out += "null" }
            out += "}}"
        case .sender(let contextID, let handle):
            out += "{\"$sender\":{\"context_id\":\(contextID),\"handle\":\(handle)}}"
        case .callError(let text):
            out += "{\"$call_error\":"
            Self.writeJSONString(text, to: &out)
            out += "}"
        case .secret: out += "\"[secret]\""
        }
    }

    static func writeJSONString(_ s: String, to out: inout String) {
        out += "\""
        for ch in s.unicodeScalars {
            switch ch {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default:
                if ch.value < 0x20 {
                    let digits = String(ch.value, radix: 16)
                    out += "\\u" + String(repeating: "0", count: 4 - digits.count) + digits
                } else {
                    out.unicodeScalars.append(ch)
                }
            }
        }
        out += "\""
    }

    /// Standard base64 (RFC 4648 §4) with padding.
    static func base64(_ bytes: [UInt8]) -> String {
        let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".unicodeScalars)
        var out = String.UnicodeScalarView()
        var i = 0
        while i < bytes.count {
            let n = min(3, bytes.count - i)
            var group: UInt32 = 0
            for j in 0..<3 { group = group << 8 | (j < n ? UInt32(bytes[i + j]) : 0) }
            for j in 0..<4 {
                if j <= n {
                    out.append(alphabet[Int((group >> (18 - 6 * UInt32(j))) & 0x3f)])
                } else {
                    out.append("=")
                }
            }
            i += 3
        }
        return String(out)
    }
}
