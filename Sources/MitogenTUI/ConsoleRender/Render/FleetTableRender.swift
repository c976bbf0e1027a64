import ConsoleModel

/// The results table of a call on many contexts, drawn over the panes:
/// a progress line, a header, then host, state, elapsed and result, one
/// row each (or folded); stragglers and errors in their own colours;
/// Enter shows the selected row's whole text.
enum FleetTableRender {
    static func render(_ lines: inout [Line], state: ViewState, layout: Layout, now: Double) {
        let table = state.fleet.table
        let shown = table.visibleRows(now: now, slowAfter: state.slowAfter)
        let width = layout.width
        let height = max(3, layout.height - 1)
        var body: [Line] = []
        var progress = Line(" " + table.progress(now: now, slowAfter: state.slowAfter), .title)
        progress.append(
            "   sort: \(table.sort.rawValue)" + (table.filter.isEmpty ? "" : "   filter: \(table.filter)")
                + (table.folded ? "   folded" : ""), .dim)
        body.append(progress)
        let hostWidth = min(max(8, (shown.map { TextWidth.width($0.hosts) }.max() ?? 4) + 1), max(8, width / 3))
        let selected = min(max(0, table.selected), max(0, shown.count - 1))
        if table.detailOpen, shown.indices.contains(selected) {
            let row = shown[selected]
            body.append(Line(" \(row.hosts)  \(row.state.rawValue)  \(Panes.formatSeconds(row.elapsed))", .header))
            for part in row.text.split(separator: "\n", omittingEmptySubsequences: false) {
                var rest = Substring(part)
                repeat {
                    let piece = TextWidth.truncated(String(rest), columns: max(1, width - 4), ascii: state.ascii)
                    body.append(Line("  " + piece))
                    rest = rest.dropFirst(max(1, piece.count))
                } while !rest.isEmpty && body.count < height
            }
        } else {
            body.append(Line(" " + TextWidth.padded("HOST", hostWidth) + " STATE    ELAPSED  RESULT", .header))
            let visible = max(1, height - 4)
            let top = min(max(0, selected - visible + 1), max(0, shown.count - visible))
            for (i, row) in shown.enumerated().dropFirst(top).prefix(visible) {
                let role: Role =
                    i == selected ? .selection
                    : row.straggler ? .pendingSlow : row.state == .error ? .stateFailed : row.state == .pending ? .stateConnecting : .base
                let mark = row.straggler ? "!" : " "
                let text = row.text.split(whereSeparator: \.isNewline).joined(separator: " | ")
                var line = Line(mark + TextWidth.padded(TextWidth.truncated(row.hosts, columns: hostWidth, ascii: state.ascii), hostWidth), role)
                line.append(" " + TextWidth.padded(row.state.rawValue, 8) + TextWidth.padded(Panes.formatSeconds(row.elapsed), 9), role)
                line.append(text, row.state == .error && i != selected ? .stateFailed : role)
                body.append(line)
            }
            if shown.isEmpty { body.append(Line("  (no rows match)", .dim)) }
        }
        _ = Overlays.box(
            &lines, title: "call \(table.expression)  (Enter: full result, s: sort, /: filter, z: fold, Esc: close)",
            body: body, width: width, height: min(layout.height - 1, body.count + 2), layout: layout, role: .dialog, ascii: state.ascii)
    }
}
