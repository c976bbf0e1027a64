/// A value that can cross the wire: exactly the data model of Mitogen's
/// serialization rules (notes/mitogen-wire.md §3), as pickle protocol 2 carries it.
///
/// Most callers never build a `Value`: they pass their own `Codable` types and
/// `ValueEncoder`/`ValueDecoder` bridge them. `Value` is for code that handles
/// arbitrary payloads (the console, the command line, the pickle tests).
///
/// Equality is *identity of content*, stricter than Python's `==` in two
/// places: floats compare bit for bit (so `nan == nan` and `-0.0 != 0.0`, which
/// is what a round-trip test wants), and `1`, `1.0` and `True` are different
/// values. Dicts compare like Python's (same pairs, any order) but keep their
/// insertion order; sets compare as sets.
public enum Value: Sendable {
    /// Python `None`.
    case none
    case bool(Bool)
    /// A Python int that fits in 64 bits.
    case int(Int)
    /// A Python int beyond 64 bits. Never holds a value that fits in `Int`:
    /// use `Value.integer(_:)` to get the canonical form.
    case bigInt(LargeInt)
    case float(Double)
    case str(String)
    case bytes([UInt8])
    case list([Value])
    case tuple([Value])
    case dict(PyDict)
    case set([Value])
    case frozenset([Value])
    /// `mitogen.core.Context`: a context id and its optional name.
    case context(id: UInt32, name: String?)
    /// `mitogen.core.Sender`: where messages for a receiver go.
    case sender(contextID: UInt32, handle: UInt32)
    /// `mitogen.core.CallError`, as its formatted text.
    case callError(String)
    /// `mitogen.core.Blob`: bytes whose repr hides their content.
    case blob([UInt8])
    /// `mitogen.core.Secret`: a string whose repr hides its content.
    case secret(String)
    /// `mitogen.core.Kwargs`: keyword arguments of a call.
    case kwargs(PyDict)

    /// The canonical value of a big integer: `.int` when it fits in 64 bits.
    public static func integer(_ n: LargeInt) -> Value {
        if let small = n.int64Value { return .int(Int(small)) }
        return .bigInt(n)
    }

    /// The Python type name, for error messages ("expected str, got tuple").
    public var typeName: String {
        switch self {
        case .none: "NoneType"
        case .bool: "bool"
        case .int, .bigInt: "int"
        case .float: "float"
        case .str: "str"
        case .bytes: "bytes"
        case .list: "list"
        case .tuple: "tuple"
        case .dict: "dict"
        case .set: "set"
        case .frozenset: "frozenset"
        case .context: "mitogen.core.Context"
        case .sender: "mitogen.core.Sender"
        case .callError: "mitogen.core.CallError"
        case .blob: "mitogen.core.Blob"
        case .secret: "mitogen.core.Secret"
        case .kwargs: "mitogen.core.Kwargs"
        }
    }

    /// True for the values Python could use as a dict key or set member.
    public var isHashable: Bool {
        switch self {
        case .list, .dict, .set, .kwargs: false
        case .tuple(let items), .frozenset(let items): items.allSatisfy(\.isHashable)
        default: true
        }
    }
}

// MARK: - Equality and hashing

extension Value: Hashable {
    public static func == (lhs: Value, rhs: Value) -> Bool {
        switch (lhs, rhs) {
        case (.none, .none): true
        case let (.bool(a), .bool(b)): a == b
        case let (.int(a), .int(b)): a == b
        case let (.bigInt(a), .bigInt(b)): a == b
        case let (.float(a), .float(b)): a.bitPattern == b.bitPattern
        case let (.str(a), .str(b)): a.unicodeScalars.elementsEqual(b.unicodeScalars)
        case let (.bytes(a), .bytes(b)): a == b
        case let (.list(a), .list(b)): a == b
        case let (.tuple(a), .tuple(b)): a == b
        case let (.dict(a), .dict(b)): a == b
        case let (.set(a), .set(b)), let (.frozenset(a), .frozenset(b)):
            a.count == b.count && Swift.Set(a) == Swift.Set(b)
        case let (.context(i, n), .context(j, m)): i == j && n == m
        case let (.sender(c, h), .sender(d, k)): c == d && h == k
        case let (.callError(a), .callError(b)): a == b
        case let (.blob(a), .blob(b)): a == b
        case let (.secret(a), .secret(b)): a == b
        case let (.kwargs(a), .kwargs(b)): a == b
        default: false
        }
    }

    public func hash(into hasher: inout Hasher) {
        switch self {
        case .none: hasher.combine(0)
        case .bool(let b): hasher.combine(1); hasher.combine(b)
        case .int(let i): hasher.combine(2); hasher.combine(i)
        case .bigInt(let i): hasher.combine(2); hasher.combine(i)
        case .float(let f): hasher.combine(3); hasher.combine(f.bitPattern)
        case .str(let s):
            // The UTF-8 bytes in one go: equal scalars mean equal bytes.
            hasher.combine(4)
            var copy = s
            copy.withUTF8 { hasher.combine(bytes: UnsafeRawBufferPointer($0)) }
        case .bytes(let b): hasher.combine(5); hasher.combine(b)
        case .list(let items): hasher.combine(6); hasher.combine(items)
        case .tuple(let items): hasher.combine(7); hasher.combine(items)
        case .dict(let d): hasher.combine(8); hasher.combine(d)
        case .set(let items), .frozenset(let items):
            hasher.combine(9)
            hasher.combine(Self.unorderedHash(items))
        case .context(let id, let name): hasher.combine(10); hasher.combine(id); hasher.combine(name)
        case .sender(let c, let h): hasher.combine(11); hasher.combine(c); hasher.combine(h)
        case .callError(let s): hasher.combine(12); hasher.combine(s)
        case .blob(let b): hasher.combine(13); hasher.combine(b)
        case .secret(let s): hasher.combine(14); hasher.combine(s)
        case .kwargs(let d): hasher.combine(15); hasher.combine(d)
        }
    }

    /// A hash that does not depend on element order (sets, dicts).
    static func unorderedHash<S: Sequence>(_ items: S) -> Int where S.Element: Hashable {
        var sum = 0
        for item in items { sum &+= item.hashValue }
        return sum
    }
}

// MARK: - Literals, so tests and callers can write values naturally

extension Value: ExpressibleByNilLiteral, ExpressibleByBooleanLiteral, ExpressibleByIntegerLiteral,
    ExpressibleByFloatLiteral, ExpressibleByStringLiteral, ExpressibleByArrayLiteral,
    ExpressibleByDictionaryLiteral
{
    public init(nilLiteral: ()) { self = .none }
    public init(booleanLiteral value: Bool) { self = .bool(value) }
    public init(integerLiteral value: Int) { self = .int(value) }
    public init(floatLiteral value: Double) { self = .float(value) }
    public init(stringLiteral value: String) { self = .str(value) }
    /// An array literal is a Python list.
    public init(arrayLiteral elements: Value...) { self = .list(elements) }
    /// A dictionary literal is a Python dict, in literal order.
    public init(dictionaryLiteral elements: (Value, Value)...) {
        var d = PyDict()
        for (k, v) in elements { d[k] = v }
        self = .dict(d)
    }
}

// MARK: - Convenience accessors

extension Value {
    public var isNone: Bool { if case .none = self { true } else { false } }

    /// The string of a `.str` or `.secret`.
    public var stringValue: String? {
        switch self {
        case .str(let s), .secret(let s): s
        default: nil
        }
    }

    /// The integer of an `.int` (or of a `.bool`, as Python allows).
    public var intValue: Int? {
        switch self {
        case .int(let i): i
        case .bool(let b): b ? 1 : 0
        default: nil
        }
    }

    /// The bytes of a `.bytes` or `.blob`.
    public var bytesValue: [UInt8]? {
        switch self {
        case .bytes(let b), .blob(let b): b
        default: nil
        }
    }

    /// The items of a `.list` or `.tuple`.
    public var sequenceValue: [Value]? {
        switch self {
        case .list(let items), .tuple(let items): items
        default: nil
        }
    }

    /// The pairs of a `.dict` or `.kwargs`.
    public var dictValue: PyDict? {
        switch self {
        case .dict(let d), .kwargs(let d): d
        default: nil
        }
    }
}
