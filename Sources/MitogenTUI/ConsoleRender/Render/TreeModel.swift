import MitogenLib
import ConsoleModel
/// One visible row of the context tree.
package struct TreeRow: Equatable, Sendable {
    package var id: UInt32
    package var depth: Int
    /// Guides before the name, e.g. `│  └─ `.
    package var prefix: String
    package var hasChildren: Bool
    package var collapsed: Bool
}

/// Flattens the context forest into visible rows: children under their
/// parent (`parentID`; contexts whose parent is unknown are roots), siblings
/// in `state.sort` order, collapsed subtrees hidden, and with a filter only
/// the matching contexts plus their ancestors (so each match keeps its path).
enum TreeModel {
    static func rows(_ snapshot: ConsoleSnapshot, _ state: ViewState) -> [TreeRow] {
        let known = Set(snapshot.contexts.map(\.id))
        var children: [UInt32: [ContextItem]] = [:]
        var roots: [ContextItem] = []
        for c in snapshot.contexts {
            if !state.showGone, case .gone = c.state { continue }
            if c.parentID != 0 && known.contains(c.parentID) && c.parentID != c.id {
                children[c.parentID, default: []].append(c)
            } else {
                roots.append(c)
            }
        }
        var keep: Set<UInt32>?
        if !state.treeFilter.isEmpty {
            let needle = state.treeFilter.lowercased()
            var parents: [UInt32: UInt32] = [:]
            for c in snapshot.contexts { parents[c.id] = c.parentID }
            var set: Set<UInt32> = []
            for c in snapshot.contexts
            where c.name.lowercased().contains(needle) || c.method.lowercased().contains(needle)
                || c.state.description.lowercased().contains(needle) || String(c.id) == needle
            {
                var id: UInt32? = c.id
                while let i = id, set.insert(i).inserted { id = parents[i].flatMap { $0 == 0 ? nil : $0 } }
            }
            keep = set
        }
        let order = comparator(state.sort)
        var out: [TreeRow] = []
        out.reserveCapacity(snapshot.contexts.count)
        var guides: [Bool] = []  // per depth: does the ancestor at that depth have later siblings
        func visit(_ items: [ContextItem], depth: Int) {
            let shown = items.filter { keep?.contains($0.id) ?? true }.sorted(by: order)
            for (i, c) in shown.enumerated() {
                let last = i == shown.count - 1
                let kids = children[c.id] ?? []
                let visibleKids = kids.contains { keep?.contains($0.id) ?? true }
                let isCollapsed = state.collapsed.contains(c.id) && keep == nil
                out.append(
                    TreeRow(
                        id: c.id, depth: depth, prefix: prefix(guides, last: last, depth: depth, ascii: state.ascii),
                        hasChildren: visibleKids, collapsed: isCollapsed))
                if visibleKids && !isCollapsed {
                    guides.append(!last)
                    visit(kids, depth: depth + 1)
                    guides.removeLast()
                }
            }
        }
        visit(roots, depth: 0)
        return out
    }

    private static func prefix(_ guides: [Bool], last: Bool, depth: Int, ascii: Bool) -> String {
        guard depth > 0 else { return "" }
        var s = ""
        for more in guides.dropFirst() { s += more ? (ascii ? "|  " : "│  ") : "   " }
        s += last ? (ascii ? "`- " : "└─ ") : (ascii ? "|- " : "├─ ")
        return s
    }

    private static func comparator(_ sort: TreeSort) -> (ContextItem, ContextItem) -> Bool {
        switch sort {
        case .id: { $0.id < $1.id }
        case .name: { ($0.name, $0.id) < ($1.name, $1.id) }
        case .age: { ($0.since, $0.id) < ($1.since, $1.id) }
        case .state: { ($0.state.description, $0.id) < ($1.state.description, $1.id) }
        }
    }

    /// The row index to select after the rows changed: the row of
    /// `state.selectedID` when following (or its nearest surviving
    /// ancestor's), else the same row number, clamped.
    static func selectionIndex(_ rows: [TreeRow], _ state: ViewState, _ snapshot: ConsoleSnapshot) -> Int? {
        guard !rows.isEmpty else { return nil }
        if state.followSelected, var id = state.selectedID {
            var guardCount = 0
            while guardCount < 64 {
                if let i = rows.firstIndex(where: { $0.id == id }) { return i }
                guard let parent = snapshot.context(id)?.parentID, parent != 0 else { break }
                id = parent
                guardCount += 1
            }
        }
        return min(max(0, state.selectedRow), rows.count - 1)
    }
}
