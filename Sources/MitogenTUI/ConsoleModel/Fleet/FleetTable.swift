import MitogenLib

/// The console's fleet state: marked contexts, the loaded inventory's name,
/// and the results table of the last `:call` over many contexts. Plain
/// values, changed by the UI thread only.
package struct FleetView: Sendable {
    /// Contexts `:call` runs on when any are marked (space, `*`, `:mark`).
    package var marked: Set<UInt32> = []
    package var table = FleetTable()
    /// The inventory file `:inventory` loaded, for the status line.
    package var inventoryPath: String?

    package init() {}
}

/// One row of the results table: a host, its state and what came back.
package struct FleetRow: Equatable, Sendable {
    package enum State: String, Equatable, Sendable {
        case pending, ok, error
    }
    package var label: String
    package var contextID: UInt32?
    package var state: State = .pending
    /// When the call started and (once done) ended, monotonic seconds.
    package var started: Double
    package var finished: Double?
    /// The result as a Python literal, or the error.
    package var text = ""

    package init(label: String, contextID: UInt32?, started: Double) {
        self.label = label
        self.contextID = contextID
        self.started = started
    }

    package func elapsed(now: Double) -> Double { (finished ?? now) - started }
}

/// How the table orders its rows.
package enum FleetSort: String, CaseIterable, Sendable {
    case host, state, elapsed
    package var next: FleetSort { Self.allCases[((Self.allCases.firstIndex(of: self) ?? 0) + 1) % Self.allCases.count] }
}

/// The results of one call on many contexts, as the table shows them:
/// sortable (host order, state, elapsed), filterable (a substring of host or
/// result), foldable (identical results on one row, hosts folded
/// `web[01-18,20]`), with a progress line and the stragglers marked.
package struct FleetTable: Equatable, Sendable {
    package var expression = ""
    package var rows: [FleetRow] = []
    package var sort: FleetSort = .host
    package var filter = ""
    package var folded = false
    /// The selected row of `visibleRows`, and whether its full text is open.
    package var selected = 0
    package var detailOpen = false

    package init() {}

    package init(expression: String, hosts: [(label: String, contextID: UInt32?)], now: Double) {
        self.expression = expression
        rows = hosts.map { FleetRow(label: $0.label, contextID: $0.contextID, started: now) }
    }

    /// Records how row `index` ended.
    package mutating func finish(_ index: Int, ok: Bool, text: String, at time: Double) {
        guard rows.indices.contains(index) else { return }
        rows[index].state = ok ? .ok : .error
        rows[index].text = text
        rows[index].finished = time
    }

    /// "37/50 done, 2 failed, 1 slow": slow counts pending rows older than `slowAfter`.
    package func progress(now: Double, slowAfter: Double) -> String {
        let done = rows.filter { $0.state != .pending }.count
        let failed = rows.filter { $0.state == .error }.count
        let slow = rows.filter { $0.state == .pending && now - $0.started >= slowAfter }.count
        return "\(done)/\(rows.count) done, \(failed) failed, \(slow) slow"
    }

    /// A row as shown: one host, or several folded.
    package struct Shown: Equatable, Sendable {
        package var hosts: String
        package var count: Int
        package var state: FleetRow.State
        package var elapsed: Double
        package var text: String
        /// A pending row past `slowAfter`.
        package var straggler: Bool
    }

    /// The rows after filter, fold and sort.
    package func visibleRows(now: Double, slowAfter: Double) -> [Shown] {
        let needle = filter.lowercased()
        let kept = rows.enumerated().filter { _, row in
            needle.isEmpty || row.label.lowercased().contains(needle) || row.text.lowercased().contains(needle)
                || row.state.rawValue == needle
        }
        var shown: [(order: Int, Shown)] = []
        if folded {
            var groups: [String: Int] = [:]
            var labels: [[String]] = []
            for (i, row) in kept {
                let key = "\(row.state.rawValue)\u{0}\(row.state == .pending ? row.label : row.text)"
                if let g = groups[key] {
                    labels[g].append(row.label)
                    shown[g].1.count += 1
                    shown[g].1.elapsed = max(shown[g].1.elapsed, row.elapsed(now: now))
                } else {
                    groups[key] = shown.count
                    labels.append([row.label])
                    shown.append((i, Shown(hosts: row.label, count: 1, state: row.state, elapsed: row.elapsed(now: now), text: row.text,
                                           straggler: row.state == .pending && now - row.started >= slowAfter)))
                }
            }
            for g in shown.indices where labels[g].count > 1 { shown[g].1.hosts = HostPattern.fold(labels[g]) }
        } else {
            shown = kept.map { i, row in
                (i, Shown(hosts: row.label, count: 1, state: row.state, elapsed: row.elapsed(now: now), text: row.text,
                          straggler: row.state == .pending && now - row.started >= slowAfter))
            }
        }
        switch sort {
        case .host: shown.sort { $0.order < $1.order }
        case .state:
            let rank: [FleetRow.State: Int] = [.error: 0, .pending: 1, .ok: 2]
            shown.sort { (rank[$0.1.state] ?? 0, $0.order) < (rank[$1.1.state] ?? 0, $1.order) }
        case .elapsed: shown.sort { ($0.1.elapsed, $1.order) > ($1.1.elapsed, $0.order) }
        }
        return shown.map(\.1)
    }
}
