extension HostPattern {
    /// The shortest usual pattern for `names`, ClusterShell's folding:
    /// names differing only in their last number fold into one bracket
    /// (`web01 ... web18, web20` -> `web[01-18,20]`), zero padding kept.
    /// Groups come in order of their first name; a name without digits stays
    /// as it is. `expand(fold(names))` gives the same set of names (duplicates
    /// dropped, sorted by number within a group).
    public static func fold(_ names: [String]) -> String {
        struct Key: Hashable {
            var prefix: Substring
            var suffix: Substring
            /// Digits of a zero-padded number; 0 for unpadded numbers.
            var width: Int
        }
        var order: [Key] = []
        var groups: [Key: Set<Int>] = [:]
        var plain: [String] = []
        var seenPlain = Set<String>()
        var split: [(Key, Int)] = []
        for name in names {
            guard let (prefix, digits, suffix) = lastNumber(name), let value = Int(digits) else {
                if seenPlain.insert(name).inserted {
                    plain.append(name)
                    order.append(Key(prefix: Substring(name), suffix: "", width: -1))
                }
                continue
            }
            let width = digits.count > 1 && digits.first == "0" ? digits.count : 0
            split.append((Key(prefix: prefix, suffix: suffix, width: width), value))
        }
        // An unpadded number as wide as a padded group joins it (web09, web10).
        let paddedWidths = Set(split.filter { $0.0.width > 0 }.map { $0.0 })
        for (key, value) in split {
            var key = key
            if key.width == 0 {
                let wide = Key(prefix: key.prefix, suffix: key.suffix, width: String(value).count)
                if paddedWidths.contains(wide) { key = wide }
            }
            if groups[key] == nil { order.append(key) }
            groups[key, default: []].insert(value)
        }
        var out: [String] = []
        for key in order {
            guard let values = groups[key] else {
                out.append(String(key.prefix))
                continue
            }
            let range = NumberRange(lo: 0, hi: 0, width: key.width)
            let sorted = values.sorted()
            if sorted.count == 1 {
                out.append("\(key.prefix)\(range.text(sorted[0]))\(key.suffix)")
                continue
            }
            var parts: [String] = []
            var start = sorted[0]
            var previous = start
            for value in sorted.dropFirst() + [Int.min] {
                if value != Int.min, value == previous + 1 {
                    previous = value
                    continue
                }
                parts.append(start == previous ? range.text(start) : "\(range.text(start))-\(range.text(previous))")
                start = value
                previous = value
            }
            out.append("\(key.prefix)[\(parts.joined(separator: ","))]\(key.suffix)")
        }
        return out.joined(separator: ",")
    }

    /// The name split around its last run of ASCII digits, at most 18 of them.
    private static func lastNumber(_ name: String) -> (Substring, Substring, Substring)? {
        let utf8 = name.utf8
        guard let end = utf8.lastIndex(where: { (48...57).contains($0) }) else { return nil }
        var start = end
        while start > utf8.startIndex, (48...57).contains(utf8[utf8.index(before: start)]) {
            start = utf8.index(before: start)
        }
        let after = utf8.index(after: end)
        guard utf8.distance(from: start, to: after) <= 18 else { return nil }
        // A name with pattern syntax of its own would not expand back to itself.
        guard !name.contains(where: { "[]{},".contains($0) }) else { return nil }
        return (name[..<start], name[start..<after], name[after...])
    }
}
