/// Turns a received `Value` into any `Decodable`, directly: the mirror of
/// `ValueEncoder`, and as lenient as Python would be where that is safe.
///
/// Accepted forms, beyond the exact mirror of the encoder:
/// - a keyed container reads a `.dict` or `.kwargs`; `[Int: X]` reads int keys
///   (and str keys that spell ints); a missing key decodes an Optional as nil.
/// - an unkeyed container reads `.list`, `.tuple`, `.set`, `.frozenset`, and
///   `.bytes`/`.blob` as a sequence of small ints (so Foundation's
///   `Data(from:)` works without this file importing Foundation).
/// - integers read `.int` and `.bigInt` when the value fits the type; a
///   `bool` is not an int here (stricter than Python, to catch mistakes).
/// - `Double`/`Float` read `.float` and `.int`; `String` reads `.str` and
///   `.secret`; `[UInt8]` reads `.bytes`, `.blob` or a list of ints.
/// - a `ValueConvertible` type is built by its `init(pickleValue:userInfo:)`.
///
/// Every error is a `DecodingError` whose `codingPath` is set and whose
/// `debugDescription` names the place in dotted form:
/// `expected int at "servers[2].port", got str`.
public struct ValueDecoder {
    /// Handed to every `init(from:)` as `Decoder.userInfo`, and to
    /// `ValueConvertible.init(pickleValue:userInfo:)`.
    public var userInfo: [CodingUserInfoKey: any Sendable] = [:]

    public init() {}

    /// Decodes a `T` from `value`.
    ///
    /// - Throws: `DecodingError` naming the path and the expected and actual
    ///   Python types, or the error the type's own `init(from:)` throws.
    public func decode<T: Decodable>(_ type: T.Type, from value: Value) throws -> T {
        try _ValueDecoderImpl(value: value, codingPath: [], userInfo: userInfo).unbox(type)
    }
}

// MARK: - Coding keys and paths

/// The keys this module makes itself: array indexes and `super`.
struct _ValueCodingKey: CodingKey {
    let stringValue: String
    let intValue: Int?
    /// True for an index into an unkeyed container: printed as `[n]`.
    let isIndex: Bool

    init(stringValue: String) {
        self.stringValue = stringValue
        intValue = nil
        isIndex = false
    }

    init(intValue: Int) {
        stringValue = String(intValue)
        self.intValue = intValue
        isIndex = false
    }

    init(index: Int) {
        stringValue = "Index \(index)"
        intValue = index
        isIndex = true
    }

    static let superKey = _ValueCodingKey(stringValue: "super")
}

/// A coding path as people write it: `servers[2].port`, `env["LANG"]`,
/// `"the top level"` for an empty path.
///
/// Array indexes and int dict keys print in brackets; string keys that are
/// identifiers print dotted, others as quoted subscripts.
func describeCodingPath(_ path: [any CodingKey]) -> String {
    if path.isEmpty { return "the top level" }
    var text = ""
    for key in path {
        if let index = key as? _ValueCodingKey, index.isIndex {
            text += "[\(index.intValue ?? 0)]"
        } else if let i = key.intValue, key.stringValue == String(i) {
            text += "[\(i)]"
        } else if isIdentifier(key.stringValue) {
            text += text.isEmpty ? key.stringValue : "." + key.stringValue
        } else {
            text += "[" + Value.str(key.stringValue).pythonRepr + "]"
        }
    }
    return "\"\(text)\""
}

private func isIdentifier(_ s: String) -> Bool {
    guard let first = s.unicodeScalars.first, !("0"..."9").contains(first) else { return false }
    return s.unicodeScalars.allSatisfy { $0 == "_" || $0.properties.isAlphabetic || ("0"..."9").contains($0) }
}

// MARK: - Decoder

/// The `Decoder` handed to `init(from:)`: one per decoded value.
final class _ValueDecoderImpl: Decoder {
    let value: Value
    let codingPath: [any CodingKey]
    let sendableUserInfo: [CodingUserInfoKey: any Sendable]
    var userInfo: [CodingUserInfoKey: Any] { sendableUserInfo.mapValues { $0 as Any } }

    init(value: Value, codingPath: [any CodingKey], userInfo: [CodingUserInfoKey: any Sendable]) {
        self.value = value
        self.codingPath = codingPath
        self.sendableUserInfo = userInfo
    }

    /// A decoder for a value found under `key`.
    func child(_ value: Value, key: any CodingKey) -> _ValueDecoderImpl {
        _ValueDecoderImpl(value: value, codingPath: codingPath + [key], userInfo: sendableUserInfo)
    }

    /// Decodes this decoder's value as `T`, taking the special cases first.
    func unbox<T: Decodable>(_ type: T.Type) throws -> T {
        if let convertible = T.self as? any ValueConvertible.Type {
            do {
                return try convertible.init(pickleValue: value, userInfo: sendableUserInfo) as! T
            } catch let error as DecodingError {
                throw relocated(error)
            } catch {
                throw DecodingError.dataCorrupted(
                    DecodingError.Context(
                        codingPath: codingPath,
                        debugDescription: "cannot make \(T.self) at \(describeCodingPath(codingPath)): \(error)",
                        underlyingError: error
                    )
                )
            }
        }
        if T.self == [UInt8].self, let bytes = value.bytesValue { return bytes as! T }
        if _isFoundationData(T.self), value.bytesValue == nil, value.sequenceValue == nil {
            throw mismatch(T.self, expected: "bytes")
        }
        return try T(from: self)
    }

    /// A `ValueConvertible` error made at the top of its value: give it our path.
    private func relocated(_ error: DecodingError) -> DecodingError {
        func fix(_ c: DecodingError.Context) -> DecodingError.Context {
            guard c.codingPath.isEmpty, !codingPath.isEmpty else { return c }
            return DecodingError.Context(
                codingPath: codingPath,
                debugDescription: c.debugDescription.replacingFirst(
                    ", got",
                    with: " at \(describeCodingPath(codingPath)), got"
                ),
                underlyingError: c.underlyingError
            )
        }
        switch error {
        case .typeMismatch(let t, let c): return .typeMismatch(t, fix(c))
        case .valueNotFound(let t, let c): return .valueNotFound(t, fix(c))
        case .keyNotFound(let k, let c): return .keyNotFound(k, fix(c))
        case .dataCorrupted(let c): return .dataCorrupted(fix(c))
        @unknown default: return error
        }
    }

    func context(_ message: String) -> DecodingError.Context {
        DecodingError.Context(codingPath: codingPath, debugDescription: message)
    }

    /// The error for a value of the wrong Python type (`None` is its own case,
    /// so that Optional-aware callers can tell "absent" from "wrong").
    func mismatch(_ type: Any.Type, expected: String) -> DecodingError {
        let message = "expected \(expected) at \(describeCodingPath(codingPath)), got \(value.typeName)"
        return value.isNone ? .valueNotFound(type, context(message)) : .typeMismatch(type, context(message))
    }

    func container<Key: CodingKey>(keyedBy type: Key.Type) throws -> KeyedDecodingContainer<Key> {
        guard let dict = value.dictValue else { throw mismatch([String: Any].self, expected: "dict") }
        return KeyedDecodingContainer(_KeyedDecoding<Key>(decoder: self, dict: dict))
    }

    func unkeyedContainer() throws -> any UnkeyedDecodingContainer {
        switch value {
        case .list(let items), .tuple(let items), .set(let items), .frozenset(let items):
            return _UnkeyedDecoding(decoder: self, items: .values(items))
        case .bytes(let bytes), .blob(let bytes):
            return _UnkeyedDecoding(decoder: self, items: .bytes(bytes))
        default:
            throw mismatch([Any].self, expected: "list")
        }
    }

    func singleValueContainer() throws -> any SingleValueDecodingContainer { _SingleValueDecoding(decoder: self) }
}

// MARK: - Primitive mapping

extension _ValueDecoderImpl {
    func decodeBool() throws -> Bool {
        guard case .bool(let b) = value else { throw mismatch(Bool.self, expected: "bool") }
        return b
    }

    func decodeString() throws -> String {
        switch value {
        case .str(let s), .secret(let s): return s
        default: throw mismatch(String.self, expected: "str")
        }
    }

    func decodeDouble() throws -> Double {
        switch value {
        case .float(let d): return d
        case .int(let i): return Double(i)
        default: throw mismatch(Double.self, expected: "float")
        }
    }

    /// An integer of type `I`, range-checked.
    func decodeInteger<I: FixedWidthInteger>(_ type: I.Type) throws -> I {
        let fitted: I?
        switch value {
        case .int(let i): fitted = I(exactly: i)
        case .bigInt(let n): fitted = Self.fit(n, as: I.self)
        default: throw mismatch(I.self, expected: "int")
        }
        guard let fitted else {
            let text = if case .int(let i) = value { String(i) } else if case .bigInt(let n) = value { n.description } else { "?" }
            throw DecodingError.dataCorrupted(
                context("int \(text) at \(describeCodingPath(codingPath)) does not fit in \(I.self)")
            )
        }
        return fitted
    }

    /// `n` as an `I` when it is within range.
    static func fit<I: FixedWidthInteger>(_ n: LargeInt, as type: I.Type) -> I? {
        if n.isNegative && !I.isSigned { return nil }
        var bytes = n.bytes[...]
        // A positive number's minimal form may end in a sign byte an unsigned type does not need.
        if !I.isSigned, bytes.last == 0 { bytes = bytes.dropLast() }
        guard bytes.count <= I.bitWidth / 8 else { return nil }
        var result: I = 0
        for (i, byte) in bytes.enumerated() { result |= I(truncatingIfNeeded: byte) << (8 * i) }
        if n.isNegative {
            for i in bytes.count..<(I.bitWidth / 8) { result |= I(truncatingIfNeeded: 0xff as UInt8) << (8 * i) }
        }
        return result
    }
}

extension String {
    /// The string with the first occurrence of `target` replaced.
    fileprivate func replacingFirst(_ target: String, with replacement: String) -> String {
        guard let range = firstRange(of: target) else { return self }
        return self[..<range.lowerBound] + replacement + self[range.upperBound...]
    }
}

// MARK: - Containers

struct _KeyedDecoding<Key: CodingKey>: KeyedDecodingContainerProtocol {
    let decoder: _ValueDecoderImpl
    let dict: PyDict
    var codingPath: [any CodingKey] { decoder.codingPath }

    var allKeys: [Key] {
        dict.keys.compactMap { key in
            switch key {
            case .str(let s): Key(stringValue: s)
            case .int(let i): Key(intValue: i) ?? Key(stringValue: String(i))
            default: nil
            }
        }
    }

    private func lookup(_ key: Key) -> Value? {
        if let v = dict[.str(key.stringValue)] { return v }
        if let i = key.intValue { return dict[.int(i)] }
        return nil
    }

    func contains(_ key: Key) -> Bool { lookup(key) != nil }

    private func child(_ key: Key) throws -> _ValueDecoderImpl {
        guard let value = lookup(key) else {
            throw DecodingError.keyNotFound(
                key,
                DecodingError.Context(
                    codingPath: codingPath,
                    debugDescription: "missing key \(Value.str(key.stringValue).pythonRepr) at "
                        + describeCodingPath(codingPath)
                )
            )
        }
        return decoder.child(value, key: key)
    }

    func decodeNil(forKey key: Key) throws -> Bool { try child(key).value.isNone }
    func decode(_ type: Bool.Type, forKey key: Key) throws -> Bool { try child(key).decodeBool() }
    func decode(_ type: String.Type, forKey key: Key) throws -> String { try child(key).decodeString() }
    func decode(_ type: Double.Type, forKey key: Key) throws -> Double { try child(key).decodeDouble() }
    func decode(_ type: Float.Type, forKey key: Key) throws -> Float { Float(try child(key).decodeDouble()) }
    func decode(_ type: Int.Type, forKey key: Key) throws -> Int { try child(key).decodeInteger(type) }
    func decode(_ type: Int8.Type, forKey key: Key) throws -> Int8 { try child(key).decodeInteger(type) }
    func decode(_ type: Int16.Type, forKey key: Key) throws -> Int16 { try child(key).decodeInteger(type) }
    func decode(_ type: Int32.Type, forKey key: Key) throws -> Int32 { try child(key).decodeInteger(type) }
    func decode(_ type: Int64.Type, forKey key: Key) throws -> Int64 { try child(key).decodeInteger(type) }
    func decode(_ type: Int128.Type, forKey key: Key) throws -> Int128 { try child(key).decodeInteger(type) }
    func decode(_ type: UInt.Type, forKey key: Key) throws -> UInt { try child(key).decodeInteger(type) }
    func decode(_ type: UInt8.Type, forKey key: Key) throws -> UInt8 { try child(key).decodeInteger(type) }
    func decode(_ type: UInt16.Type, forKey key: Key) throws -> UInt16 { try child(key).decodeInteger(type) }
    func decode(_ type: UInt32.Type, forKey key: Key) throws -> UInt32 { try child(key).decodeInteger(type) }
    func decode(_ type: UInt64.Type, forKey key: Key) throws -> UInt64 { try child(key).decodeInteger(type) }
    func decode(_ type: UInt128.Type, forKey key: Key) throws -> UInt128 { try child(key).decodeInteger(type) }
    func decode<T: Decodable>(_ type: T.Type, forKey key: Key) throws -> T { try child(key).unbox(type) }

    func nestedContainer<NestedKey: CodingKey>(keyedBy type: NestedKey.Type, forKey key: Key) throws
        -> KeyedDecodingContainer<NestedKey>
    {
        try child(key).container(keyedBy: type)
    }

    func nestedUnkeyedContainer(forKey key: Key) throws -> any UnkeyedDecodingContainer {
        try child(key).unkeyedContainer()
    }

    func superDecoder() throws -> any Decoder {
        let key = _ValueCodingKey.superKey
        return decoder.child(dict[.str(key.stringValue)] ?? .none, key: key)
    }

    func superDecoder(forKey key: Key) throws -> any Decoder {
        decoder.child(lookup(key) ?? .none, key: key)
    }
}

struct _UnkeyedDecoding: UnkeyedDecodingContainer {
    enum Items {
        case values([Value])
        /// Python bytes iterate as small ints.
        case bytes([UInt8])
    }

    let decoder: _ValueDecoderImpl
    let items: Items
    private(set) var currentIndex = 0

    init(decoder: _ValueDecoderImpl, items: Items) {
        self.decoder = decoder
        self.items = items
    }

    var codingPath: [any CodingKey] { decoder.codingPath }

    var count: Int? {
        switch items {
        case .values(let v): v.count
        case .bytes(let b): b.count
        }
    }

    var isAtEnd: Bool { currentIndex >= count! }

    /// A decoder for the next element; advances past it.
    private mutating func next(_ type: Any.Type) throws -> _ValueDecoderImpl {
        let key = _ValueCodingKey(index: currentIndex)
        guard !isAtEnd else {
            throw DecodingError.valueNotFound(
                type,
                DecodingError.Context(
                    codingPath: codingPath + [key],
                    debugDescription: "expected another element at \(describeCodingPath(codingPath + [key])), "
                        + "but the sequence has only \(count!)"
                )
            )
        }
        let value: Value =
            switch items {
            case .values(let v): v[currentIndex]
            case .bytes(let b): .int(Int(b[currentIndex]))
            }
        currentIndex += 1
        return decoder.child(value, key: key)
    }

    mutating func decodeNil() throws -> Bool {
        guard !isAtEnd, case .values(let v) = items, v[currentIndex].isNone else { return false }
        currentIndex += 1
        return true
    }

    mutating func decode(_ type: Bool.Type) throws -> Bool { try next(type).decodeBool() }
    mutating func decode(_ type: String.Type) throws -> String { try next(type).decodeString() }
    mutating func decode(_ type: Double.Type) throws -> Double { try next(type).decodeDouble() }
    mutating func decode(_ type: Float.Type) throws -> Float { Float(try next(type).decodeDouble()) }
    mutating func decode(_ type: Int.Type) throws -> Int { try next(type).decodeInteger(type) }
    mutating func decode(_ type: Int8.Type) throws -> Int8 { try next(type).decodeInteger(type) }
    mutating func decode(_ type: Int16.Type) throws -> Int16 { try next(type).decodeInteger(type) }
    mutating func decode(_ type: Int32.Type) throws -> Int32 { try next(type).decodeInteger(type) }
    mutating func decode(_ type: Int64.Type) throws -> Int64 { try next(type).decodeInteger(type) }
    mutating func decode(_ type: Int128.Type) throws -> Int128 { try next(type).decodeInteger(type) }
    mutating func decode(_ type: UInt.Type) throws -> UInt { try next(type).decodeInteger(type) }
    mutating func decode(_ type: UInt8.Type) throws -> UInt8 {
        if case .bytes(let b) = items, currentIndex < b.count {
            defer { currentIndex += 1 }
            return b[currentIndex]
        }
        return try next(type).decodeInteger(type)
    }
    mutating func decode(_ type: UInt16.Type) throws -> UInt16 { try next(type).decodeInteger(type) }
    mutating func decode(_ type: UInt32.Type) throws -> UInt32 { try next(type).decodeInteger(type) }
    mutating func decode(_ type: UInt64.Type) throws -> UInt64 { try next(type).decodeInteger(type) }
    mutating func decode(_ type: UInt128.Type) throws -> UInt128 { try next(type).decodeInteger(type) }
    mutating func decode<T: Decodable>(_ type: T.Type) throws -> T {
        if T.self == UInt8.self { return try decode(UInt8.self) as! T }
        return try next(type).unbox(type)
    }

    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy type: NestedKey.Type) throws
        -> KeyedDecodingContainer<NestedKey>
    {
        try next([String: Any].self).container(keyedBy: type)
    }

    mutating func nestedUnkeyedContainer() throws -> any UnkeyedDecodingContainer {
        try next([Any].self).unkeyedContainer()
    }

    mutating func superDecoder() throws -> any Decoder { try next(Any.self) }
}

struct _SingleValueDecoding: SingleValueDecodingContainer {
    let decoder: _ValueDecoderImpl
    var codingPath: [any CodingKey] { decoder.codingPath }

    func decodeNil() -> Bool { decoder.value.isNone }
    func decode(_ type: Bool.Type) throws -> Bool { try decoder.decodeBool() }
    func decode(_ type: String.Type) throws -> String { try decoder.decodeString() }
    func decode(_ type: Double.Type) throws -> Double { try decoder.decodeDouble() }
    func decode(_ type: Float.Type) throws -> Float { Float(try decoder.decodeDouble()) }
    func decode(_ type: Int.Type) throws -> Int { try decoder.decodeInteger(type) }
    func decode(_ type: Int8.Type) throws -> Int8 { try decoder.decodeInteger(type) }
    func decode(_ type: Int16.Type) throws -> Int16 { try decoder.decodeInteger(type) }
    func decode(_ type: Int32.Type) throws -> Int32 { try decoder.decodeInteger(type) }
    func decode(_ type: Int64.Type) throws -> Int64 { try decoder.decodeInteger(type) }
    func decode(_ type: Int128.Type) throws -> Int128 { try decoder.decodeInteger(type) }
    func decode(_ type: UInt.Type) throws -> UInt { try decoder.decodeInteger(type) }
    func decode(_ type: UInt8.Type) throws -> UInt8 { try decoder.decodeInteger(type) }
    func decode(_ type: UInt16.Type) throws -> UInt16 { try decoder.decodeInteger(type) }
    func decode(_ type: UInt32.Type) throws -> UInt32 { try decoder.decodeInteger(type) }
    func decode(_ type: UInt64.Type) throws -> UInt64 { try decoder.decodeInteger(type) }
    func decode(_ type: UInt128.Type) throws -> UInt128 { try decoder.decodeInteger(type) }
    func decode<T: Decodable>(_ type: T.Type) throws -> T { try decoder.unbox(type) }
}
