/// A type that maps straight to one `Value`, bypassing `Codable`'s containers.
///
/// `ValueEncoder` and `ValueDecoder` check for this protocol before anything
/// else, so a conforming type crosses the wire as exactly the `Value` it
/// names: Mitogen's own objects (`Blob`, `Secret`, `Kwargs` here; `Context`,
/// `Sender` and `CallError` in Core) become the pickle objects CPython expects
/// rather than dicts of their fields.
///
/// `userInfo` is the decoder's: Core puts the router there so that a decoded
/// `Context` can be resolved to the router's canonical one.
public protocol ValueConvertible {
    /// The value this instance crosses the wire as.
    var pickleValue: Value { get }

    /// Rebuilds an instance from a received value.
    ///
    /// - Throws: a `DecodingError` (use `valueMismatch(expected:got:)`) when
    ///   `pickleValue` is not something this type can be made from. The decoder
    ///   fills in the coding path when the error carries none.
    init(pickleValue: Value, userInfo: [CodingUserInfoKey: any Sendable]) throws
}

extension ValueConvertible {
    /// The error to throw from `init(pickleValue:userInfo:)` when the value has
    /// the wrong Python type: "expected mitogen.core.Blob, got str".
    public static func valueMismatch(expected: String, got value: Value) -> DecodingError {
        DecodingError.typeMismatch(
            Self.self,
            DecodingError.Context(codingPath: [], debugDescription: "expected \(expected), got \(value.typeName)")
        )
    }
}

// MARK: - Value itself

extension Value: ValueConvertible {
    public var pickleValue: Value { self }
    public init(pickleValue: Value, userInfo: [CodingUserInfoKey: any Sendable]) { self = pickleValue }
}

/// `Value` is `Codable` only so that it can sit inside the caller's `Codable`
/// types (`struct Reply: Codable { var extra: Value }`). Only `ValueEncoder`
/// and `ValueDecoder` can carry it; any other coder gets a clear error (for
/// JSON text use `Value.jsonText`).
extension Value: Codable {
    public init(from decoder: any Decoder) throws {
        guard let ours = decoder as? _ValueDecoderImpl else {
            throw DecodingError.dataCorrupted(
                DecodingError.Context(
                    codingPath: decoder.codingPath,
                    debugDescription: "MitogenLib.Value can only be decoded by ValueDecoder, not by \(type(of: decoder))"
                )
            )
        }
        self = ours.value
    }

    public func encode(to encoder: any Encoder) throws {
        guard let ours = encoder as? _ValueEncoderImpl else {
            throw EncodingError.invalidValue(
                self,
                EncodingError.Context(
                    codingPath: encoder.codingPath,
                    debugDescription:
                        "MitogenLib.Value can only be encoded by ValueEncoder, not by \(type(of: encoder)); "
                        + "encode your own Codable type instead, or print the value with Value.pythonRepr"
                )
            )
        }
        ours.node.set(self)
    }
}

// MARK: - Mitogen's wrapper types

/// `mitogen.core.Blob`: bytes whose repr hides their content, so that large or
/// sensitive payloads do not flood logs. Crosses the wire as `Value.blob`;
/// decodes from `.blob` or plain `.bytes`.
///
/// With a coder other than ours it encodes as its byte array.
public struct Blob: Sendable, Hashable, Codable, ValueConvertible, CustomStringConvertible {
    public var bytes: [UInt8]

    public init(_ bytes: [UInt8]) { self.bytes = bytes }

    /// `[blob: N bytes]`, as Mitogen's repr.
    public var description: String { "[blob: \(bytes.count) bytes]" }

    public var pickleValue: Value { .blob(bytes) }

    public init(pickleValue: Value, userInfo: [CodingUserInfoKey: any Sendable]) throws {
        guard let bytes = pickleValue.bytesValue else {
            throw Self.valueMismatch(expected: "mitogen.core.Blob or bytes", got: pickleValue)
        }
        self.bytes = bytes
    }

    public init(from decoder: any Decoder) throws {
        bytes = try decoder.singleValueContainer().decode([UInt8].self)
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(bytes)
    }
}

/// `mitogen.core.Secret`: a string whose repr hides its content (passwords).
/// Crosses the wire as `Value.secret`; decodes from `.secret` or plain `.str`.
///
/// With a coder other than ours it encodes as its string: choose the coder
/// knowingly.
public struct Secret: Sendable, Hashable, Codable, ValueConvertible, CustomStringConvertible, CustomReflectable {
    public var value: String

    public init(_ value: String) { self.value = value }

    /// `[secret]`, never the content.
    public var description: String { "[secret]" }

    /// No children: `dump()` and other reflection show `[secret]` only, so a
    /// value that holds a password (a connection method) cannot print it.
    public var customMirror: Mirror { Mirror(self, children: [:]) }

    public var pickleValue: Value { .secret(value) }

    public init(pickleValue: Value, userInfo: [CodingUserInfoKey: any Sendable]) throws {
        guard let text = pickleValue.stringValue else {
            throw Self.valueMismatch(expected: "mitogen.core.Secret or str", got: pickleValue)
        }
        value = text
    }

    public init(from decoder: any Decoder) throws {
        value = try decoder.singleValueContainer().decode(String.self)
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(value)
    }
}

/// `mitogen.core.Kwargs`: the keyword arguments of a call, a dict whose bytes
/// keys Mitogen turns into str. Crosses the wire as `Value.kwargs`; decodes
/// from `.kwargs` or plain `.dict`.
///
/// Like `Value`, it can only be carried by `ValueEncoder`/`ValueDecoder`.
public struct Kwargs: Sendable, Hashable, Codable, ValueConvertible {
    public var dict: PyDict

    public init(_ dict: PyDict = PyDict()) { self.dict = dict }

    public var pickleValue: Value { .kwargs(dict) }

    public init(pickleValue: Value, userInfo: [CodingUserInfoKey: any Sendable]) throws {
        guard let dict = pickleValue.dictValue else {
            throw Self.valueMismatch(expected: "mitogen.core.Kwargs or dict", got: pickleValue)
        }
        self.dict = dict
    }

    public init(from decoder: any Decoder) throws {
        try self.init(pickleValue: Value(from: decoder), userInfo: [:])
    }

    public func encode(to encoder: any Encoder) throws {
        try pickleValue.encode(to: encoder)
    }
}
