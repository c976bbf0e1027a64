import CWcwidth

/// Display widths of text in terminal columns (`wcwidth`), never by
/// `String.count`: 日 and 😀 take two columns, combining marks none.
///
/// The console's one caller of `wcwidth(3)`: libc's, declared by the
/// `CWcwidth` shim, so measuring text needs no curses. Like `wcwidth`, it
/// needs a UTF-8 `LC_CTYPE` (the console sets the locale at start).
package enum TextWidth {
    /// Columns `scalar` takes; control characters count as one (they are
    /// replaced by `?` when drawn).
    @inline(__always)
    package static func width(_ scalar: Unicode.Scalar) -> Int {
        if scalar.value >= 0x20 && scalar.value < 0x7f { return 1 }
        if scalar.value < 0x20 || scalar.value == 0x7f { return 1 }
        let w = Int(wcwidth(wchar_t(bitPattern: scalar.value)))
        return w < 0 ? 1 : w
    }

    /// Columns of a whole string.
    package static func width(_ text: String) -> Int {
        var n = 0
        for s in text.unicodeScalars { n += width(s) }
        return n
    }

    /// The longest prefix of `text` that fits in `columns`, and its width.
    /// Control characters become `?` so they cannot move the cursor; a wide
    /// character that does not fit whole becomes a space.
    package static func prefix(_ text: String, columns: Int) -> (String, Int) {
        var used = 0
        var clean = true
        for s in text.unicodeScalars {
            let w = width(s)
            if s.value < 0x20 || s.value == 0x7f || used + w > columns { clean = false; break }
            used += w
        }
        if clean { return (text, used) }
        var out = String.UnicodeScalarView()
        used = 0
        for s in text.unicodeScalars {
            let w = width(s)
            if used + w > columns {
                if used < columns { out.append(" "); used += 1 }
                break
            }
            out.append(s.value < 0x20 || s.value == 0x7f ? "?" : s)
            used += w
        }
        return (String(out), used)
    }

    /// `text` cut to `columns` with `…` (or `~` in ASCII mode) marking the cut.
    package static func truncated(_ text: String, columns: Int, ascii: Bool = false) -> String {
        guard columns > 0 else { return "" }
        if width(text) <= columns { return text }
        let (cut, _) = prefix(text, columns: columns - 1)
        return cut + (ascii ? "~" : "…")
    }

    /// `text` padded with spaces (left or right aligned) or cut to exactly `columns`.
    package static func padded(_ text: String, _ columns: Int, right: Bool = false) -> String {
        let w = width(text)
        if w >= columns { return prefix(text, columns: columns).0 }
        let pad = String(repeating: " ", count: columns - w)
        return right ? pad + text : text + pad
    }
}
