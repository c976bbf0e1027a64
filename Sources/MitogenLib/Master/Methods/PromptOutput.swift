import MitogenCore
import MitogenWire

/// The last bytes a tool printed, kept for error texts: secrets masked,
/// terminal escape sequences removed, control characters made visible.
///
/// It keeps ``capacity`` raw bytes so that a secret cut by the shown window
/// (the last ``shownBytes``) is still recognised and masked whole.
struct OutputTail: Sendable {
    /// Bytes shown in texts.
    static let shownBytes = 300
    /// Raw bytes kept.
    static let capacity = 1024

    private var bytes: [UInt8] = []

    mutating func append<C: Collection<UInt8>>(_ chunk: C) {
        bytes.append(contentsOf: chunk)
        if bytes.count > Self.capacity { bytes.removeFirst(bytes.count - Self.capacity) }
    }

    var isEmpty: Bool { bytes.isEmpty }

    /// The last ``shownBytes`` bytes as text, each occurrence of a secret (and
    /// a secret's start or end cut by the kept window) shown as `[secret]`.
    func render(masking secrets: [[UInt8]]) -> String {
        Self.render(bytes[...], masking: secrets, limit: Self.shownBytes)
    }

    /// `raw` rendered as in ``render(masking:)``, keeping only its last `limit` bytes.
    static func render(_ raw: ArraySlice<UInt8>, masking secrets: [[UInt8]], limit: Int) -> String {
        let base = raw.startIndex
        var masked = [Bool](repeating: false, count: raw.count)
        for secret in secrets where !secret.isEmpty {
            var from = raw.startIndex
            while let start = Bytes.firstRange(of: secret, in: raw[from...]) {
                for i in start..<(start + secret.count) { masked[i - base] = true }
                from = start + 1
            }
            // A secret's end at the window start, or its start at the window end.
            for k in stride(from: min(secret.count - 1, raw.count), through: 1, by: -1)
            where raw.prefix(k).elementsEqual(secret.suffix(k)) {
                for i in 0..<k { masked[i] = true }
                break
            }
            for k in stride(from: min(secret.count - 1, raw.count), through: 1, by: -1)
            where raw.suffix(k).elementsEqual(secret.prefix(k)) {
                for i in (raw.count - k)..<raw.count { masked[i] = true }
                break
            }
        }
        var out = ""
        var i = max(0, raw.count - limit)
        // Skip UTF-8 continuation bytes cut at the window start.
        while i < raw.count, !masked[i], raw[base + i] & 0xC0 == 0x80 { i += 1 }
        while i < raw.count {
            if masked[i] {
                out += "[secret]"
                while i < raw.count, masked[i] { i += 1 }
                continue
            }
            var j = i
            while j < raw.count, !masked[j] { j += 1 }
            out += sanitize(raw[(base + i)..<(base + j)])
            i = j
        }
        return out
    }

    /// Terminal output as inert text: ANSI escape sequences (CSI, OSC, and
    /// two-byte ESC sequences) dropped, `\r` dropped, `\t` as a space, other
    /// control and format characters (bidi overrides included) as `\u{XX}`;
    /// invalid UTF-8 becomes U+FFFD. `\n` is kept.
    static func sanitize(_ raw: ArraySlice<UInt8>) -> String {
        var plain: [UInt8] = []
        plain.reserveCapacity(raw.count)
        var i = raw.startIndex
        while i < raw.endIndex {
            let b = raw[i]
            guard b == 0x1B else {
                plain.append(b)
                i += 1
                continue
            }
            i += 1
            guard i < raw.endIndex else { break }
            let kind = raw[i]
            i += 1
            if kind == UInt8(ascii: "[") {
                // CSI: parameters and intermediates, then one final byte 0x40-0x7E.
                while i < raw.endIndex, !(0x40...0x7E).contains(raw[i]) { i += 1 }
                i = min(i + 1, raw.endIndex)
            } else if kind == UInt8(ascii: "]") {
                // OSC: up to BEL or ESC \.
                while i < raw.endIndex, raw[i] != 0x07, raw[i] != 0x1B { i += 1 }
                if i < raw.endIndex, raw[i] == 0x1B { i += 1 }
                i = min(i + 1, raw.endIndex)
            }
        }
        var out = ""
        for scalar in String(decoding: plain, as: UTF8.self).unicodeScalars {
            switch scalar {
            case "\n": out += "\n"
            case "\r": break
            case "\t": out += " "
            default:
                switch scalar.properties.generalCategory {
                case .control, .format, .lineSeparator, .paragraphSeparator, .privateUse, .surrogate:
                    out += "\\u{" + String(scalar.value, radix: 16, uppercase: true) + "}"
                default:
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        return out
    }
}

/// Byte-string matching for the prompt rules. "CI" folds ASCII letters only.
enum Bytes {
    static func lowerASCII(_ b: UInt8) -> UInt8 { (0x41...0x5A).contains(b) ? b | 0x20 : b }

    /// The start index of the first occurrence of `needle` in `haystack`.
    static func firstRange(of needle: [UInt8], in haystack: ArraySlice<UInt8>, foldCase: Bool = false) -> Int? {
        guard !needle.isEmpty, needle.count <= haystack.count else { return nil }
        let first = foldCase ? lowerASCII(needle[0]) : needle[0]
        var i = haystack.startIndex
        let last = haystack.endIndex - needle.count
        while i <= last {
            let b = foldCase ? lowerASCII(haystack[i]) : haystack[i]
            if b == first {
                var k = 1
                while k < needle.count {
                    let h = haystack[i + k]
                    if (foldCase ? lowerASCII(h) : h) != (foldCase ? lowerASCII(needle[k]) : needle[k]) { break }
                    k += 1
                }
                if k == needle.count { return i }
            }
            i += 1
        }
        return nil
    }

    static func containsCI(_ haystack: ArraySlice<UInt8>, _ needle: String) -> Bool {
        firstRange(of: Array(needle.utf8), in: haystack, foldCase: true) != nil
    }

    static func containsAnyCI(_ haystack: ArraySlice<UInt8>, _ needles: [String]) -> Bool {
        needles.contains { containsCI(haystack, $0) }
    }

    static func hasPrefix(_ haystack: ArraySlice<UInt8>, _ prefix: String) -> Bool {
        haystack.starts(with: prefix.utf8)
    }

    static func hasPrefixCI(_ haystack: ArraySlice<UInt8>, _ prefix: String) -> Bool {
        haystack.count >= prefix.utf8.count && zip(haystack, prefix.utf8).allSatisfy { lowerASCII($0) == lowerASCII($1) }
    }

    static func hasSuffix(_ haystack: ArraySlice<UInt8>, _ suffix: String) -> Bool {
        !suffix.isEmpty && haystack.count >= suffix.utf8.count && haystack.suffix(suffix.utf8.count).elementsEqual(suffix.utf8)
    }
}
