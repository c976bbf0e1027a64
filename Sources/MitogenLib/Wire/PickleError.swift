/// Why a pickle could not be decoded: what failed, and where.
///
/// `reason` uses Mitogen's own words where Mitogen has them, so a message
/// logged on either side reads the same: `cannot unpickle 'os'/'system'`,
/// `Required length 0..9999, got 10000`, `unhashable type: 'list'`. When the
/// failure belongs to an opcode, `opcode` and `offset` say which byte of the
/// pickle it was, and `description` appends them:
///
///     cannot unpickle 'os'/'system' (opcode 0x63 'c' at offset 2)
public struct PickleError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The kind of failure. A struct over an internal enum, so kinds can be
    /// added without breaking callers that switch on the known ones.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        enum Kind: Hashable, Sendable {
            case truncated, unknownOpcode, malformed, forbiddenGlobal, invalidArgument, unhashable
            case limitExceeded, binaryMessage
        }
        let kind: Kind

        /// The input ends inside an opcode, or before STOP.
        public static let truncated = Code(kind: .truncated)
        /// A byte that is not an opcode of Mitogen's pickle subset.
        public static let unknownOpcode = Code(kind: .unknownOpcode)
        /// Well-formed opcodes in an impossible order: stack underflow, missing
        /// mark, memo reference to nothing, extra stack at STOP, bad UTF-8...
        public static let malformed = Code(kind: .malformed)
        /// A GLOBAL outside Mitogen's allow-list (Mitogen's `StreamError`).
        public static let forbiddenGlobal = Code(kind: .forbiddenGlobal)
        /// An allowed callable got arguments it refuses (Mitogen's TypeError /
        /// ValueError, which it reports as `invalid message: ...`).
        public static let invalidArgument = Code(kind: .invalidArgument)
        /// A list, dict or set used as a dict key or set member.
        public static let unhashable = Code(kind: .unhashable)
        /// A `PickleLimits` bound was exceeded.
        public static let limitExceeded = Code(kind: .limitExceeded)
        /// `Message.decodeValue` on a message whose encoding is `.binary`.
        public static let binaryMessage = Code(kind: .binaryMessage)

        public var description: String {
            switch kind {
            case .truncated: "truncated"
            case .unknownOpcode: "unknownOpcode"
            case .malformed: "malformed"
            case .forbiddenGlobal: "forbiddenGlobal"
            case .invalidArgument: "invalidArgument"
            case .unhashable: "unhashable"
            case .limitExceeded: "limitExceeded"
            case .binaryMessage: "binaryMessage"
            }
        }
    }

    public let code: Code
    /// What failed and why, without the position.
    public let reason: String
    /// The opcode byte being decoded when it failed, if any.
    public let opcode: UInt8?
    /// Offset of that opcode from the start of the decoded bytes.
    public let offset: Int?

    public init(_ code: Code, _ reason: String, opcode: UInt8? = nil, offset: Int? = nil) {
        self.code = code
        self.reason = reason
        self.opcode = opcode
        self.offset = offset
    }

    public var description: String {
        guard let offset else { return reason }
        guard let opcode else { return "\(reason) (at offset \(offset))" }
        var name = ""
        if (0x21..<0x7f).contains(opcode) { name = " '\(Character(Unicode.Scalar(opcode)))'" }
        return "\(reason) (opcode \(hexByte(opcode))\(name) at offset \(offset))"
    }
}

/// `0x0a` style text of a byte.
func hexByte(_ b: UInt8) -> String {
    let digits = Array("0123456789abcdef")
    return "0x" + String(digits[Int(b >> 4)]) + String(digits[Int(b & 0xf)])
}
