/// One target of a fleet: a chain to connect and the short label it is shown
/// and sorted by (`web07`, an inventory's host name).
public struct FleetTarget: Sendable, Equatable {
    public var label: String
    public var chain: ChainSpec

    public init(label: String, chain: ChainSpec) {
        self.label = label
        self.chain = chain
    }
}

/// Turns what an operator writes for many hosts into targets: chains whose
/// hop targets hold host patterns (`ssh:bastion -> ssh:db[1-9] -> sudo:root`),
/// and `@group` names that an inventory resolves (`@web`, `@web -> sudo:root`).
///
/// Expansion runs on each hop's raw target text before `ChainSpec` parses the
/// hop, so percent escapes (`%5B`) stay literal and options are never
/// expanded. A chain whose hops expand to several targets each gives their
/// product, nearest hop outermost; `FleetTree` then connects a shared prefix
/// once.
public enum FleetSpec {
    /// The targets `texts` name, in order, duplicates (same chain) dropped.
    ///
    /// A target's label is the host (for ssh) or target of each hop that held
    /// a pattern, joined by ` -> `; for a chain without a pattern, the host
    /// of its last ssh hop (`ssh:web1 -> sudo:root` is `web1`, as a pattern's
    /// target would be), else the whole chain. `@group` targets keep the
    /// inventory's labels. Labels that clash fall back to the chain's text.
    /// - Parameters:
    ///   - groups: the targets of a group by name, nil for an unknown group.
    ///   - limit: the most targets in all.
    /// - Throws: `FleetSpecError` naming the text, the hop, the column and the
    ///   problem.
    public static func expand(
        _ texts: [String], groups: (String) -> [FleetTarget]? = { _ in nil }, limit: Int = HostPattern.maximumExpansion
    ) throws(FleetSpecError) -> [FleetTarget] {
        var targets: [FleetTarget] = []
        var seen = Set<String>()
        for text in texts {
            for target in try expand(text, groups: groups, limit: limit - targets.count) {
                let key = target.chain.description
                if seen.insert(key).inserted { targets.append(target) }
            }
        }
        var labelCount: [String: Int] = [:]
        for target in targets { labelCount[target.label, default: 0] += 1 }
        for i in targets.indices where labelCount[targets[i].label, default: 0] > 1 {
            targets[i].label = targets[i].chain.description
        }
        return targets
    }

    /// The targets of one text.
    static func expand(
        _ text: String, groups: (String) -> [FleetTarget]?, limit: Int
    ) throws(FleetSpecError) -> [FleetTarget] {
        var pieces = text.split(separator: "->", omittingEmptySubsequences: false).map(String.init)
        var heads: [FleetTarget] = [FleetTarget(label: "", chain: ChainSpec(hops: []))]
        var firstHop = 1
        if let first = pieces.first?.trimmed, first.hasPrefix("@") {
            let name = String(first.dropFirst())
            guard let members = groups(name) else {
                throw FleetSpecError(text: text, message: "no group named \"\(name)\"")
            }
            guard !members.isEmpty else { throw FleetSpecError(text: text, message: "group \"\(name)\" has no hosts") }
            heads = members
            pieces.removeFirst()
            firstHop = 2
        }
        guard !pieces.isEmpty else { return heads }
        for (offset, piece) in pieces.enumerated() {
            let number = firstHop + offset
            let variants = try hopVariants(piece, number: number, text: text)
            guard heads.count.multipliedReportingOverflow(by: variants.count).partialValue <= limit,
                !heads.count.multipliedReportingOverflow(by: variants.count).overflow
            else {
                throw FleetSpecError(text: text, message: "the chain expands to more than \(limit) targets")
            }
            var next: [FleetTarget] = []
            next.reserveCapacity(heads.count * variants.count)
            for head in heads {
                for (hop, label) in variants {
                    var chain = head.chain
                    chain.hops.append(hop)
                    let joined = [head.label, label ?? ""].filter { !$0.isEmpty }.joined(separator: " -> ")
                    next.append(FleetTarget(label: joined, chain: chain))
                }
            }
            heads = next
        }
        return heads.map { head in
            guard head.label.isEmpty else { return head }
            let host = head.chain.hops.last { $0.host != nil }?.host
            return FleetTarget(label: host ?? head.chain.description, chain: head.chain)
        }
    }

    /// The hops one hop text expands to, each with its label when the
    /// target held a pattern.
    private static func hopVariants(_ piece: String, number: Int, text: String) throws(FleetSpecError) -> [(Hop, String?)] {
        // The target is what lies between the first ':' and the first '?'.
        let head = piece.firstIndex(of: "?").map { piece[..<$0] } ?? piece[...]
        guard let colon = head.firstIndex(of: ":") else { return [try parseHop(piece, number: number, text: text)] }
        let rawTarget = String(head[head.index(after: colon)...])
        guard HostPattern.hasPattern(rawTarget) else { return [try parseHop(piece, number: number, text: text)] }
        let names: [String]
        do {
            names = try HostPattern.expand(rawTarget.trimmed)
        } catch {
            let method = piece[..<colon].trimmed
            throw FleetSpecError(text: text, hop: number, message: "hop \(number) (\(method):\(rawTarget.trimmed)): \(error)")
        }
        let before = piece[...colon]
        let after = piece[head.endIndex...]
        var hops: [(Hop, String?)] = []
        for name in names {
            let (hop, _) = try parseHop(before + name + after, number: number, text: text)
            hops.append((hop, hop.host ?? hop.target ?? name))
        }
        return hops
    }

    private static func parseHop(_ piece: String, number: Int, text: String) throws(FleetSpecError) -> (Hop, String?) {
        do {
            let chain = try ChainSpec.parse(piece)
            return (chain.hops[0], nil)
        } catch {
            // ChainSpec numbers the lone hop 1; say where it is in the whole chain.
            var message = error.message
            if message.hasPrefix("hop 1 ") { message = "hop \(number) " + message.dropFirst(6) }
            throw FleetSpecError(text: text, hop: number, message: message)
        }
    }
}

/// Targets that do not expand: a bad pattern or hop, an unknown group, too many.
public struct FleetSpecError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The text at fault as written. Never printed by `description`: it may hold option values.
    public var text: String
    /// 1-based hop at fault, when one is.
    public var hop: Int?
    public var message: String

    public init(text: String, hop: Int? = nil, message: String) {
        self.text = text
        self.hop = hop
        self.message = message
    }

    public var description: String { message }
}

extension StringProtocol {
    fileprivate var trimmed: String {
        var s = Substring(self)
        while s.first?.isWhitespace == true { s = s.dropFirst() }
        while s.last?.isWhitespace == true { s = s.dropLast() }
        return String(s)
    }
}
