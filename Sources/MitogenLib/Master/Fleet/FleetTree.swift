/// The connections a set of targets needs, as a tree: targets that share
/// their first hops share those nodes, so `ssh:bastion -> ssh:db[1-9]` is
/// one connection to the bastion with nine under it.
///
/// Nodes are stored flat, each after its parent, so walking `nodes` in order
/// visits parents first.
public struct FleetTree: Sendable, Equatable {
    /// One connection: a hop, made through its parent's context.
    public struct Node: Sendable, Equatable {
        public var hop: Hop
        /// Index of the node this hop is made through; nil for the master.
        public var parent: Int?
        public var children: [Int]
        /// Indexes into `targets` of the targets whose chain ends here.
        public var targets: [Int]
        /// Depth from the master, 0 for a first hop.
        public var depth: Int
    }

    public var targets: [FleetTarget]
    public private(set) var nodes: [Node] = []
    /// Indexes of the first-hop nodes.
    public private(set) var roots: [Int] = []
    /// For each target, the node its chain ends at.
    public private(set) var endNode: [Int] = []

    public init(targets: [FleetTarget]) {
        self.targets = targets
        // (parent, hop text) -> node, so building stays linear in the hops.
        var lookup: [String: Int] = [:]
        for (t, target) in targets.enumerated() {
            var parent: Int?
            for hop in target.chain.hops {
                let key = "\(parent ?? -1) \(hop)"
                if let existing = lookup[key] {
                    parent = existing
                    continue
                }
                let index = nodes.count
                lookup[key] = index
                nodes.append(Node(hop: hop, parent: parent, children: [], targets: [], depth: parent.map { nodes[$0].depth + 1 } ?? 0))
                if let parent { nodes[parent].children.append(index) } else { roots.append(index) }
                parent = index
            }
            // A chain always has a hop (ChainSpec.parse refuses an empty one).
            if let parent {
                nodes[parent].targets.append(t)
                endNode.append(parent)
            } else {
                endNode.append(-1)
            }
        }
    }

    /// Every target index at or below `node`.
    public func targets(under node: Int) -> [Int] {
        var out: [Int] = []
        var stack = [node]
        while let n = stack.popLast() {
            out += nodes[n].targets
            stack += nodes[n].children
        }
        return out.sorted()
    }
}
