/// A bounded set of context ids as half-open ranges: the ids a stream's
/// subtree may claim routes for (a direct child's own id, the blocks the
/// master handed to contexts below it), or the blocks a router received.
///
/// It holds at most `maxRanges` ranges (adjacent ones merge), so it cannot
/// grow without bound: `insert` then refuses. `idCount` lets the master set
/// a quota of ids per subtree.
package struct IDRanges: Sendable, Equatable {
    /// Most separate ranges one set keeps.
    package static let maxRanges = 4096

    private var ranges: [Range<UInt32>] = []
    /// How many ids the set holds.
    package private(set) var idCount = 0

    package init() {}

    /// Adds `range`. Returns false (and adds nothing) when the set is full.
    @discardableResult
    package mutating func insert(_ range: Range<UInt32>) -> Bool {
        guard !range.isEmpty else { return true }
        if let last = ranges.last, last.upperBound == range.lowerBound {
            ranges[ranges.count - 1] = last.lowerBound..<range.upperBound
        } else {
            guard ranges.count < Self.maxRanges else { return false }
            ranges.append(range)
        }
        idCount += range.count
        return true
    }

    /// Adds the single id `id`.
    @discardableResult
    package mutating func insert(_ id: UInt32) -> Bool {
        id == .max ? insert(id..<id) : insert(id..<(id + 1))
    }

    package func contains(_ id: UInt32) -> Bool { ranges.contains { $0.contains(id) } }

    package var count: Int { ranges.count }
}
