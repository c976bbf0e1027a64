import MitogenLib

/// Whether an `:open` names many targets.
package enum FleetOpen {
    /// True for `@group`, chains joined by `;`, or a host pattern in a hop's target.
    package static func namesMany(_ text: String) -> Bool {
        if text.contains(";") || text.trimmingSpaces.hasPrefix("@") { return true }
        return text.split(separator: "->").contains { piece in
            let head = piece.split(separator: "?", maxSplits: 1).first ?? piece
            guard let colon = head.firstIndex(of: ":") else { return false }
            return HostPattern.hasPattern(String(head[head.index(after: colon)...]).trimmingSpaces)
        }
    }
}
