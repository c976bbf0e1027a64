import MitogenLib
import ConsoleModel

/// The pure pane renderers: data plus view state in, exactly sized lines out.
/// Each returns `rows` lines of `width` columns (column header first).
package enum Panes {
    // MARK: Context tree

    /// The column header and rows of the tree, scrolled so `selected` shows.
    /// - Returns: the lines and the scroll offset actually used.
    static func tree(
        _ snapshot: ConsoleSnapshot, _ rows: [TreeRow], selected: Int?, scroll: Int, height: Int, width: Int,
        state: ViewState
    ) -> ([Line], scroll: Int) {
        var pendingByContext: [UInt32: Int] = [:]
        for p in snapshot.pending { pendingByContext[p.contextID, default: 0] += 1 }
        var byID: [UInt32: ContextItem] = [:]
        byID.reserveCapacity(snapshot.contexts.count)
        for c in snapshot.contexts { byID[c.id] = c }

        let fixed = [8, 6, 8, 18, 7, 5]  // method id pid state age calls
        let nameWidth = max(8, width - fixed.reduce(0, +) - fixed.count)
        var lines: [Line] = []
        lines.append(
            Line(
                TextWidth.padded("NAME", nameWidth) + " " + TextWidth.padded("METHOD", 8) + " "
                    + TextWidth.padded("ID", 6, right: true) + " " + TextWidth.padded("PID", 8, right: true) + " "
                    + TextWidth.padded("STATE", 18) + " " + TextWidth.padded("AGE", 7, right: true) + " "
                    + TextWidth.padded("CALLS", 5, right: true), .header
            ).fitted(to: width))
        let visible = max(0, height - 1)
        let top = clampScroll(scroll, selected: selected, count: rows.count, visible: visible)
        for index in top..<min(rows.count, top + visible) {
            let row = rows[index]
            guard let c = byID[row.id] else { continue }
            let marker = row.hasChildren ? (row.collapsed ? (state.ascii ? "+ " : "▸ ") : (state.ascii ? "- " : "▾ ")) : "  "
            let age = snapshot.time - c.since
            let stateRole = c.state.role(isNew: age < 3)
            var line = Line()
            let guide = row.prefix + marker
            line.append(guide, .treeGuide)
            // A context marked for `:call` on many shows a leading '*'.
            let marked = state.fleet.marked.contains(c.id)
            line.append(TextWidth.padded(TextWidth.truncated((marked ? "*" : "") + c.name, columns: max(1, nameWidth - TextWidth.width(guide)), ascii: state.ascii), max(0, nameWidth - TextWidth.width(guide))), marked ? .mark : .base)
            line.append(" " + TextWidth.padded(c.method, 8) + " " + TextWidth.padded(String(c.id), 6, right: true) + " ")
            line.append(TextWidth.padded(c.pid.map { String($0) } ?? "-", 8, right: true) + " ")
            let calls = pendingByContext[c.id] ?? 0
            if case .failed = c.state, calls == 0 {
                // A failed row's error takes the age and calls columns too.
                let wide = 18 + 1 + 7 + 1 + 5
                line.append(TextWidth.padded(TextWidth.truncated(c.state.rowText, columns: wide, ascii: state.ascii), wide), stateRole)
            } else {
                line.append(TextWidth.padded(TextWidth.truncated(c.state.rowText, columns: 18, ascii: state.ascii), 18), stateRole)
                line.append(" " + TextWidth.padded(Format.age(age), 7, right: true) + " ")
                line.append(TextWidth.padded(calls == 0 ? "" : String(calls), 5, right: true), calls > 0 ? .mark : .base)
            }
            var fitted = line.fitted(to: width)
            if index == selected { fitted = fitted.recoloured(state.focus == .tree ? .selection : .selectionUnfocused) }
            lines.append(fitted)
        }
        while lines.count < height { lines.append(Line().fitted(to: width)) }
        return (Array(lines.prefix(height)), top)
    }

    /// The first visible row so that `selected` is inside the window.
    package static func clampScroll(_ scroll: Int, selected: Int?, count: Int, visible: Int) -> Int {
        guard visible > 0 else { return 0 }
        var top = min(max(0, scroll), max(0, count - visible))
        if let s = selected {
            if s < top { top = s }
            if s >= top + visible { top = s - visible + 1 }
        }
        return max(0, top)
    }

    // MARK: Streams

    static func streams(
        _ snapshot: ConsoleSnapshot, rates: RateTracker, selectedContext: UInt32?, scroll: Int, height: Int,
        width: Int, state: ViewState
    ) -> [Line] {
        let sparkWidth = max(0, min(60, width - 84))
        var header = TextWidth.padded("STREAM", 20) + " " + TextWidth.padded("ID", 5, right: true)
        for h in ["BYTES IN", "BYTES OUT", "MSG IN", "MSG OUT", "QUEUED", "IN/s", "OUT/s"] {
            header += " " + TextWidth.padded(h, 8, right: true)
        }
        if sparkWidth > 0 { header += " " + "LAST MINUTE" }
        var lines = [Line(header, .header).fitted(to: width)]
        let visible = max(0, height - 1)
        let streams = snapshot.streams
        let selectedIndex = streams.firstIndex { $0.contextID == selectedContext }
        let top = clampScroll(scroll, selected: selectedIndex, count: streams.count, visible: visible)
        for (i, s) in streams.enumerated().dropFirst(top).prefix(visible) {
            let series = rates[s.contextID]
            var line = Line()
            line.append(TextWidth.padded(TextWidth.truncated(s.name, columns: 20, ascii: state.ascii), 20), s.isDisconnected ? .stateGone : .base)
            line.append(" " + TextWidth.padded(String(s.contextID), 5, right: true))
            for v in [s.bytesIn, s.bytesOut] { line.append(" " + TextWidth.padded(Format.bytes(Double(v)), 8, right: true)) }
            for v in [s.messagesIn, s.messagesOut] { line.append(" " + TextWidth.padded(String(v), 8, right: true)) }
            line.append(" " + TextWidth.padded(Format.bytes(Double(s.queuedBytes)), 8, right: true), s.queuedBytes > 0 ? .mark : .base)
            line.append(" " + TextWidth.padded(Format.bytes(series?.rateIn ?? 0), 8, right: true), .rateIn)
            line.append(" " + TextWidth.padded(Format.bytes(series?.rateOut ?? 0), 8, right: true), .rateOut)
            if sparkWidth > 0 {
                line.append(" " + Sparkline.render(series?.history ?? [], width: sparkWidth, ascii: state.ascii), .spark)
            }
            var fitted = line.fitted(to: width)
            if i == selectedIndex { fitted = fitted.recoloured(state.focus == .streams ? .selection : .selectionUnfocused) }
            lines.append(fitted)
        }
        while lines.count < height { lines.append(Line().fitted(to: width)) }
        return Array(lines.prefix(height))
    }

    // MARK: Logs

    /// The newest matching lines (or older ones, `state.logScroll` matches
    /// back, when paused), oldest at the top. Scans backwards from the end,
    /// so the cost follows the window, not the buffer.
    static func logs(_ store: LogStore, height: Int, width: Int, state: ViewState) -> [Line] {
        var lines = [
            Line(
                TextWidth.padded("TIME", 8) + " " + TextWidth.padded("LEVEL", 5) + " " + TextWidth.padded("CONTEXT", 16)
                    + " MESSAGE", .header
            ).fitted(to: width)
        ]
        let visible = max(0, height - 1)
        var picked: [LogItem] = []
        var skip = state.logFollow ? 0 : state.logScroll
        var i = store.count - 1
        while i >= 0 && picked.count < visible {
            let item = store[i]
            if state.logFilter.matches(item) {
                if skip > 0 { skip -= 1 } else { picked.append(item) }
            }
            i -= 1
        }
        for item in picked.reversed() {
            let role: Role =
                switch item.level {
                case ..<20: .logDebug
                case ..<30: .logInfo
                case ..<40: .logWarning
                default: .logError
                }
            var line = Line()
            line.append(Format.clock(item.time) + " ", .dim)
            line.append(TextWidth.padded(levelName(item.level), 5) + " ", role)
            line.append(TextWidth.padded(TextWidth.truncated(item.contextName, columns: 16, ascii: state.ascii), 16) + " ", .dim)
            line.append(item.logger.isEmpty ? item.message : item.logger + ": " + item.message, role)
            lines.append(line.fitted(to: width))
        }
        while lines.count < height { lines.append(Line().fitted(to: width)) }
        return Array(lines.prefix(height))
    }

    // MARK: Pending calls

    /// The role of a pending call of `age` seconds.
    static func pendingRole(age: Double, _ state: ViewState) -> Role {
        age >= state.stuckAfter ? .pendingStuck : age >= state.slowAfter ? .pendingSlow : .pendingOK
    }

    static func pending(_ snapshot: ConsoleSnapshot, height: Int, width: Int, state: ViewState) -> [Line] {
        var lines = [
            Line(
                TextWidth.padded("HANDLE", 7, right: true) + " " + TextWidth.padded("CONTEXT", 16) + " "
                    + TextWidth.padded("AGE", 7, right: true) + " " + TextWidth.padded("STATUS", 6) + " CALL", .header
            ).fitted(to: width)
        ]
        let visible = max(0, height - 1)
        let calls = snapshot.pending
        let selectedIndex = calls.firstIndex { $0.handle == state.selectedHandle } ?? (calls.isEmpty ? nil : 0)
        let top = clampScroll(state.pendingScroll, selected: selectedIndex, count: calls.count, visible: visible)
        for (i, p) in calls.enumerated().dropFirst(top).prefix(visible) {
            let age = snapshot.time - p.since
            let role = pendingRole(age: age, state)
            let status = role == .pendingStuck ? "STUCK" : role == .pendingSlow ? "slow" : "ok"
            var line = Line()
            line.append(TextWidth.padded(String(p.handle), 7, right: true) + " ")
            line.append(TextWidth.padded(TextWidth.truncated(p.contextName, columns: 16, ascii: state.ascii), 16) + " ")
            line.append(TextWidth.padded(Format.age(age), 7, right: true) + " ", role)
            line.append(TextWidth.padded(status, 6), role)
            line.append(" " + p.function + "(" + p.arguments + ")")
            var fitted = line.fitted(to: width)
            if i == selectedIndex { fitted = fitted.recoloured(state.focus == .pending ? .selection : .selectionUnfocused) }
            lines.append(fitted)
        }
        while lines.count < height { lines.append(Line().fitted(to: width)) }
        return Array(lines.prefix(height))
    }

    // MARK: Results

    /// The call history of the selected context (or all), newest at the
    /// bottom, errors with their remote trace; `resultsScroll` lines back.
    static func results(
        _ results: ResultStore, selectedContext: UInt32?, now: Double, height: Int, width: Int, state: ViewState
    ) -> [Line] {
        let scopeText = state.resultsAllContexts ? "all contexts" : "selected context"
        var lines = [Line("CALL RESULTS (\(scopeText); a toggles)", .header).fitted(to: width)]
        var body: [Line] = []
        for r in results.history(for: state.resultsAllContexts ? nil : selectedContext) {
            var head = Line()
            head.append("[\(r.contextName)] ", .dim)
            head.append(r.expression, .input)
            if let e = r.elapsed { head.append("  " + formatSeconds(e), .dim) }
            body.append(head)
            switch r.outcome {
            case .running:
                body.append(Line("  … running for \(Format.age(now - r.started))", .pendingSlow))
            case .value(let text):
                for part in text.split(separator: "\n", omittingEmptySubsequences: false).prefix(50) {
                    body.append(Line("  = " + part, .stateConnected))
                }
            case .error(let message, let trace):
                body.append(Line("  ! " + message, .logError))
                for t in trace.prefix(30) { body.append(Line("    " + t, .dim)) }
            }
        }
        let visible = max(0, height - 1)
        let end = max(0, body.count - max(0, state.resultsScroll))
        for l in body[max(0, end - visible)..<end] { lines.append(l.fitted(to: width)) }
        while lines.count < height { lines.append(Line().fitted(to: width)) }
        return Array(lines.prefix(height))
    }

    static func formatSeconds(_ s: Double) -> String {
        if s < 1 { return "\(Int(s * 1000))ms" }
        let tenths = Int((s * 10).rounded())
        return "\(tenths / 10).\(tenths % 10)s"
    }
}
