import ConsoleModel

/// The pending-calls pane split in two while a call's detail is open: the
/// list on top (at most a third of the rows, at least the selected call),
/// then what the context running the selected call says it is stuck on.
enum DetailPane {
    static func render(
        _ snapshot: ConsoleSnapshot, detail: CallDetail, height: Int, width: Int, state: ViewState
    ) -> [Line] {
        let listRows = min(max(2, snapshot.pending.count + 1), max(2, height / 3))
        var lines = Panes.pending(snapshot, height: min(listRows, height), width: width, state: state)
        let bar = state.ascii ? "-" : "─"
        var head = Line(bar + " ", .border)
        head.append("DETAIL call \(detail.handle)", .title)
        let age = detail.fetchedAt.map { " (refreshed \(Panes.formatSeconds(max(0, snapshot.time - $0))) ago; Enter closes)" }
        head.append(age ?? " (asking the context…; Enter closes)", .dim)
        head.append(" " + String(repeating: bar, count: max(0, width)), .border)
        lines.append(head.fitted(to: width))
        for l in detail.lines {
            lines.append(Line(" " + l.text, role(l.kind)).fitted(to: width))
        }
        while lines.count < height { lines.append(Line().fitted(to: width)) }
        return Array(lines.prefix(height))
    }

    private static func role(_ kind: CallDetail.DetailLine.Kind) -> Role {
        switch kind {
        case .heading: .header
        case .text: .base
        case .process: .stateConnecting
        case .warning: .pendingSlow
        case .dim: .dim
        }
    }
}
