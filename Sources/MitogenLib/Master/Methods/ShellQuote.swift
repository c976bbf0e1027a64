import MitogenCore
import MitogenWire

/// Shell quoting and word splitting as Mitogen 0.3.54 (and Python) do it.
///
/// - ``quote(_:)`` is Python's `shlex.quote`: what `ssh` gets for each word of
///   a remote command.
/// - ``mitogenJoin(_:)`` is `mitogen.parent.Argv.__str__`: the rule `su -c`
///   and `setns` use to join an argv into one `sh` command line.
/// - ``split(_:)`` is Python's `shlex.split`: how a chain hop's list values
///   (`ssh_args`, `sudo_args`, `kubectl_args`) are read.
/// - ``printfEval(_:)`` wraps a command so that it survives `sudo -i`, which
///   backslash-escapes every character except `$` before handing the command
///   to the target's login shell.
///
/// All functions are pure (no environment, no locale) and work on Unicode
/// scalars, as Python does on code points, so a combining mark after a quote
/// cannot hide the quote inside one `Character`.
package enum ShellQuote {
    /// Python's `shlex.quote(word)`: `word` unchanged when it is non-empty and
    /// made only of ASCII letters, digits and `@%+=:,./-_`; otherwise wrapped
    /// in single quotes with each `'` written as `'"'"'`. The empty string is `''`.
    package static func quote(_ word: String) -> String {
        if !word.isEmpty, word.utf8.allSatisfy(isShlexSafe) { return word }
        var out = "'"
        for scalar in word.unicodeScalars {
            if scalar == "'" { out += "'\"'\"'" } else { out.unicodeScalars.append(scalar) }
        }
        return out + "'"
    }

    /// Mitogen's `Argv` join: each word that contains a space or one of
    /// `\ $ " ` !` is wrapped in double quotes with those five characters
    /// backslash-escaped; other words (the empty one included) are copied as
    /// they are. Words are joined by single spaces.
    ///
    /// This is Mitogen's rule exactly, including its blind spots: a tab or
    /// newline alone does not cause quoting, and `!` becomes `\!`, which a POSIX
    /// `sh` keeps as two characters inside double quotes. Callers pass words
    /// without `!` (the first stage has none).
    package static func mitogenJoin(_ argv: [String]) -> String {
        argv.map { word -> String in
            guard word.unicodeScalars.contains(where: { $0 == " " || mustEscape($0) }) else { return word }
            var out = "\""
            for scalar in word.unicodeScalars {
                if mustEscape(scalar) { out += "\\" }
                out.unicodeScalars.append(scalar)
            }
            return out + "\""
        }.joined(separator: " ")
    }

    /// Splits `text` into words like Python's `shlex.split(text)` (POSIX mode,
    /// no comments): space, tab, CR and LF separate words; `'…'` is literal; inside
    /// `"…"` a backslash escapes only `"` and `\`; outside quotes a backslash
    /// escapes any character. `''` is an empty word.
    ///
    /// - Throws: `ShellWordsError` for an unterminated quote ("No closing
    ///   quotation") or a trailing backslash ("No escaped character"), as shlex.
    package static func split(_ text: String) throws(ShellWordsError) -> [String] {
        enum Mode { case none, word, single, double }
        var words: [String] = []
        var current = String.UnicodeScalarView()
        var mode = Mode.none
        var iterator = text.unicodeScalars.makeIterator()
        while let c = iterator.next() {
            switch mode {
            case .none, .word:
                if c == " " || c == "\t" || c == "\n" || c == "\r" {
                    if mode == .word { words.append(String(current)) }
                    current = String.UnicodeScalarView()
                    mode = .none
                } else if c == "'" {
                    mode = .single
                } else if c == "\"" {
                    mode = .double
                } else if c == "\\" {
                    guard let next = iterator.next() else { throw ShellWordsError.noEscapedCharacter }
                    current.append(next)
                    mode = .word
                } else {
                    current.append(c)
                    mode = .word
                }
            case .single:
                if c == "'" { mode = .word } else { current.append(c) }
            case .double:
                if c == "\"" {
                    mode = .word
                } else if c == "\\" {
                    guard let next = iterator.next() else { throw ShellWordsError.noEscapedCharacter }
                    if next != "\"" && next != "\\" { current.append("\\") }
                    current.append(next)
                } else {
                    current.append(c)
                }
            }
        }
        switch mode {
        case .single, .double: throw ShellWordsError.noClosingQuotation
        case .word: words.append(String(current))
        case .none: break
        }
        return words
    }

    /// `command` (one POSIX `sh` command line) rewritten without any `$`,
    /// newline or quote that a login shell could reinterpret:
    /// ``eval "`printf '<octal>'`"``, where every byte other than ASCII
    /// letters, digits, space and `_-/.,:=+@` is a three-digit octal escape.
    ///
    /// `sudo -i` escapes every character except letters, digits, `_`, `-` and
    /// `$` with a backslash and passes the result to the login shell's `-c`, so
    /// each `$` of a plain command would be expanded there, and each escaped
    /// newline would vanish as a line continuation. The rewritten form has
    /// neither, and `printf` plus `eval` in the inner `/bin/sh` restore the
    /// command byte for byte.
    package static func printfEval(_ command: String) -> String {
        var out = "eval \"`printf '"
        for byte in command.utf8 {
            if isPrintfSafe(byte) {
                out.unicodeScalars.append(Unicode.Scalar(byte))
            } else {
                out += "\\" + String(byte >> 6) + String((byte >> 3) & 7) + String(byte & 7)
            }
        }
        return out + "'`\""
    }

    // MARK: - Python reprs (for Mitogen's texts that embed them)

    /// Python's `repr(str)`: single quotes unless the text has `'` and no `"`;
    /// `\\`, the quote, `\t`, `\n`, `\r` escaped; other non-printable scalars
    /// as `\xNN`, `\uNNNN` or `\UNNNNNNNN`.
    package static func pythonRepr(_ text: String) -> String {
        let quote: Character = text.contains("'") && !text.contains("\"") ? "\"" : "'"
        var out = String(quote)
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\\": out += "\\\\"
            case "\t": out += "\\t"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            default:
                if Character(scalar) == quote {
                    out += "\\" + String(quote)
                } else if isPythonPrintable(scalar) {
                    out.unicodeScalars.append(scalar)
                } else {
                    let v = scalar.value
                    let (prefix, width) = v < 0x100 ? ("\\x", 2) : v < 0x10000 ? ("\\u", 4) : ("\\U", 8)
                    let digits = String(v, radix: 16)
                    out += prefix + String(repeating: "0", count: max(0, width - digits.count)) + digits
                }
            }
        }
        out.append(quote)
        return out
    }

    /// Python's `repr(list_of_str)`: `['a', 'b']`, `[]` when empty.
    package static func pythonRepr(_ list: [String]) -> String {
        "[" + list.map { pythonRepr($0) }.joined(separator: ", ") + "]"
    }

    // MARK: - Character classes

    private static func isShlexSafe(_ b: UInt8) -> Bool {
        isASCIIAlphanumeric(b) || "@%+=:,./-_".utf8.contains(b)
    }

    private static func isPrintfSafe(_ b: UInt8) -> Bool {
        isASCIIAlphanumeric(b) || " _-/.,:=+@".utf8.contains(b)
    }

    private static func isASCIIAlphanumeric(_ b: UInt8) -> Bool {
        (0x30...0x39).contains(b) || (0x41...0x5a).contains(b) || (0x61...0x7a).contains(b)
    }

    private static func mustEscape(_ c: Unicode.Scalar) -> Bool {
        c == "\\" || c == "$" || c == "\"" || c == "`" || c == "!"
    }

    /// `str.isprintable()` for one scalar: not in categories Cc, Cf, Cs, Co,
    /// Cn, Zl, Zp, or Zs other than the ASCII space.
    private static func isPythonPrintable(_ scalar: Unicode.Scalar) -> Bool {
        if scalar == " " { return true }
        switch scalar.properties.generalCategory {
        case .control, .format, .surrogate, .privateUse, .unassigned, .lineSeparator, .paragraphSeparator,
            .spaceSeparator:
            return false
        default:
            return true
        }
    }
}

/// A hop's word list that does not split: the texts are `shlex`'s.
package enum ShellWordsError: Error, Sendable, Equatable, CustomStringConvertible {
    /// A `'` or `"` is not closed.
    case noClosingQuotation
    /// The text ends in a lone backslash.
    case noEscapedCharacter

    package var description: String {
        switch self {
        case .noClosingQuotation: "No closing quotation"
        case .noEscapedCharacter: "No escaped character"
        }
    }
}
