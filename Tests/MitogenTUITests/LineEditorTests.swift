import MitogenLib
import Testing
@testable import ConsoleModel

@Suite struct LineEditorTests {
    func type(_ text: String, into editor: inout LineEditor, history: inout History) {
        for c in text { editor.handle(.char(c), history: &history) }
    }

    @Test func editsAtTheCursor() {
        var e = LineEditor()
        var h = History()
        type("os.getpd()", into: &e, history: &h)
        e.handle(.left, history: &h)
        e.handle(.left, history: &h)
        e.handle(.left, history: &h)
        e.handle(.char("i"), history: &h)
        #expect(e.text == "os.getpid()")
        e.handle(.ctrl("w"), history: &h)  // no space before: the whole word up to the cursor
        #expect(e.text == "d()" && e.cursor == 0)
        e.handle(.end, history: &h)
        e.handle(.backspace, history: &h)
        #expect(e.text == "d(")
        e.handle(.ctrl("u"), history: &h)
        #expect(e.text == "" && e.cursor == 0)
        #expect(!e.handle(.enter, history: &h))
    }

    @Test func historyRecallsAndRestoresTheDraft() {
        var h = History()
        h.add("open local")
        h.add("open local")
        h.add("call os.getpid()")
        #expect(h.entries == ["open local", "call os.getpid()"])
        var e = LineEditor("dra")
        e.handle(.up, history: &h)
        #expect(e.text == "call os.getpid()")
        e.handle(.up, history: &h)
        e.handle(.up, history: &h)
        #expect(e.text == "open local")
        e.handle(.down, history: &h)
        e.handle(.down, history: &h)
        #expect(e.text == "dra")
    }

    @Test func secretsAreStarredAndNeverRecalled() {
        var h = History()
        h.add("x")
        var e = LineEditor(secret: true)
        type("hunter2", into: &e, history: &h)
        #expect(e.displayText == "*******")
        e.handle(.up, history: &h)
        #expect(e.text == "hunter2")
    }

    @Test func completesCommandsMethodsAndParameters() {
        let c = Completion(themes: ["default", "light"], functions: ["os.getpid", "os.listdir"])
        #expect(c.candidates("op") == ["open"])
        #expect(c.candidates("open lo") == ["local"])
        #expect(c.candidates("open local -> s").contains("ssh"))
        #expect(c.candidates("open ssh:web?ident") == ["identity_file=", "identities_only="])
        #expect(c.candidates("open sudo:root?password=env:X&pre") == ["preserve_env="])
        #expect(c.candidates("open ssh:web?port=2") == [])
        #expect(c.candidates("theme l") == ["light"])
        #expect(c.candidates("call os.") == ["os.getpid", "os.listdir"])
        var e = LineEditor("open local -> fo")
        var h = History()
        e.handle(.tab, history: &h, completer: c.candidates)
        #expect(e.text == "open local -> fork ")
        var f = LineEditor("call os.")
        f.handle(.tab, history: &h, completer: c.candidates)
        #expect(f.text == "call os.")
        #expect(f.candidates == ["os.getpid", "os.listdir"])
        f.handle(.char("g"), history: &h)
        f.handle(.tab, history: &h, completer: c.candidates)
        #expect(f.text == "call os.getpid ")
    }

    @Test func commandParser() throws {
        #expect(try CommandParser.parse("open local -> local") == .open(try ChainSpec.parse("local -> local"), underSelected: false))
        #expect(try CommandParser.parse("open sudo:root") == .open(try ChainSpec.parse("sudo:root"), underSelected: true))
        guard case .call(let expr, let text) = try CommandParser.parse("call os.getpid()") else {
            Issue.record("not a call")
            return
        }
        #expect(expr.function == "os.getpid" && text == "os.getpid()")
        #expect(try CommandParser.parse("sh subtree") == .shutdown(subtree: true))
        #expect(try CommandParser.parse("cancel 12") == .cancel(handle: 12))
        #expect(try CommandParser.parse("theme light") == .theme("light"))
        #expect(throws: CommandError.self) { try CommandParser.parse("frobnicate") }
        #expect(throws: CommandError.self) { try CommandParser.parse("open") }
        #expect(throws: CommandError.self) { try CommandParser.parse("call os.getpid(") }
        do {
            _ = try CommandParser.parse("open ssh:web?password=hunter2")
            Issue.record("a literal password was accepted")
        } catch {
            #expect(!error.description.contains("hunter2"))
        }
    }

    @Test func openFormBuildsAChain() throws {
        var form = Form.open(selectedName: "web")
        form.fields[1].editor.setText("deploy@web1")
        form.fields[2].editor.setText("name=w&check_host_keys=accept")
        form.fields[0].editor.setText("ssh")
        let (text, under) = form.chainText()
        #expect(text == "ssh:deploy@web1?name=w&check_host_keys=accept")
        #expect(!under)
        form.fields[3].editor.setText("selected")
        #expect(form.chainText().underSelected)
        #expect(try ChainSpec.parse(text).hops[0].host == "web1")
    }
}
