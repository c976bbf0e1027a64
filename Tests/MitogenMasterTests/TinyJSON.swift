import Glibc
import TestSupport

/// A minimal JSON reader for the fixture files (test target only).
enum JSON: Equatable {
    case null
    case bool(Bool)
    case number(Double)
    case string(String)
    case array([JSON])
    case object([(String, JSON)])

    static func == (a: JSON, b: JSON) -> Bool {
        switch (a, b) {
        case (.null, .null): true
        case (.bool(let x), .bool(let y)): x == y
        case (.number(let x), .number(let y)): x == y
        case (.string(let x), .string(let y)): x == y
        case (.array(let x), .array(let y)): x == y
        case (.object(let x), .object(let y)): x.map(\.0) == y.map(\.0) && x.map(\.1) == y.map(\.1)
        default: false
        }
    }

    subscript(key: String) -> JSON? {
        if case .object(let pairs) = self { return pairs.first { $0.0 == key }?.1 }
        return nil
    }
    var string: String? { if case .string(let s) = self { s } else { nil } }
    var array: [JSON]? { if case .array(let a) = self { a } else { nil } }
    var strings: [String]? { array?.compactMap(\.string) }

    struct ParseError: Error { let offset: Int }

    static func parse(_ bytes: [UInt8]) throws -> JSON {
        var i = 0
        let value = try parseValue(bytes, &i)
        skipSpace(bytes, &i)
        guard i == bytes.count else { throw ParseError(offset: i) }
        return value
    }

    /// The file's contents, or nil when it cannot be read.
    static func readFile(_ path: String) -> [UInt8]? {
        guard let f = fopen(path, "rb") else { return nil }
        defer { fclose(f) }
        var out: [UInt8] = []
        var buf = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = fread(&buf, 1, buf.count, f)
            if n <= 0 { break }
            out += buf[0..<n]
        }
        return out
    }

    private static func skipSpace(_ b: [UInt8], _ i: inout Int) {
        while i < b.count, [0x20, 0x09, 0x0a, 0x0d].contains(b[i]) { i += 1 }
    }

    private static func parseValue(_ b: [UInt8], _ i: inout Int) throws -> JSON {
        skipSpace(b, &i)
        guard i < b.count else { throw ParseError(offset: i) }
        switch b[i] {
        case UInt8(ascii: "{"):
            i += 1
            var pairs: [(String, JSON)] = []
            skipSpace(b, &i)
            if i < b.count, b[i] == UInt8(ascii: "}") { i += 1; return .object(pairs) }
            while true {
                skipSpace(b, &i)
                guard case .string(let key) = try parseValue(b, &i) else { throw ParseError(offset: i) }
                skipSpace(b, &i)
                guard i < b.count, b[i] == UInt8(ascii: ":") else { throw ParseError(offset: i) }
                i += 1
                pairs.append((key, try parseValue(b, &i)))
                skipSpace(b, &i)
                guard i < b.count else { throw ParseError(offset: i) }
                if b[i] == UInt8(ascii: ",") { i += 1; continue }
                guard b[i] == UInt8(ascii: "}") else { throw ParseError(offset: i) }
                i += 1
                return .object(pairs)
            }
        case UInt8(ascii: "["):
            i += 1
            var items: [JSON] = []
            skipSpace(b, &i)
            if i < b.count, b[i] == UInt8(ascii: "]") { i += 1; return .array(items) }
            while true {
                items.append(try parseValue(b, &i))
                skipSpace(b, &i)
                guard i < b.count else { throw ParseError(offset: i) }
                if b[i] == UInt8(ascii: ",") { i += 1; continue }
                guard b[i] == UInt8(ascii: "]") else { throw ParseError(offset: i) }
                i += 1
                return .array(items)
            }
        case UInt8(ascii: "\""):
            i += 1
            var scalars = String.UnicodeScalarView()
            var raw: [UInt8] = []
            func flush() {
                scalars.append(contentsOf: String(decoding: raw, as: UTF8.self).unicodeScalars)
                raw.removeAll()
            }
            while i < b.count, b[i] != UInt8(ascii: "\"") {
                if b[i] == UInt8(ascii: "\\") {
                    flush()
                    i += 1
                    guard i < b.count else { throw ParseError(offset: i) }
                    let c = b[i]
                    i += 1
                    switch c {
                    case UInt8(ascii: "n"): scalars.append("\n")
                    case UInt8(ascii: "t"): scalars.append("\t")
                    case UInt8(ascii: "r"): scalars.append("\r")
                    case UInt8(ascii: "b"): scalars.append("\u{8}")
                    case UInt8(ascii: "f"): scalars.append("\u{c}")
                    case UInt8(ascii: "u"):
                        var value = try hex4(b, &i)
                        if (0xD800..<0xDC00).contains(value), i + 1 < b.count, b[i] == UInt8(ascii: "\\") {
                            i += 2
                            let low = try hex4(b, &i)
                            value = 0x10000 + ((value - 0xD800) << 10) + (low - 0xDC00)
                        }
                        guard let scalar = Unicode.Scalar(value) else { throw ParseError(offset: i) }
                        scalars.append(scalar)
                    default: scalars.append(Unicode.Scalar(c))
                    }
                } else {
                    raw.append(b[i])
                    i += 1
                }
            }
            flush()
            guard i < b.count else { throw ParseError(offset: i) }
            i += 1
            return .string(String(scalars))
        case UInt8(ascii: "t"): i += 4; return .bool(true)
        case UInt8(ascii: "f"): i += 5; return .bool(false)
        case UInt8(ascii: "n"): i += 4; return .null
        default:
            let start = i
            while i < b.count, "+-0123456789.eE".utf8.contains(b[i]) { i += 1 }
            guard let d = Double(String(decoding: b[start..<i], as: UTF8.self)) else { throw ParseError(offset: start) }
            return .number(d)
        }
    }

    private static func hex4(_ b: [UInt8], _ i: inout Int) throws -> UInt32 {
        guard i + 4 <= b.count, let v = UInt32(String(decoding: b[i..<(i + 4)], as: UTF8.self), radix: 16) else {
            throw ParseError(offset: i)
        }
        i += 4
        return v
    }
}

/// A fixture file of this test target (Tests/MitogenMasterTests/Fixtures).
func fixture(_ name: String) -> [UInt8]? {
    JSON.readFile(packageRoot + "/Tests/MitogenMasterTests/Fixtures/" + name)
}
