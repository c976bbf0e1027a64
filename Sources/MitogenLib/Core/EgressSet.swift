/// The destination ids a child stream has sent messages to, so that it hears
/// DEL_ROUTE for those that die (and only those).
///
/// Bounded: at most `capacity` ids are kept, and a dead id leaves the set
/// when its loss is told. A stream that names more live ids than that is
/// marked overflowed and from then on hears of every loss: a few notices it
/// did not need rather than one it did.
struct EgressSet {
    static let capacity = 1 << 16
    private(set) var ids: Set<UInt32> = []
    private(set) var overflowed = false

    /// A message arriving on the stream was addressed to `id`.
    mutating func note(_ id: UInt32) {
        if ids.count < Self.capacity {
            ids.insert(id)
        } else if !ids.contains(id) {
            overflowed = true
        }
    }

    /// Whether the stream must hear that `id` is gone; `id` is forgotten either way.
    mutating func takeLoss(_ id: UInt32) -> Bool {
        ids.remove(id) != nil || overflowed
    }
}
