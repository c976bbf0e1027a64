import MitogenLib
import ConsoleModel
/// Boxes drawn over the panes: the help overlay, confirmation dialogs and
/// forms. Each paints into the lines of an already rendered frame.
enum Overlays {
    /// Every key of the action tables that apply (the focused view's and
    /// the global ones; all views' when there is room), as `keys  label`.
    static func helpLines(state: ViewState) -> [Line] {
        var out: [Line] = []
        for scope in ViewScope.allCases {
            let actions = ActionTable.all.filter { $0.scope == scope && !(state.readOnly && $0.mutates) }
            guard !actions.isEmpty else { continue }
            out.append(Line(scope.title + (scope == state.focus ? "  (focused)" : ""), .title))
            for a in actions {
                var line = Line("  " + TextWidth.padded(a.keys.map(\.description).joined(separator: " "), 22), .fbarKey)
                line.append(" " + a.label + (a.dangerous ? " (asks first)" : ""), .dialog)
                out.append(line)
            }
        }
        out.append(Line("Commands", .title))
        for c in ConsoleCommandName.allCases where !(state.readOnly && c.mutates) {
            var line = Line("  :" + TextWidth.padded(c.usage, 21), .fbarKey)
            line.append(" " + c.summary, .dialog)
            out.append(line)
        }
        return out
    }

    static func help(_ lines: inout [Line], state: ViewState, scroll: Int, layout: Layout) {
        let body = helpLines(state: state)
        let boxWidth = min(layout.width, 100)
        let boxHeight = min(layout.height, body.count + 2)
        let visible = max(0, boxHeight - 2)
        let top = min(max(0, scroll), max(0, body.count - visible))
        let shown = Array(body[top..<min(body.count, top + visible)])
        box(&lines, title: "Help: keys (Esc closes, Up/Down scroll)", body: shown, width: boxWidth, height: boxHeight, layout: layout, role: .dialog, ascii: state.ascii)
    }

    static func confirm(_ lines: inout [Line], _ dialog: ConfirmDialog, layout: Layout) {
        var body = dialog.message.map { Line(" " + $0, dialog.danger ? .dialogDanger : .dialog) }
        body.append(Line())
        var buttons = Line("   ")
        buttons.append("[ Yes ]", dialog.yesSelected ? .selection : .dialog)
        buttons.append("   ")
        buttons.append("[ No ]", dialog.yesSelected ? .dialog : .selection)
        buttons.append("   y / n, Enter chooses the highlighted one (No)", .dialog)
        body.append(buttons)
        let width = min(layout.width, max(50, (body.map { TextWidth.width($0.text) }.max() ?? 0) + 4))
        box(&lines, title: dialog.title, body: body, width: width, height: min(layout.height, body.count + 2), layout: layout, role: dialog.danger ? .dialogDanger : .dialog, ascii: false)
    }

    /// Draws the form and returns where the cursor goes.
    static func form(_ lines: inout [Line], _ form: Form, layout: Layout) -> (Int, Int)? {
        let labelWidth = (form.fields.map { TextWidth.width($0.label) }.max() ?? 0) + 2
        var body: [Line] = []
        for (i, f) in form.fields.enumerated() {
            var l = Line(" " + TextWidth.padded(f.label + ":", labelWidth), i == form.focused ? .title : .dialog)
            l.append(f.editor.displayText, .input)
            body.append(l)
            body.append(Line("   " + f.hint, .dim))
        }
        if let e = form.error { body.append(Line(" " + e, .statusError)) }
        body.append(Line(" Tab/Down next field, Enter opens, Esc cancels", .dialog))
        let width = min(layout.width, 76)
        let height = min(layout.height, body.count + 2)
        let origin = box(&lines, title: form.title, body: body, width: width, height: height, layout: layout, role: .dialog, ascii: false)
        let row = origin.row + 1 + form.focused * 2
        let col = origin.column + 1 + 1 + labelWidth + form.fields[form.focused].editor.cursorColumn
        return row < layout.height ? (row, min(layout.width - 1, col)) : nil
    }

    /// Paints a centred box; returns its top-left corner.
    @discardableResult
    static func box(
        _ lines: inout [Line], title: String, body: [Line], width: Int, height: Int, layout: Layout, role: Role,
        ascii: Bool
    ) -> (row: Int, column: Int) {
        guard width >= 4, height >= 2 else { return (0, 0) }
        let top = max(0, (layout.height - height) / 2)
        let left = max(0, (layout.width - width) / 2)
        let inner = width - 2
        let (h, v, tl, tr, bl, br) = ascii ? ("-", "|", "+", "+", "+", "+") : ("─", "│", "┌", "┐", "└", "┘")
        var rows: [Line] = []
        var titleLine = Line(tl + h + " ", role)
        titleLine.append(TextWidth.truncated(title, columns: max(0, inner - 3)), .title)
        titleLine.append(" " + String(repeating: h, count: inner))
        titleLine = titleLine.fitted(to: width - 1)
        titleLine.append(tr, role)
        rows.append(titleLine)
        for i in 0..<(height - 2) {
            var l = Line(v, role)
            let content = i < body.count ? body[i] : Line()
            l.spans += content.fitted(to: inner, padRole: role).spans
            l.append(v, role)
            rows.append(l)
        }
        rows.append(Line(bl + String(repeating: h, count: inner) + br, role))
        for (i, boxLine) in rows.enumerated() where top + i < lines.count {
            lines[top + i] = splice(lines[top + i], boxLine, at: left, width: layout.width)
        }
        return (top, left)
    }

    /// `base` with `insert` laid over it from column `at`.
    static func splice(_ base: Line, _ insert: Line, at: Int, width: Int) -> Line {
        let insertWidth = TextWidth.width(insert.text)
        var out = Line()
        var used = 0
        for span in base.spans where used < at {
            let (cut, w) = TextWidth.prefix(span.text, columns: at - used)
            out.spans.append(Span(cut, span.role))
            used += w
        }
        if used < at { out.append(String(repeating: " ", count: at - used)) }
        out.spans += insert.spans
        let rightStart = at + insertWidth
        var x = 0
        for span in base.spans {
            let w = TextWidth.width(span.text)
            defer { x += w }
            if x + w <= rightStart { continue }
            var col = x
            var kept = String.UnicodeScalarView()
            for s in span.text.unicodeScalars {
                let sw = TextWidth.width(s)
                if col >= rightStart { kept.append(s) } else if col + sw > rightStart { kept.append(" ") }
                col += sw
            }
            out.spans.append(Span(String(kept), span.role))
        }
        return out.fitted(to: width)
    }
}
