/// The pickle opcodes Mitogen's wire format uses: protocol 2, restricted to
/// what Mitogen's serialization rules produce (notes/mitogen-wire.md §3).
///
/// The byte values are CPython's (`pickletools` documents each one). Anything
/// not listed here is refused by the unpickler. Plain constants rather than
/// enum cases, so the unpickler's `switch` on a byte compiles to a jump table.
enum PickleOpcode {
    /// `\x80 n`: protocol version.
    static let proto: UInt8 = 0x80
    /// `.`: end of the pickle; the top of the stack is the result.
    static let stop: UInt8 = 0x2e
    /// `(`: pushes a mark for TUPLE / APPENDS / SETITEMS.
    static let mark: UInt8 = 0x28
    /// `N`: None.
    static let none: UInt8 = 0x4e
    /// `\x88`: True.
    static let newTrue: UInt8 = 0x88
    /// `\x89`: False.
    static let newFalse: UInt8 = 0x89
    /// `K u8`.
    static let binInt1: UInt8 = 0x4b
    /// `M u16le`.
    static let binInt2: UInt8 = 0x4d
    /// `J i32le`.
    static let binInt: UInt8 = 0x4a
    /// `\x8a u8 bytes`: little-endian two's complement int.
    static let long1: UInt8 = 0x8a
    /// `\x8b i32le bytes`.
    static let long4: UInt8 = 0x8b
    /// `G f64be`.
    static let binFloat: UInt8 = 0x47
    /// `X u32le utf8`: str.
    static let binUnicode: UInt8 = 0x58
    /// `U u8 bytes`: Python 2 str; bytes under Mitogen's `encoding='bytes'`.
    static let shortBinString: UInt8 = 0x55
    /// `T i32le bytes`: same, long form (Mitogen's top-level bytes).
    static let binString: UInt8 = 0x54
    /// `)`.
    static let emptyTuple: UInt8 = 0x29
    /// `\x85`.
    static let tuple1: UInt8 = 0x85
    /// `\x86`.
    static let tuple2: UInt8 = 0x86
    /// `\x87`.
    static let tuple3: UInt8 = 0x87
    /// `t`: tuple of everything above the last mark.
    static let tuple: UInt8 = 0x74
    /// `]`.
    static let emptyList: UInt8 = 0x5d
    /// `a`: appends the top to the list below it.
    static let append: UInt8 = 0x61
    /// `e`: appends everything above the mark to the list below the mark.
    static let appends: UInt8 = 0x65
    /// `}`.
    static let emptyDict: UInt8 = 0x7d
    /// `s`: sets key, value (the top two) in the dict below them.
    static let setItem: UInt8 = 0x73
    /// `u`: sets every pair above the mark in the dict below the mark.
    static let setItems: UInt8 = 0x75
    /// `c module\n name\n`: pushes an allow-listed callable.
    static let global: UInt8 = 0x63
    /// `R`: calls the callable below the top with the argument tuple on top.
    static let reduce: UInt8 = 0x52
    /// `q u8`: memoizes the top.
    static let binPut: UInt8 = 0x71
    /// `r u32le`.
    static let longBinPut: UInt8 = 0x72
    /// `h u8`: pushes a memoized object.
    static let binGet: UInt8 = 0x68
    /// `j u32le`.
    static let longBinGet: UInt8 = 0x6a
}

/// Items per APPENDS / SETITEMS batch, as CPython's pickler writes them.
let pickleBatchSize = 1000

/// The callables a pickle may name with GLOBAL: Mitogen's allow-list
/// (`Message._find_global` in mitogen/core.py 0.3.54) plus our documented
/// extension for set and frozenset (DESIGN §3).
///
/// Mitogen refuses `__builtin__ set` / `frozenset` at the receiver, so a set
/// sent to a Python peer fails there with `cannot unpickle '__builtin__'/'set'`;
/// between Swift contexts, and for plain `pickle.loads`, it works.
enum PickleGlobal: Int, CaseIterable {
    /// `mitogen.core _unpickle_context(id, name)` → Context.
    case unpickleContext
    /// `mitogen.core _unpickle_sender(context_id, handle)` → Sender.
    case unpickleSender
    /// `mitogen.core _unpickle_call_error(text)` (alias `CallError`) → CallError.
    case unpickleCallError
    /// `mitogen.core Blob(bytes)`.
    case blob
    /// `mitogen.core Secret(str)`.
    case secret
    /// `mitogen.core Kwargs(dict)`.
    case kwargs
    /// `_codecs encode(text, 'latin1')`: CPython's protocol-2 form of nested bytes.
    case codecsEncode
    /// `__builtin__ bytes()`: CPython's protocol-2 form of nested `b''`.
    case builtinBytes
    /// `__builtin__ set(list)` (or `builtins set`, as Python 3 writes it without fix_imports).
    case set
    /// `__builtin__ frozenset(list)` (or `builtins frozenset`).
    case frozenset

    /// The module and name the pickler writes.
    var module: String {
        switch self {
        case .unpickleContext, .unpickleSender, .unpickleCallError, .blob, .secret, .kwargs: "mitogen.core"
        case .codecsEncode: "_codecs"
        case .builtinBytes, .set, .frozenset: "__builtin__"
        }
    }

    var name: String {
        switch self {
        case .unpickleContext: "_unpickle_context"
        case .unpickleSender: "_unpickle_sender"
        case .unpickleCallError: "_unpickle_call_error"
        case .blob: "Blob"
        case .secret: "Secret"
        case .kwargs: "Kwargs"
        case .codecsEncode: "encode"
        case .builtinBytes: "bytes"
        case .set: "set"
        case .frozenset: "frozenset"
        }
    }

    /// `"mitogen.core.Kwargs"`, for error texts.
    var qualifiedName: String { module + "." + name }

    /// The GLOBAL operand bytes: `module\nname\n`.
    var operand: [UInt8] { Self.operands[rawValue] }

    private static let operands: [[UInt8]] = allCases.map { Array(($0.module + "\n" + $0.name + "\n").utf8) }

    /// Looks up an allowed callable by its GLOBAL operand bytes
    /// (`module\nname\n`), aliases included; nil means refused.
    init?(operand: UnsafeBufferPointer<UInt8>) {
        for (bytes, callable) in Self.operandTable where bytes.count == operand.count {
            if bytes.withUnsafeBufferPointer({ $0.elementsEqual(operand) }) {
                self = callable
                return
            }
        }
        return nil
    }

    /// Every accepted operand: the written ones, then the aliases.
    private static let operandTable: [([UInt8], PickleGlobal)] =
        allCases.map { ($0.operand, $0) }
        + [
            (Array("mitogen.core\nCallError\n".utf8), .unpickleCallError),
            (Array("builtins\nset\n".utf8), .set),
            (Array("builtins\nfrozenset\n".utf8), .frozenset),
        ]
}
