/// Turns any `Encodable` into a `Value`, directly (no JSON or other text in
/// between), so callers pass their own types to `call` and friends.
///
/// Mapping:
/// - a keyed container (structs, classes, enums with payloads, `[String: X]`)
///   becomes a `.dict` with `.str` keys in encode order; `[Int: X]` becomes a
///   `.dict` with `.int` keys. Dictionaries with any other key type follow
///   Swift's own rule and become a flat `.list` of key, value, key, value.
/// - an unkeyed container (arrays, sets) becomes a `.list`: Mitogen does not
///   allow Python sets on the wire, so a Swift `Set` arrives as a list.
/// - `nil` becomes `.none`; `encodeIfPresent` with `nil` leaves the key out.
/// - integers become `.int`, or `.bigInt` beyond 64 bits (`UInt64.max`,
///   `Int128`); `Float` and `Double` become `.float`.
/// - `[UInt8]` and Foundation's `Data` become `.bytes` (Data is recognised by
///   its type name, so this file needs no Foundation).
/// - a `ValueConvertible` (including `Value` itself, `Blob`, `Secret`,
///   `Kwargs`) becomes its `pickleValue`.
///
/// ```swift
/// struct Args: Codable { var path: String; var depth: Int? }
/// let v = try ValueEncoder().encode(Args(path: "/", depth: nil))  // {'path': '/'}
/// ```
public struct ValueEncoder {
    /// Handed to every `encode(to:)` as `Encoder.userInfo`.
    public var userInfo: [CodingUserInfoKey: any Sendable] = [:]

    public init() {}

    /// Encodes `value`.
    ///
    /// - Throws: `EncodingError.invalidValue` when a type's `encode(to:)`
    ///   produces nothing, or when something that is not a byte is written into
    ///   a `Data`; any error the type's own `encode(to:)` throws.
    public func encode<T: Encodable>(_ value: T) throws -> Value {
        try _ValueEncoderImpl.box(value, codingPath: [], userInfo: userInfo.mapValues { $0 as Any })
    }
}

// MARK: - The tree being built

/// One node of the value under construction. Containers hand out child nodes
/// and the tree is folded into a `Value` once the top-level `encode(to:)`
/// returns, so nested containers may be filled in any order.
final class _EncodingNode {
    enum Slot {
        case value(Value)
        case node(_EncodingNode)

        var built: Value? {
            switch self {
            case .value(let v): v
            case .node(let n): n.build()
            }
        }
    }

    /// What the node holds. Each kind keeps its items in its own stored
    /// array so that appends mutate in place (an enum payload would be copied
    /// on every append, making encoding quadratic).
    enum Kind {
        case empty
        case value
        /// Key/value pairs in encode order. A repeated key is kept here and
        /// replaces the earlier value in place when built (`PyDict`'s rule,
        /// and Python's), so appending stays O(1).
        case dict
        case list
        /// Collecting the bytes of a `Data`.
        case bytes
    }

    private(set) var kind: Kind = .empty
    private var value: Value = .none
    private var pairs: [(key: Value, slot: Slot)] = []
    private var slots: [Slot] = []
    private var bytes: [UInt8] = []

    func set(_ value: Value) {
        become(.value)
        self.value = value
    }

    /// Switches to `kind`, dropping what another kind held; keeps the items
    /// when the node already has that kind.
    func become(_ kind: Kind) {
        guard kind != self.kind else { return }
        self.kind = kind
        value = .none
        pairs = []
        slots = []
        bytes = []
    }

    func appendPair(_ key: Value, _ slot: Slot) { pairs.append((key, slot)) }
    func appendSlot(_ slot: Slot) { slots.append(slot) }
    func appendByte(_ byte: UInt8) { bytes.append(byte) }

    /// Items of a list or bytes node so far.
    var count: Int {
        switch kind {
        case .list: slots.count
        case .bytes: bytes.count
        default: 0
        }
    }

    /// Takes over what `other` holds (a single-value container encoding a
    /// nested value).
    func adopt(_ other: _EncodingNode) {
        kind = other.kind
        value = other.value
        pairs = other.pairs
        slots = other.slots
        bytes = other.bytes
    }

    /// The finished value, or nil when nothing was encoded.
    func build() -> Value? {
        switch kind {
        case .empty: return nil
        case .value: return value
        case .bytes: return .bytes(bytes)
        case .list: return .list(slots.map { $0.built ?? .none })
        case .dict:
            var d = PyDict()
            for (key, slot) in pairs { d[key] = slot.built ?? Value.none }
            return .dict(d)
        }
    }
}

/// Marks `[Int: X]`, which Swift encodes as a keyed container whose keys carry
/// `intValue`: those keys become Python ints rather than strs.
protocol _IntKeyedDictionary {}
extension Dictionary: _IntKeyedDictionary where Key == Int {}

/// True for Foundation's `Data` (it prints as `Foundation.Data` or, on Linux
/// with swift-foundation, `FoundationEssentials.Data`).
func _isFoundationData(_ type: Any.Type) -> Bool {
    let name = String(reflecting: type)
    return name == "Foundation.Data" || name == "FoundationEssentials.Data"
}

// MARK: - Encoder

/// The `Encoder` handed to `encode(to:)`: one per encoded value.
final class _ValueEncoderImpl: Encoder {
    struct Mode {
        /// Keys of keyed containers become `.int` (for `[Int: X]`).
        var intKeys = false
        /// The unkeyed container collects `UInt8`s into `.bytes` (for `Data`).
        var collectBytes = false
    }

    let codingPath: [any CodingKey]
    let userInfo: [CodingUserInfoKey: Any]
    let node: _EncodingNode
    let mode: Mode

    init(codingPath: [any CodingKey], userInfo: [CodingUserInfoKey: Any], node: _EncodingNode, mode: Mode) {
        self.codingPath = codingPath
        self.userInfo = userInfo
        self.node = node
        self.mode = mode
    }

    /// Encodes one value at `codingPath`, taking the special cases first.
    static func box<T: Encodable>(_ value: T, codingPath: [any CodingKey], userInfo: [CodingUserInfoKey: Any])
        throws -> Value
    {
        switch try slot(for: value, codingPath: codingPath, userInfo: userInfo) {
        case .value(let v): return v
        case .node(let node):
            guard let built = node.build() else {
                throw EncodingError.invalidValue(
                    value,
                    EncodingError.Context(
                        codingPath: codingPath,
                        debugDescription: "\(T.self) encoded nothing at \(describeCodingPath(codingPath))"
                    )
                )
            }
            return built
        }
    }

    /// Like `box`, but leaves a nested encoding as a node to be built later.
    static func slot<T: Encodable>(for value: T, codingPath: [any CodingKey], userInfo: [CodingUserInfoKey: Any])
        throws -> _EncodingNode.Slot
    {
        if let direct = value as? any ValueConvertible { return .value(direct.pickleValue) }
        // Decide by static type: an empty [String] would also cast to [UInt8].
        if T.self == [UInt8].self, let bytes = value as? [UInt8] { return .value(.bytes(bytes)) }
        var mode = Mode()
        mode.intKeys = T.self is any _IntKeyedDictionary.Type
        mode.collectBytes = _isFoundationData(T.self)
        let node = _EncodingNode()
        if mode.collectBytes { node.become(.bytes) }
        try value.encode(to: _ValueEncoderImpl(codingPath: codingPath, userInfo: userInfo, node: node, mode: mode))
        return .node(node)
    }

    func container<Key: CodingKey>(keyedBy type: Key.Type) -> KeyedEncodingContainer<Key> {
        node.become(.dict)
        return KeyedEncodingContainer(_KeyedEncoding<Key>(encoder: self, node: node))
    }

    func unkeyedContainer() -> any UnkeyedEncodingContainer {
        if node.kind != .bytes { node.become(.list) }
        return _UnkeyedEncoding(encoder: self, node: node)
    }

    func singleValueContainer() -> any SingleValueEncodingContainer {
        _SingleValueEncoding(encoder: self)
    }

    /// A child encoder for a nested container or `superEncoder`.
    func child(node: _EncodingNode, key: any CodingKey) -> _ValueEncoderImpl {
        _ValueEncoderImpl(codingPath: codingPath + [key], userInfo: userInfo, node: node, mode: Mode())
    }
}

// MARK: - Primitive mapping

extension _ValueEncoderImpl {
    /// A fixed-width integer as `.int` when it fits, else `.bigInt`.
    static func integer<I: FixedWidthInteger>(_ n: I) -> Value {
        if let small = Int(exactly: n) { return .int(small) }
        var raw: [UInt8] = []
        raw.reserveCapacity(I.bitWidth / 8 + 1)
        for i in 0..<(I.bitWidth / 8) { raw.append(UInt8(truncatingIfNeeded: n >> (8 * i))) }
        if !I.isSigned { raw.append(0) }  // the sign byte of a positive two's complement number
        return Value.integer(LargeInt(twosComplementLittleEndian: raw))
    }
}

// MARK: - Containers

struct _KeyedEncoding<Key: CodingKey>: KeyedEncodingContainerProtocol {
    let encoder: _ValueEncoderImpl
    let node: _EncodingNode
    var codingPath: [any CodingKey] { encoder.codingPath }

    private func dictKey(_ key: Key) -> Value {
        if encoder.mode.intKeys, let i = key.intValue { return .int(i) }
        return .str(key.stringValue)
    }

    private func put(_ slot: _EncodingNode.Slot, for key: Key) {
        guard node.kind == .dict else { return }
        node.appendPair(dictKey(key), slot)
    }

    mutating func encodeNil(forKey key: Key) throws { put(.value(.none), for: key) }
    mutating func encode(_ value: Bool, forKey key: Key) throws { put(.value(.bool(value)), for: key) }
    mutating func encode(_ value: String, forKey key: Key) throws { put(.value(.str(value)), for: key) }
    mutating func encode(_ value: Double, forKey key: Key) throws { put(.value(.float(value)), for: key) }
    mutating func encode(_ value: Float, forKey key: Key) throws { put(.value(.float(Double(value))), for: key) }
    mutating func encode(_ value: Int, forKey key: Key) throws { put(.value(.int(value)), for: key) }
    mutating func encode(_ value: Int8, forKey key: Key) throws { put(.value(.int(Int(value))), for: key) }
    mutating func encode(_ value: Int16, forKey key: Key) throws { put(.value(.int(Int(value))), for: key) }
    mutating func encode(_ value: Int32, forKey key: Key) throws { put(.value(.int(Int(value))), for: key) }
    mutating func encode(_ value: Int64, forKey key: Key) throws { put(.value(.int(Int(value))), for: key) }
    mutating func encode(_ value: Int128, forKey key: Key) throws {
        put(.value(_ValueEncoderImpl.integer(value)), for: key)
    }
    mutating func encode(_ value: UInt, forKey key: Key) throws {
        put(.value(_ValueEncoderImpl.integer(value)), for: key)
    }
    mutating func encode(_ value: UInt8, forKey key: Key) throws { put(.value(.int(Int(value))), for: key) }
    mutating func encode(_ value: UInt16, forKey key: Key) throws { put(.value(.int(Int(value))), for: key) }
    mutating func encode(_ value: UInt32, forKey key: Key) throws { put(.value(.int(Int(value))), for: key) }
    mutating func encode(_ value: UInt64, forKey key: Key) throws {
        put(.value(_ValueEncoderImpl.integer(value)), for: key)
    }
    mutating func encode(_ value: UInt128, forKey key: Key) throws {
        put(.value(_ValueEncoderImpl.integer(value)), for: key)
    }

    mutating func encode<T: Encodable>(_ value: T, forKey key: Key) throws {
        let slot = try _ValueEncoderImpl.slot(
            for: value,
            codingPath: codingPath + [key],
            userInfo: encoder.userInfo
        )
        put(slot, for: key)
    }

    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type, forKey key: Key)
        -> KeyedEncodingContainer<NestedKey>
    {
        let child = _EncodingNode()
        put(.node(child), for: key)
        return encoder.child(node: child, key: key).container(keyedBy: keyType)
    }

    mutating func nestedUnkeyedContainer(forKey key: Key) -> any UnkeyedEncodingContainer {
        let child = _EncodingNode()
        put(.node(child), for: key)
        return encoder.child(node: child, key: key).unkeyedContainer()
    }

    mutating func superEncoder() -> any Encoder {
        let child = _EncodingNode()
        let key = _ValueCodingKey.superKey
        if node.kind == .dict { node.appendPair(.str(key.stringValue), .node(child)) }
        return encoder.child(node: child, key: key)
    }

    mutating func superEncoder(forKey key: Key) -> any Encoder {
        let child = _EncodingNode()
        put(.node(child), for: key)
        return encoder.child(node: child, key: key)
    }
}

struct _UnkeyedEncoding: UnkeyedEncodingContainer {
    let encoder: _ValueEncoderImpl
    let node: _EncodingNode
    var codingPath: [any CodingKey] { encoder.codingPath }

    var count: Int { node.count }

    private func append(_ slot: _EncodingNode.Slot) throws {
        switch node.kind {
        case .list:
            node.appendSlot(slot)
        case .bytes:
            throw EncodingError.invalidValue(
                slot.built ?? Value.none,
                EncodingError.Context(
                    codingPath: codingPath + [_ValueCodingKey(index: node.count)],
                    debugDescription: "Data may only contain UInt8 elements"
                )
            )
        default:
            node.become(.list)
            node.appendSlot(slot)
        }
    }

    mutating func encodeNil() throws { try append(.value(.none)) }
    mutating func encode(_ value: Bool) throws { try append(.value(.bool(value))) }
    mutating func encode(_ value: String) throws { try append(.value(.str(value))) }
    mutating func encode(_ value: Double) throws { try append(.value(.float(value))) }
    mutating func encode(_ value: Float) throws { try append(.value(.float(Double(value)))) }
    mutating func encode(_ value: Int) throws { try append(.value(.int(value))) }
    mutating func encode(_ value: Int8) throws { try append(.value(.int(Int(value)))) }
    mutating func encode(_ value: Int16) throws { try append(.value(.int(Int(value)))) }
    mutating func encode(_ value: Int32) throws { try append(.value(.int(Int(value)))) }
    mutating func encode(_ value: Int64) throws { try append(.value(.int(Int(value)))) }
    mutating func encode(_ value: Int128) throws { try append(.value(_ValueEncoderImpl.integer(value))) }
    mutating func encode(_ value: UInt) throws { try append(.value(_ValueEncoderImpl.integer(value))) }
    mutating func encode(_ value: UInt8) throws {
        if node.kind == .bytes {
            node.appendByte(value)
        } else {
            try append(.value(.int(Int(value))))
        }
    }
    mutating func encode(_ value: UInt16) throws { try append(.value(.int(Int(value)))) }
    mutating func encode(_ value: UInt32) throws { try append(.value(.int(Int(value)))) }
    mutating func encode(_ value: UInt64) throws { try append(.value(_ValueEncoderImpl.integer(value))) }
    mutating func encode(_ value: UInt128) throws { try append(.value(_ValueEncoderImpl.integer(value))) }

    mutating func encode<T: Encodable>(_ value: T) throws {
        if T.self == UInt8.self, let byte = value as? UInt8, node.kind == .bytes { return try encode(byte) }
        let slot = try _ValueEncoderImpl.slot(
            for: value,
            codingPath: codingPath + [_ValueCodingKey(index: count)],
            userInfo: encoder.userInfo
        )
        try append(slot)
    }

    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type)
        -> KeyedEncodingContainer<NestedKey>
    {
        let child = _EncodingNode()
        let key = _ValueCodingKey(index: count)
        try? append(.node(child))
        return encoder.child(node: child, key: key).container(keyedBy: keyType)
    }

    mutating func nestedUnkeyedContainer() -> any UnkeyedEncodingContainer {
        let child = _EncodingNode()
        let key = _ValueCodingKey(index: count)
        try? append(.node(child))
        return encoder.child(node: child, key: key).unkeyedContainer()
    }

    mutating func superEncoder() -> any Encoder {
        let child = _EncodingNode()
        let key = _ValueCodingKey(index: count)
        try? append(.node(child))
        return encoder.child(node: child, key: key)
    }
}

struct _SingleValueEncoding: SingleValueEncodingContainer {
    let encoder: _ValueEncoderImpl
    var codingPath: [any CodingKey] { encoder.codingPath }

    private func set(_ value: Value) { encoder.node.set(value) }

    mutating func encodeNil() throws { set(.none) }
    mutating func encode(_ value: Bool) throws { set(.bool(value)) }
    mutating func encode(_ value: String) throws { set(.str(value)) }
    mutating func encode(_ value: Double) throws { set(.float(value)) }
    mutating func encode(_ value: Float) throws { set(.float(Double(value))) }
    mutating func encode(_ value: Int) throws { set(.int(value)) }
    mutating func encode(_ value: Int8) throws { set(.int(Int(value))) }
    mutating func encode(_ value: Int16) throws { set(.int(Int(value))) }
    mutating func encode(_ value: Int32) throws { set(.int(Int(value))) }
    mutating func encode(_ value: Int64) throws { set(.int(Int(value))) }
    mutating func encode(_ value: Int128) throws { set(_ValueEncoderImpl.integer(value)) }
    mutating func encode(_ value: UInt) throws { set(_ValueEncoderImpl.integer(value)) }
    mutating func encode(_ value: UInt8) throws { set(.int(Int(value))) }
    mutating func encode(_ value: UInt16) throws { set(.int(Int(value))) }
    mutating func encode(_ value: UInt32) throws { set(.int(Int(value))) }
    mutating func encode(_ value: UInt64) throws { set(_ValueEncoderImpl.integer(value)) }
    mutating func encode(_ value: UInt128) throws { set(_ValueEncoderImpl.integer(value)) }

    mutating func encode<T: Encodable>(_ value: T) throws {
        let slot = try _ValueEncoderImpl.slot(for: value, codingPath: codingPath, userInfo: encoder.userInfo)
        switch slot {
        case .value(let v): set(v)
        case .node(let n): encoder.node.adopt(n)
        }
    }
}
