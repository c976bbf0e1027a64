/// A Python dict: insertion-ordered pairs with hashed lookup.
///
/// Keys are any hashable `Value` (str, int, tuple, frozenset, ...). Setting an
/// existing key replaces its value in place, as Python does. Equality ignores
/// order, like Python's `==`; iteration follows insertion order.
public struct PyDict: Sendable, Hashable, Sequence, ExpressibleByDictionaryLiteral {
    public private(set) var keys: [Value] = []
    public private(set) var values: [Value] = []
    private var index: [Value: Int] = [:]

    public init() {}

    public init(dictionaryLiteral elements: (Value, Value)...) {
        for (k, v) in elements { self[k] = v }
    }

    /// A dict with string keys, in the order given.
    public init(_ pairs: [(String, Value)]) {
        for (k, v) in pairs { self[.str(k)] = v }
    }

    public var count: Int { keys.count }
    public var isEmpty: Bool { keys.isEmpty }

    public subscript(key: Value) -> Value? {
        get { index[key].map { values[$0] } }
        set {
            if let i = index[key] {
                if let newValue {
                    values[i] = newValue
                } else {
                    remove(at: i)
                }
            } else if let newValue {
                index[key] = keys.count
                keys.append(key)
                values.append(newValue)
            }
        }
    }

    /// Lookup by a string key, the common case for kwargs and structs.
    public subscript(key: String) -> Value? {
        get { self[.str(key)] }
        set { self[.str(key)] = newValue }
    }

    private mutating func remove(at i: Int) {
        keys.remove(at: i)
        values.remove(at: i)
        index.removeAll(keepingCapacity: true)
        for (j, k) in keys.enumerated() { index[k] = j }
    }

    public func makeIterator() -> some IteratorProtocol<(key: Value, value: Value)> {
        var i = 0
        let keys = self.keys, values = self.values
        return AnyIterator {
            guard i < keys.count else { return nil }
            defer { i += 1 }
            return (keys[i], values[i])
        }
    }

    public static func == (lhs: PyDict, rhs: PyDict) -> Bool {
        guard lhs.count == rhs.count else { return false }
        for (k, v) in zip(lhs.keys, lhs.values) where rhs[k] != v { return false }
        return true
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(count)
        var pairs: [Int] = []
        pairs.reserveCapacity(count)
        for (k, v) in zip(keys, values) {
            var h = Hasher()
            h.combine(k)
            h.combine(v)
            pairs.append(h.finalize())
        }
        hasher.combine(Value.unorderedHash(pairs))
    }
}
