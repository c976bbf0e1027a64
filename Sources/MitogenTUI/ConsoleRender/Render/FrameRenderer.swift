import MitogenLib
package import ConsoleModel
/// A whole screen: one line per row, and where to show the cursor (for text
/// input), if anywhere.
package struct Frame: Equatable, Sendable {
    package var lines: [Line]
    package var cursor: (row: Int, column: Int)?

    package static func == (a: Frame, b: Frame) -> Bool {
        a.lines == b.lines && a.cursor?.row == b.cursor?.row && a.cursor?.column == b.cursor?.column
    }

    /// The screen as plain text, one row per line (for tests and debugging).
    var text: String { lines.map(\.text).joined(separator: "\n") }
}

/// Everything one frame is drawn from.
package struct FrameInput {
    package var snapshot: ConsoleSnapshot
    package var logs: LogStore
    package var rates: RateTracker
    package var results: ResultStore
    package var state: ViewState
    package var layout: Layout

    package init(
        snapshot: ConsoleSnapshot, logs: LogStore, rates: RateTracker, results: ResultStore, state: ViewState,
        layout: Layout
    ) {
        self.snapshot = snapshot
        self.logs = logs
        self.rates = rates
        self.results = results
        self.state = state
        self.layout = layout
    }
}

/// What the renderer decided about the tree, for the app to keep.
package struct TreeOutcome: Equatable, Sendable {
    package var rows: [TreeRow]
    package var selectedIndex: Int?
    package var scroll: Int

    package init(rows: [TreeRow], selectedIndex: Int?, scroll: Int) {
        self.rows = rows
        self.selectedIndex = selectedIndex
        self.scroll = scroll
    }

    package var selectedID: UInt32? { selectedIndex.map { rows[$0].id } }
}

/// Turns a `FrameInput` into a `Frame`: a pure function of its input, so
/// every screen can be unit-tested without a terminal.
package enum FrameRenderer {
    package static func render(_ input: FrameInput) -> (Frame, TreeOutcome) {
        let state = input.state
        let layout = input.layout
        let w = layout.width
        let snapshot = input.snapshot
        var lines: [Line] = []
        lines.reserveCapacity(layout.height)

        // Header
        let live = snapshot.contexts.filter { $0.state.isLive }.count
        let stuck = snapshot.pending.filter { snapshot.time - $0.since >= state.stuckAfter }.count
        var header = Line(" mitogen-tui ", .header)
        header.append("│ \(live) live / \(snapshot.contexts.count) contexts │ \(snapshot.pending.count) pending", .header)
        if stuck > 0 { header.append(" (\(stuck) stuck)", .pendingStuck) }
        if state.readOnly { header.append(" │ READ-ONLY", .header) }
        header.append(" │ theme \(state.themeName)", .header)
        if input.logs.dropped > 0 { header.append(" │ logs dropped \(input.logs.dropped)", .header) }
        lines.append(header.fitted(to: w, padRole: .header))

        // Tree pane
        let rows = TreeModel.rows(snapshot, state)
        let selected = TreeModel.selectionIndex(rows, state, snapshot)
        var treeTitle = "Contexts (\(rows.count)) sort:\(state.sort.rawValue)"
        if !state.treeFilter.isEmpty { treeTitle += " filter:'\(state.treeFilter)'" }
        if !state.followSelected { treeTitle += " follow:off" }
        if !state.showGone { treeTitle += " gone:hidden" }
        var scroll = state.treeScroll
        if layout.treeHeight > 0 {
            lines.append(title("1 " + treeTitle, focused: state.focus == .tree, width: w, ascii: state.ascii))
            if layout.treeHeight > 1 {
                let (treeLines, top) = Panes.tree(
                    snapshot, rows, selected: selected, scroll: state.treeScroll, height: layout.treeHeight - 1,
                    width: w, state: state)
                lines += treeLines
                scroll = top
            }
        }
        let outcome = TreeOutcome(rows: rows, selectedIndex: selected, scroll: scroll)
        let selectedContext = outcome.selectedID

        // Lower pane
        if layout.bottomHeight > 0 {
            lines.append(tabs(state, snapshot: snapshot, width: w))
            let h = layout.bottomHeight - 1
            if h > 0 {
                switch state.bottom {
                case .streams:
                    lines += Panes.streams(
                        snapshot, rates: input.rates, selectedContext: selectedContext, scroll: state.streamScroll,
                        height: h, width: w, state: state)
                case .pending:
                    if let detail = state.callDetail {
                        lines += DetailPane.render(snapshot, detail: detail, height: h, width: w, state: state)
                    } else {
                        lines += Panes.pending(snapshot, height: h, width: w, state: state)
                    }
                case .results:
                    lines += Panes.results(
                        input.results, selectedContext: selectedContext, now: snapshot.time, height: h, width: w,
                        state: state)
                default: lines += Panes.logs(input.logs, height: h, width: w, state: state)
                }
            }
        }

        // Status row and F-key bar
        while lines.count < layout.statusRow { lines.append(Line().fitted(to: w)) }
        var cursor: (Int, Int)?
        if layout.height >= 2 {
            var status = statusLine(input, selectedContext: selectedContext)
            if case .prompt(let prompt) = state.overlay {
                status = Line(prompt.label, .input)
                status.append(prompt.editor.displayText, .input)
                let col = TextWidth.width(prompt.label) + prompt.editor.cursorColumn
                cursor = (layout.statusRow, min(w - 1, col))
                if !prompt.editor.candidates.isEmpty && layout.statusRow > 0 {
                    lines[layout.statusRow - 1] = Line(
                        " " + prompt.editor.candidates.joined(separator: "  "), .dialog
                    ).fitted(to: w)
                }
            }
            lines.append(status.fitted(to: w))
        }
        lines.append(functionBar(state, width: w))
        lines = Array(lines.prefix(layout.height))

        // Overlays
        switch state.overlay {
        case .help(let scroll): Overlays.help(&lines, state: state, scroll: scroll, layout: layout)
        case .confirm(let dialog): Overlays.confirm(&lines, dialog, layout: layout)
        case .form(let form): cursor = Overlays.form(&lines, form, layout: layout)
        case .fleet: FleetTableRender.render(&lines, state: state, layout: layout, now: input.snapshot.time)
        default: break
        }
        return (Frame(lines: lines, cursor: cursor), outcome)
    }

    private static func title(_ text: String, focused: Bool, width: Int, ascii: Bool) -> Line {
        let bar = ascii ? "-" : "─"
        let role: Role = focused ? .borderFocus : .border
        var line = Line(bar + " ", role)
        line.append(text, focused ? .title : role)
        line.append(" " + String(repeating: bar, count: max(0, width)), role)
        return line.fitted(to: width)
    }

    private static func tabs(_ state: ViewState, snapshot: ConsoleSnapshot, width: Int) -> Line {
        let bar = state.ascii ? "-" : "─"
        let focused = state.focus != .tree
        let role: Role = focused ? .borderFocus : .border
        var line = Line(bar, role)
        let names: [(ViewScope, String)] = [
            (.streams, "2 Streams"), (.logs, "3 Logs"), (.pending, "4 Pending (\(snapshot.pending.count))"),
            (.results, "5 Results"),
        ]
        for (scope, name) in names {
            line.append(" ", role)
            if scope == state.bottom {
                line.append("[" + name + extra(scope, state) + "]", focused ? .title : .header)
            } else {
                line.append(name, .dim)
            }
        }
        line.append(" " + String(repeating: bar, count: width), role)
        return line.fitted(to: width)
    }

    private static func extra(_ scope: ViewScope, _ state: ViewState) -> String {
        guard scope == .logs else { return "" }
        var parts = [state.logFollow ? "follow" : "paused", "level:" + state.logFilter.levelName]
        if let id = state.logFilter.contextID { parts.append("ctx:\(id)") }
        if !state.logFilter.text.isEmpty { parts.append("filter:'\(state.logFilter.text)'") }
        return " " + parts.joined(separator: " ")
    }

    private static func statusLine(_ input: FrameInput, selectedContext: UInt32?) -> Line {
        let status = input.state.status
        if !status.text.isEmpty { return Line(status.text, status.isError ? .statusError : .status) }
        if let id = selectedContext, let c = input.snapshot.context(id) {
            if case .failed(let error) = c.state { return Line("\(c.name): \(error)", .statusError) }
        }
        return Line("Tab switches pane, : for commands, ? for help", .dim)
    }

    private static func functionBar(_ state: ViewState, width: Int) -> Line {
        var line = Line()
        for (n, label) in ActionTable.functionBar(in: state.focus, readOnly: state.readOnly) {
            line.append("F\(n)", .fbarKey)
            line.append(label + " ", .fbarLabel)
        }
        return line.fitted(to: width, padRole: .fbarLabel)
    }

    /// Which F-key the bar shows at `column`, for mouse clicks.
    package static func functionKey(at column: Int, state: ViewState) -> Int? {
        var x = 0
        for (n, label) in ActionTable.functionBar(in: state.focus, readOnly: state.readOnly) {
            let w = TextWidth.width("F\(n)" + label + " ")
            if column >= x && column < x + w { return n }
            x += w
        }
        return nil
    }
}
