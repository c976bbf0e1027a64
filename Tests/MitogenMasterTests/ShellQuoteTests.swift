import Testing

import MitogenCore
import MitogenWire
@testable import MitogenMaster

/// Expected values are Python 3.11's `shlex.quote`, `shlex.split` and
/// Mitogen 0.3.54's `mitogen.parent.Argv`.
@Suite struct ShellQuoteTests {
    @Test(arguments: [
        ("", "''"), ("abc", "abc"), ("a b", "'a b'"), ("it's", "'it'\"'\"'s'"), ("a$b", "'a$b'"), ("&&", "'&&'"),
        ("x=y,z:1@2%3+4/5.6-7_8", "x=y,z:1@2%3+4/5.6-7_8"), ("é", "'é'"), ("\n", "'\n'"),
    ])
    func quote(_ word: String, _ quoted: String) {
        #expect(ShellQuote.quote(word) == quoted)
    }

    @Test(arguments: [
        ("", ""), ("abc", "abc"), ("a b", "\"a b\""), ("a$b", "\"a\\$b\""), ("a\"b", "\"a\\\"b\""),
        ("a\\b", "\"a\\\\b\""), ("a`b", "\"a\\`b\""), ("a!b", "\"a\\!b\""), ("it's", "it's"), ("a\nb", "a\nb"),
        ("a\tb", "a\tb"),
    ])
    func mitogenJoinOneWord(_ word: String, _ joined: String) {
        #expect(ShellQuote.mitogenJoin([word]) == joined)
    }

    @Test func combiningMarksDoNotHideQuotes() {
        #expect(ShellQuote.quote("'\u{301}") == "''\"'\"'\u{301}'")
        #expect(ShellQuote.mitogenJoin(["\"\u{301} "]) == "\"\\\"\u{301} \"")
    }

    @Test func mitogenJoinWords() {
        #expect(ShellQuote.mitogenJoin(["/bin/sh", "-c", "S", "mitogen-stage1"]) == "/bin/sh -c S mitogen-stage1")
        #expect(ShellQuote.mitogenJoin(["a", "", "b c"]) == "a  \"b c\"")
    }

    @Test func split() throws {
        #expect(try ShellQuote.split("a\"b c\"") == ["ab c"])
        #expect(try ShellQuote.split("x \"a\\\"b\\\\c\\d\"") == ["x", "a\"b\\c\\d"])
        #expect(try ShellQuote.split("'' a") == ["", "a"])
        #expect(try ShellQuote.split("  -o  'ProxyJump j'\t-A\n") == ["-o", "ProxyJump j", "-A"])
        #expect(try ShellQuote.split("a\\ b \\'") == ["a b", "'"])
        #expect(try ShellQuote.split("") == [])
        #expect(throws: ShellWordsError.noEscapedCharacter) { try ShellQuote.split("\"abc\\") }
        #expect(throws: ShellWordsError.noEscapedCharacter) { try ShellQuote.split("abc\\") }
        #expect(throws: ShellWordsError.noClosingQuotation) { try ShellQuote.split("'abc") }
        #expect(throws: ShellWordsError.noClosingQuotation) { try ShellQuote.split("\"abc") }
    }

    @Test(arguments: [
        ["-o", "ProxyJump j", "-A"], ["", "it's", "a\"b", "\\", "$HOME", "tab\there", "é ü"], [String](),
        ["'\u{301}", "\"\u{301}x y", "\\\u{301}"],
    ])
    func splitUndoesQuote(_ words: [String]) throws {
        #expect(try ShellQuote.split(words.map(ShellQuote.quote).joined(separator: " ")) == words)
    }

    @Test func printfEval() {
        #expect(ShellQuote.printfEval("echo $x") == "eval \"`printf 'echo \\044x'`\"")
        #expect(ShellQuote.printfEval("a'b\n%é") == "eval \"`printf 'a\\047b\\012\\045\\303\\251'`\"")
        let encoded = ShellQuote.printfEval("set -f; H=\"$1\"; printf '%s\\n' \"`x`\" !")
        #expect(!encoded.contains("$") && !encoded.contains("\n") && !encoded.contains("!"))
    }

    @Test(arguments: [
        ("abc", "'abc'"), ("it's", "\"it's\""), ("a'b\"c", "'a\\'b\"c'"), ("a\\b", "'a\\\\b'"), ("\t\n\r", "'\\t\\n\\r'"),
        ("\u{1}\u{7f}", "'\\x01\\x7f'"), ("é", "'é'"), ("\u{200e}", "'\\u200e'"), ("\u{a0}", "'\\xa0'"),
    ])
    func pythonRepr(_ text: String, _ repr: String) {
        #expect(ShellQuote.pythonRepr(text) == repr)
    }
}
