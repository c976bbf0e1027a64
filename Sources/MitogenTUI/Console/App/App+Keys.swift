import MitogenLib
import ConsoleModel
import ConsoleRender

/// Key and mouse handling: overlays first, then the action table of the
/// focused pane.
extension App {
    func handleKey(_ key: Key) {
        if key == .resize {
            terminal.invalidate()
            return
        }
        if case .mouse(let event) = key {
            handleMouse(event)
            return
        }
        switch state.overlay {
        case .none: break
        case .help(let scroll):
            switch key {
            case .up, .char("k"): state.overlay = .help(scroll: max(0, scroll - 1))
            case .down, .char("j"): state.overlay = .help(scroll: scroll + 1)
            case .pageUp: state.overlay = .help(scroll: max(0, scroll - 10))
            case .pageDown: state.overlay = .help(scroll: scroll + 10)
            default: state.overlay = .none
            }
            return
        case .prompt(var prompt):
            handlePromptKey(key, &prompt)
            return
        case .confirm(var dialog):
            handleConfirmKey(key, &dialog)
            return
        case .form(var form):
            handleFormKey(key, &form)
            return
        case .fleet:
            handleFleetKey(key)
            return
        }
        guard let action = ActionTable.action(for: key, in: state.focus, readOnly: state.readOnly) else {
            if state.readOnly, ActionTable.action(for: key, in: state.focus, readOnly: false) != nil {
                setStatus("read-only: that action is disabled", error: true)
            }
            return
        }
        perform(action.id)
    }

    func perform(_ id: ActionID) {
        switch id {
        case .help: state.overlay = .help(scroll: 0)
        case .command:
            state.overlay = .prompt(Prompt(purpose: .command, label: ":", editor: LineEditor()))
        case .focusNext: state.focus = state.focus == .tree ? state.bottom : .tree
        case .viewTree: state.focus = .tree
        case .viewStreams: show(.streams)
        case .viewLogs: show(.logs)
        case .viewPending: show(.pending)
        case .viewResults: show(.results)
        case .nextTheme:
            let names = themes.names()
            let i = names.firstIndex(of: state.themeName) ?? -1
            loadTheme(names[(i + 1) % names.count])
        case .redraw: terminal.invalidate()
        case .quit: requestQuit()
        case .moveUp: move(by: -1)
        case .moveDown: move(by: 1)
        case .pageUp: move(by: -pageSize)
        case .pageDown: move(by: pageSize)
        case .moveTop: move(by: Int.min / 2)
        case .moveBottom: move(by: Int.max / 2)
        case .toggleExpand:
            if let id = state.selectedID, tree.rows.first(where: { $0.id == id })?.hasChildren == true {
                if state.collapsed.contains(id) { state.collapsed.remove(id) } else { state.collapsed.insert(id) }
            }
        case .collapse: if let id = state.selectedID { state.collapsed.insert(id) }
        case .expand: if let id = state.selectedID { state.collapsed.remove(id) }
        case .treeFilter:
            state.overlay = .prompt(Prompt(purpose: .treeFilter, label: "filter tree: ", editor: LineEditor(state.treeFilter)))
        case .sort: state.sort = state.sort.next
        case .follow:
            state.followSelected.toggle()
            setStatus(state.followSelected ? "selection follows the context" : "selection stays on the row")
        case .toggleGone: state.showGone.toggle()
        case .inflight: if let id = state.selectedID { askInflight(contextID: id) }
        case .call:
            guard let id = state.selectedID, let c = snapshot.context(id) else { return setStatus("select a context first", error: true) }
            state.overlay = .prompt(Prompt(purpose: .call(contextID: id), label: "call on \(c.name)> ", editor: LineEditor()))
        case .openForm:
            state.overlay = .form(Form.open(selectedName: state.selectedID.flatMap { snapshot.context($0)?.name }))
        case .shutdown: confirmShutdown(subtree: false)
        case .shutdownSubtree: confirmShutdown(subtree: true)
        case .logFollow:
            state.logFollow.toggle()
            state.logScroll = 0
        case .logLevel:
            let levels = LogFilter.levels
            let i = levels.firstIndex { $0.0 == state.logFilter.minLevel } ?? 0
            state.logFilter.minLevel = levels[(i + 1) % levels.count].0
        case .logContext:
            state.logFilter.contextID = state.logFilter.contextID == nil ? state.selectedID : nil
        case .logFilter:
            state.overlay = .prompt(Prompt(purpose: .logFilter, label: "filter logs: ", editor: LineEditor(state.logFilter.text)))
        case .logClear: state.logFilter = LogFilter()
        case .cancelCall: cancelSelectedCall(handle: nil)
        case .callDetail: toggleCallDetail()
        case .pendingInflight:
            if let call = selectedPending { askInflight(contextID: call.contextID) }
        case .resultsScope: state.resultsAllContexts.toggle()
        case .mark: toggleMark(subtree: false)
        case .markSubtree: toggleMark(subtree: true)
        case .viewFleet: showFleetTable()
        }
    }

    var selectedPending: PendingItem? {
        snapshot.pending.first { $0.handle == state.selectedHandle } ?? snapshot.pending.first
    }

    private var pageSize: Int {
        let layout = Layout(width: terminal.size.width, height: terminal.size.height)
        return max(1, (state.focus == .tree ? layout.treeRows : layout.bottomRows) - 1)
    }

    private func show(_ scope: ViewScope) {
        state.bottom = scope
        state.focus = scope
    }

    /// Moves the selection (or scrolls) in the focused pane by `delta` rows.
    func move(by delta: Int) {
        switch state.focus {
        case .tree:
            guard !tree.rows.isEmpty else { return }
            let current = tree.selectedIndex ?? 0
            let i = min(max(0, current.addingClamped(delta)), tree.rows.count - 1)
            state.selectedRow = i
            state.selectedID = tree.rows[i].id
        case .logs:
            if delta >= Int.max / 4 {
                state.logFollow = true
                state.logScroll = 0
            } else {
                state.logFollow = false
                state.logScroll = max(0, min(logs.count, state.logScroll.addingClamped(-delta)))
            }
        case .pending:
            let calls = snapshot.pending
            guard !calls.isEmpty else { return }
            let current = calls.firstIndex { $0.handle == state.selectedHandle } ?? 0
            state.selectedHandle = calls[min(max(0, current.addingClamped(delta)), calls.count - 1)].handle
        case .streams: state.streamScroll = max(0, state.streamScroll.addingClamped(delta))
        case .results: state.resultsScroll = max(0, state.resultsScroll.addingClamped(-delta))
        case .global: break
        }
    }

    private func handleMouse(_ event: MouseEvent) {
        guard case .none = state.overlay else { return }
        let layout = Layout(width: terminal.size.width, height: terminal.size.height)
        let inTree = event.row >= layout.treeTop && event.row < layout.bottomTop
        let inBottom = event.row >= layout.bottomTop && event.row < layout.statusRow
        switch event.kind {
        case .wheelUp, .wheelDown:
            if inTree { state.focus = .tree } else if inBottom { state.focus = state.bottom }
            move(by: event.kind == .wheelUp ? -3 : 3)
        case .press:
            if event.row == layout.fbarRow, let n = FrameRenderer.functionKey(at: event.column, state: state) {
                if let a = ActionTable.action(for: .function(n), in: state.focus, readOnly: state.readOnly) { perform(a.id) }
            } else if inTree {
                state.focus = .tree
                let i = tree.scroll + event.row - layout.treeFirstRow
                if event.row >= layout.treeFirstRow, i < tree.rows.count {
                    state.selectedRow = i
                    state.selectedID = tree.rows[i].id
                }
            } else if inBottom {
                state.focus = state.bottom
                if state.bottom == .pending {
                    let i = event.row - layout.bottomFirstRow
                    let top = Panes.clampScroll(
                        state.pendingScroll, selected: snapshot.pending.firstIndex { $0.handle == state.selectedHandle },
                        count: snapshot.pending.count, visible: layout.bottomRows)
                    if i >= 0, top + i < snapshot.pending.count { state.selectedHandle = snapshot.pending[top + i].handle }
                }
            }
        }
    }

    // MARK: Prompt, confirm, form

    private func handlePromptKey(_ key: Key, _ prompt: inout Prompt) {
        switch key {
        case .escape:
            if prompt.purpose == .treeFilter { state.treeFilter = "" }
            if prompt.purpose == .logFilter { state.logFilter.text = "" }
            if case .password(let id, _) = prompt.purpose { pendingOpens[id] = nil; setStatus("open cancelled") }
            if case .toolQuestion(let id) = prompt.purpose { try? toolQuestions.removeValue(forKey: id)?.put(nil) }
            state.overlay = prompt.purpose == .fleetFilter ? .fleet : .none
        case .enter:
            state.overlay = .none
            submitPrompt(prompt)
        default:
            let completer: ((String) -> [String])? = prompt.purpose == .command ? { [completion] in completion.candidates($0) } : nil
            prompt.editor.handle(key, history: &history, completer: completer)
            if prompt.purpose == .treeFilter { state.treeFilter = prompt.editor.text }
            if prompt.purpose == .logFilter { state.logFilter.text = prompt.editor.text }
            state.overlay = .prompt(prompt)
        }
    }

    private func submitPrompt(_ prompt: Prompt) {
        let text = prompt.editor.text
        switch prompt.purpose {
        case .command:
            history.add(text)
            runCommand(text)
        case .call(let id):
            history.add("call " + text)
            do {
                startCall(contextID: id, expression: try PythonLiteralParser.parse(text), text: text)
            } catch {
                setStatus("bad call expression: \(error)", error: true)
            }
        case .treeFilter: state.treeFilter = text
        case .logFilter: state.logFilter.text = text
        case .password(let id, let hop): passwordEntered(requestID: id, hop: hop, password: text)
        case .toolQuestion(let id): try? toolQuestions.removeValue(forKey: id)?.put(text)
        case .fleetFilter:
            state.fleet.table.filter = text
            state.overlay = .fleet
        }
    }

    func runCommand(_ text: String) {
        let command: ParsedCommand
        do {
            command = try CommandParser.parse(text)
        } catch {
            return setStatus(error.description, error: true)
        }
        if state.readOnly {
            switch command {
            case .open, .openMany, .call, .shutdown, .cancel: return setStatus("read-only: that command is disabled", error: true)
            default: break
            }
        }
        switch command {
        case .open(let spec, let underSelected): open(spec, underSelected: underSelected)
        case .openMany(let text): openFleet(text)
        case .inventory(let path): loadInventory(path)
        case .mark(let all): markFilterMatches(unmark: !all)
        case .call(let expr, let text):
            if !state.fleet.marked.isEmpty { return startFleetCall(expression: expr, text: text) }
            guard let id = state.selectedID else { return setStatus("select a context first", error: true) }
            startCall(contextID: id, expression: expr, text: text)
        case .shutdown(let subtree): confirmShutdown(subtree: subtree)
        case .cancel(let handle): cancelSelectedCall(handle: handle)
        case .inflight: if let id = state.selectedID { askInflight(contextID: id) }
        case .theme(let name): loadTheme(name)
        case .filter(let text): state.treeFilter = text
        case .timeout(let seconds): setCallTimeout(seconds)
        case .help: state.overlay = .help(scroll: 0)
        case .quit: requestQuit()
        }
    }

    private func handleConfirmKey(_ key: Key, _ dialog: inout ConfirmDialog) {
        switch key {
        case .char("y"), .char("Y"):
            state.overlay = .none
            confirmed(dialog.intent)
        case .char("n"), .char("N"), .escape, .char("q"):
            state.overlay = .none
        case .left, .right, .tab, .backTab:
            dialog.yesSelected.toggle()
            state.overlay = .confirm(dialog)
        case .enter, .space:
            state.overlay = .none
            if dialog.yesSelected { confirmed(dialog.intent) }
        default: break
        }
    }

    private func confirmed(_ intent: ConfirmDialog.Intent) {
        switch intent {
        case .quit: running = false
        case .shutdown(let ids, let rootName): shutdown(ids: ids, rootName: rootName)
        }
    }

    private func handleFormKey(_ key: Key, _ form: inout Form) {
        switch key {
        case .escape:
            state.overlay = .none
            return
        case .tab, .down:
            form.focused = (form.focused + 1) % form.fields.count
        case .backTab, .up:
            form.focused = (form.focused + form.fields.count - 1) % form.fields.count
        case .enter:
            let (text, underSelected) = form.chainText()
            do {
                let spec = try ChainSpec.parse(text)
                state.overlay = .none
                open(spec, underSelected: underSelected)
                return
            } catch {
                form.error = "\(error)"
            }
        default:
            let field = form.focused
            let completer: ((String) -> [String])? =
                field == 0 ? { w in ChainSpec.knownMethods.filter { $0.hasPrefix(w) } } : nil
            form.fields[field].editor.handle(key, history: &history, completer: completer)
        }
        state.overlay = .form(form)
    }

    func requestQuit() {
        let live = snapshot.contexts.filter { $0.state.isLive }.count
        guard live > 0 else {
            running = false
            return
        }
        state.overlay = .confirm(
            ConfirmDialog(
                title: "Quit mitogen-tui?",
                message: ["\(live) context\(live == 1 ? " is" : "s are") connected; quitting shuts them all down."],
                intent: .quit, danger: false))
    }
}

extension Int {
    func addingClamped(_ other: Int) -> Int {
        let (r, overflow) = addingReportingOverflow(other)
        return overflow ? (other > 0 ? Int.max : Int.min) : r
    }
}
