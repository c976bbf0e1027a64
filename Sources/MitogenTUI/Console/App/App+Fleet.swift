import Glibc
import Inventory
import MitogenLib
import MitogenSys
import ConsoleModel
import ConsoleRender

/// What fleet workers report to the UI thread.
enum FleetUpdate: Sendable {
    /// Row `index` of results table `serial` ended.
    case callDone(serial: Int, index: Int, ok: Bool, text: String)
    /// An open of many targets ended: the contexts of the targets that
    /// connected, and one line per target that did not.
    case opened(contexts: [UInt32], failures: [String])
}

/// Fleets in the console: `:inventory`, `:open` of patterns and `@group`,
/// marks (space, `*`, `:mark`), and `:call` on every marked context with
/// its results table (the `.fleet` overlay).
extension App {
    /// Seconds a call on many may take, for contexts without a `:timeout`.
    static let fleetCallTimeout = 60.0

    func loadInventory(_ path: String) {
        do {
            let loaded = try MitogenInventory.load(path: path)
            inventory = loaded
            state.fleet.inventoryPath = path
            let groups = loaded.groupNames.filter { $0 != "all" && $0 != "ungrouped" }
            setStatus("inventory \(path): \(loaded.allTargets.count) hosts; groups \(groups.joined(separator: ", "))")
        } catch {
            setStatus("\(error)", error: true)
        }
    }

    /// Connects every target `text` names, shared hops once, and marks the
    /// targets' contexts.
    func openFleet(_ text: String) {
        let targets: [FleetTarget]
        do {
            let inventory = self.inventory
            targets = try FleetSpec.expand(text.split(separator: ";").map(String.init), groups: { inventory?.targets(group: $0) })
        } catch {
            let hint = error.message.hasPrefix("no group named") && inventory == nil ? " (load one with :inventory FILE)" : ""
            return setStatus("bad targets: \(error)\(hint)", error: true)
        }
        // Each target's last hop is named by its label (web01, not ssh.10.0.0.1), unless named already.
        let named = targets.map { target -> FleetTarget in
            var target = target
            if let last = target.chain.hops.indices.last, target.chain.hops[last].option("name") == nil,
                target.label != target.chain.description
            {
                target.chain.hops[last].options.append(HopOption(key: "name", value: target.label))
            }
            return target
        }
        setStatus("opening \(targets.count) targets")
        let router = self.router
        let wake = self.wake
        runDetached {
            // password=ask: one question per method and user for every host.
            let options = FleetOptions(askPassword: { wake.askOperator("password for \($0) (every host):") })
            let results = router.fanOut(FleetTree(targets: named), calls: [], options: options)
            let contexts = results.compactMap { $0.context?.contextID }
            let failures = results.compactMap { r in r.connectError.map { "\(r.label): \($0)" } }
            wake.post(.fleet(.opened(contexts: contexts, failures: failures)))
        }
    }

    func handleFleet(_ update: FleetUpdate) {
        switch update {
        case .callDone(let serial, let index, let ok, let text):
            guard serial == fleetSerial else { return }
            state.fleet.table.finish(index, ok: ok, text: text, at: monotonicNow())
        case .opened(let contexts, let failures):
            state.fleet.marked = Set(contexts)
            let total = contexts.count + failures.count
            if failures.isEmpty {
                setStatus("opened \(total) targets, all marked for :call")
            } else {
                setStatus("opened \(contexts.count) of \(total) (marked); failed: \(failures.joined(separator: "; "))", error: true)
            }
        }
    }

    /// Space marks or unmarks the selected context; `*` its whole subtree
    /// (marked when any of it was not).
    func toggleMark(subtree: Bool) {
        guard let id = state.selectedID else { return setStatus("select a context first", error: true) }
        let ids = subtree ? snapshot.subtree(of: id) : [id]
        if ids.allSatisfy({ state.fleet.marked.contains($0) }) {
            state.fleet.marked.subtract(ids)
        } else {
            state.fleet.marked.formUnion(ids)
        }
        setStatus("\(state.fleet.marked.count) marked")
    }

    /// `:mark` marks what the tree filter shows (matching contexts, not
    /// their ancestors kept for the path); `:mark none` unmarks all.
    func markFilterMatches(unmark: Bool) {
        if unmark {
            state.fleet.marked = []
            return setStatus("nothing marked")
        }
        let needle = state.treeFilter.lowercased()
        guard !needle.isEmpty else { return setStatus("set a tree filter first (/ or :filter TEXT)", error: true) }
        let matches = snapshot.contexts.filter {
            $0.state.isLive && ($0.name.lowercased().contains(needle) || $0.method.lowercased().contains(needle))
        }
        state.fleet.marked.formUnion(matches.map(\.id))
        setStatus("\(state.fleet.marked.count) marked")
    }

    func showFleetTable() {
        guard !state.fleet.table.rows.isEmpty else { return setStatus("no call on many yet: mark contexts, then :call EXPR", error: true) }
        state.overlay = .fleet
    }

    /// Calls `expression` on every marked context at once (at most 50 in
    /// flight) and shows the results table as the answers come.
    func startFleetCall(expression: CallExpression, text: String) {
        let ids = snapshot.contexts.filter { state.fleet.marked.contains($0.id) && $0.state.isLive }.map { ($0.name, $0.id) }
        guard !ids.isEmpty else { return setStatus("no marked context is connected", error: true) }
        fleetSerial += 1
        let serial = fleetSerial
        state.fleet.table = FleetTable(expression: text, hosts: ids.map { (label: $0.0, contextID: $0.1) }, now: monotonicNow())
        state.overlay = .fleet
        let contexts = ids.map { router.context(byID: $0.1, name: $0.0) }
        // Each context's `:timeout`, else the fleet default.
        let timeouts = ids.map { state.callTimeouts[$0.1] ?? App.fleetCallTimeout }
        let queue = Latch<Int>()
        for i in contexts.indices { try? queue.put(i) }
        let wake = self.wake
        for _ in 0..<min(50, contexts.count) {
            runDetached {
                // Non-blocking: an empty queue ends the worker (everything was queued up front).
                while let i = try? queue.get(block: false) {
                    do {
                        let value = try contexts[i].callValue(
                            expression.function, args: expression.args, kwargs: expression.kwargs, timeout: timeouts[i])
                        wake.post(.fleet(.callDone(serial: serial, index: i, ok: true, text: value.pythonRepr)))
                    } catch {
                        var message = "\(error)"
                        if case .error(let line, let trace) = Self.outcome(of: error) { message = ([line] + trace).joined(separator: "\n") }
                        wake.post(.fleet(.callDone(serial: serial, index: i, ok: false, text: message)))
                    }
                }
            }
        }
    }

    /// Keys of the results table: move, Enter for the whole result, sort,
    /// filter, fold; Esc closes the detail, then the table.
    func handleFleetKey(_ key: Key) {
        let now = monotonicNow()
        let count = state.fleet.table.visibleRows(now: now, slowAfter: state.slowAfter).count
        switch key {
        case .up, .char("k"): state.fleet.table.selected = max(0, state.fleet.table.selected - 1)
        case .down, .char("j"): state.fleet.table.selected = min(max(0, count - 1), state.fleet.table.selected + 1)
        case .pageUp: state.fleet.table.selected = max(0, state.fleet.table.selected - 10)
        case .pageDown: state.fleet.table.selected = min(max(0, count - 1), state.fleet.table.selected + 10)
        case .enter: state.fleet.table.detailOpen.toggle()
        case .char("s"): state.fleet.table.sort = state.fleet.table.sort.next
        case .char("z"): state.fleet.table.folded.toggle()
        case .char("/"):
            state.overlay = .prompt(Prompt(purpose: .fleetFilter, label: "filter results: ", editor: LineEditor(state.fleet.table.filter)))
        case .escape, .char("q"):
            if state.fleet.table.detailOpen { state.fleet.table.detailOpen = false } else { state.overlay = .none }
        default: break
        }
    }
}
