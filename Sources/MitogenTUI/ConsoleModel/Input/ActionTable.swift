/// Everything the operator can do from the keyboard, by name.
package enum ActionID: String, CaseIterable, Sendable {
    case help, command, focusNext, viewTree, viewStreams, viewLogs, viewPending, viewResults, nextTheme, quit, redraw
    case moveUp, moveDown, pageUp, pageDown, moveTop, moveBottom
    case toggleExpand, collapse, expand, treeFilter, sort, follow, toggleGone
    case call, openForm, shutdown, shutdownSubtree, inflight
    case logFollow, logLevel, logContext, logFilter, logClear
    case cancelCall, pendingInflight, callDetail
    case resultsScope
    case mark, markSubtree, viewFleet
}

/// The pane an action belongs to; `.global` actions work everywhere.
package enum ViewScope: String, CaseIterable, Sendable {
    case global, tree, streams, logs, pending, results

    package var title: String {
        switch self {
        case .global: "Everywhere"
        case .tree: "Context tree"
        case .streams: "Stream stats"
        case .logs: "Logs"
        case .pending: "Pending calls"
        case .results: "Call results"
        }
    }
}

/// One entry of the action table: the single source of the key dispatcher,
/// the F-key bar, the help overlay, read-only mode and docs/keys.md.
package struct Action: Sendable {
    package var id: ActionID
    package var keys: [Key]
    /// Short text for the F-bar and help.
    package var label: String
    package var scope: ViewScope
    /// Changes something (opens, calls, cancels, shuts down): hidden and
    /// refused under `--read-only`.
    package var mutates = false
    /// Asks for confirmation first (names the target, defaults to No).
    package var dangerous = false

    /// The F-key, if the action has one, for the F-bar.
    package var functionKey: Int? {
        for k in keys { if case .function(let n) = k { return n } }
        return nil
    }
}

/// The action tables of every view.
package enum ActionTable {
    package static let all: [Action] = [
        // Everywhere
        Action(id: .help, keys: [.function(1), .char("?")], label: "Help", scope: .global),
        Action(id: .command, keys: [.char(":"), .function(2)], label: "Command", scope: .global),
        Action(id: .focusNext, keys: [.tab, .backTab], label: "Switch pane", scope: .global),
        Action(id: .viewTree, keys: [.char("1")], label: "Focus the context tree", scope: .global),
        Action(id: .viewStreams, keys: [.char("2")], label: "Show stream stats", scope: .global),
        Action(id: .viewLogs, keys: [.char("3")], label: "Show logs", scope: .global),
        Action(id: .viewPending, keys: [.char("4")], label: "Show pending calls", scope: .global),
        Action(id: .viewResults, keys: [.char("5")], label: "Show call results", scope: .global),
        Action(id: .viewFleet, keys: [.char("6")], label: "Show the results table of a call on many", scope: .global),
        Action(id: .nextTheme, keys: [.char("T")], label: "Next theme", scope: .global),
        Action(id: .redraw, keys: [.ctrl("l")], label: "Redraw the screen", scope: .global),
        Action(id: .moveUp, keys: [.up, .char("k")], label: "Up", scope: .global),
        Action(id: .moveDown, keys: [.down, .char("j")], label: "Down", scope: .global),
        Action(id: .pageUp, keys: [.pageUp], label: "Page up", scope: .global),
        Action(id: .pageDown, keys: [.pageDown], label: "Page down", scope: .global),
        Action(id: .moveTop, keys: [.home, .char("g")], label: "First row", scope: .global),
        Action(id: .moveBottom, keys: [.end, .char("G")], label: "Last row", scope: .global),
        Action(id: .quit, keys: [.char("q"), .function(10)], label: "Quit", scope: .global),
        // Context tree
        Action(id: .toggleExpand, keys: [.enter], label: "Expand/collapse", scope: .tree),
        Action(id: .mark, keys: [.space], label: "Mark/unmark for :call on many", scope: .tree),
        Action(id: .markSubtree, keys: [.char("*")], label: "Mark/unmark the subtree", scope: .tree),
        Action(id: .collapse, keys: [.left, .char("-")], label: "Collapse", scope: .tree),
        Action(id: .expand, keys: [.right, .char("+")], label: "Expand", scope: .tree),
        Action(id: .treeFilter, keys: [.char("/"), .function(3)], label: "Filter", scope: .tree),
        Action(id: .sort, keys: [.char("s"), .function(6)], label: "Sort", scope: .tree),
        Action(id: .follow, keys: [.char("F")], label: "Follow selected context", scope: .tree),
        Action(id: .toggleGone, keys: [.char("h")], label: "Hide/show gone contexts", scope: .tree),
        Action(id: .inflight, keys: [.char("i"), .function(7)], label: "Inflight", scope: .tree),
        Action(id: .call, keys: [.char("c"), .function(4)], label: "Call", scope: .tree, mutates: true),
        Action(id: .openForm, keys: [.char("o"), .function(5)], label: "Open", scope: .tree, mutates: true),
        Action(
            id: .shutdown, keys: [.char("x"), .function(8)], label: "Shutdown", scope: .tree, mutates: true,
            dangerous: true),
        Action(
            id: .shutdownSubtree, keys: [.char("X")], label: "Shut down the subtree", scope: .tree, mutates: true,
            dangerous: true),
        // Logs
        Action(id: .logFollow, keys: [.char("f")], label: "Follow/pause", scope: .logs),
        Action(id: .logLevel, keys: [.char("l")], label: "Cycle minimum level", scope: .logs),
        Action(id: .logContext, keys: [.char("c")], label: "Only the selected context / all", scope: .logs),
        Action(id: .logFilter, keys: [.char("/"), .function(3)], label: "Filter", scope: .logs),
        Action(id: .logClear, keys: [.char("u")], label: "Clear the log filters", scope: .logs),
        // Pending calls
        Action(id: .pendingInflight, keys: [.char("i"), .function(7)], label: "Inflight", scope: .pending),
        Action(id: .callDetail, keys: [.enter, .char("v")], label: "Detail: what is it stuck on?", scope: .pending),
        Action(
            id: .cancelCall, keys: [.char("d"), .delete, .function(9)], label: "Cancel", scope: .pending,
            mutates: true),
        // Results
        Action(id: .resultsScope, keys: [.char("a")], label: "All contexts / selected one", scope: .results),
    ]

    /// The action `key` triggers in `scope` (its own table first, then the
    /// global one), skipping mutating actions when `readOnly`.
    package static func action(for key: Key, in scope: ViewScope, readOnly: Bool) -> Action? {
        for table in [scope, .global] {
            if let a = all.first(where: { $0.scope == table && $0.keys.contains(key) }) {
                return readOnly && a.mutates ? nil : a
            }
        }
        return nil
    }

    /// The actions shown for `scope` (its own and the global ones), without
    /// mutating ones when `readOnly`.
    package static func visible(in scope: ViewScope, readOnly: Bool) -> [Action] {
        all.filter { ($0.scope == scope || $0.scope == .global) && !(readOnly && $0.mutates) }
    }

    /// F-bar entries for `scope`: F-key number and label, by F-key.
    package static func functionBar(in scope: ViewScope, readOnly: Bool) -> [(Int, String)] {
        var byKey: [Int: String] = [:]
        for a in visible(in: scope, readOnly: readOnly).reversed() {  // the view's own actions win
            if let n = a.functionKey { byKey[n] = a.label }
        }
        return byKey.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }
    }

    /// docs/keys.md: every table as Markdown. A test keeps the file current;
    /// `mitogen-tui --print-keys > docs/keys.md` regenerates it.
    package static func markdown() -> String {
        var out = """
            # mitogen-tui keys

            Generated from `Sources/MitogenTUI/ConsoleModel/Input/ActionTable.swift` by `mitogen-tui --print-keys`;
            a test fails when this file is stale. Esc then a digit works as an F-key (Esc 1 = F1,
            Esc 0 = F10). Actions marked *changes* are hidden under `--read-only`; those marked
            *confirm* ask first, name their target, and default to No.

            """
        for scope in ViewScope.allCases {
            let actions = all.filter { $0.scope == scope }
            guard !actions.isEmpty else { continue }
            out += "\n## \(scope.title)\n\n| Keys | Action | Notes |\n|---|---|---|\n"
            for a in actions {
                let keys = a.keys.map { "`\($0.description)`" }.joined(separator: " ")
                let notes = [a.mutates ? "changes" : nil, a.dangerous ? "confirm" : nil].compactMap { $0 }
                out += "| \(keys) | \(a.label) | \(notes.joined(separator: ", ")) |\n"
            }
        }
        out += """

            ## Command line (`:`)

            | Command | Action |
            |---|---|

            """
        for c in ConsoleCommandName.allCases {
            out += "| `:\(c.usage)` | \(c.summary) |\n"
        }
        return out
    }
}
