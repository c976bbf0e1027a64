/// The pickle opcodes Mitogen's wire format uses: protocol 2, restricted to
/// what Mitogen's serialization rules produce (notes/mitogen-wire.md §3).
///
/// The byte values are CPython's (`pickletools` documents each one). Anything
/// not listed here is refused by the unpickler.
enum PickleOpcode: UInt8 {
    /// `\x80 n`: protocol version.
    case proto = 0x80
    /// `.`: end of the pickle; the top of the stack is the result.
    case stop = 0x2e
    /// `(`: pushes a mark for TUPLE / APPENDS / SETITEMS.
    case mark = 0x28
    /// `N`: None.
    case none = 0x4e
    /// `\x88`: True.
    case newTrue = 0x88
    /// `\x89`: False.
    case newFalse = 0x89
    /// `K u8`.
    case binInt1 = 0x4b
    /// `M u16le`.
    case binInt2 = 0x4d
    /// `J i32le`.
    case binInt = 0x4a
    /// `\x8a u8 bytes`: little-endian two's complement int.
    case long1 = 0x8a
    /// `\x8b i32le bytes`.
    case long4 = 0x8b
    /// `G f64be`.
    case binFloat = 0x47
    /// `X u32le utf8`: str.
    case binUnicode = 0x58
    /// `U u8 bytes`: Python 2 str; bytes under Mitogen's `encoding='bytes'`.
    case shortBinString = 0x55
    /// `T i32le bytes`: same, long form (Mitogen's top-level bytes).
    case binString = 0x54
    /// `)`.
    case emptyTuple = 0x29
    /// `\x85`.
    case tuple1 = 0x85
    /// `\x86`.
    case tuple2 = 0x86
    /// `\x87`.
    case tuple3 = 0x87
    /// `t`: tuple of everything above the last mark.
    case tuple = 0x74
    /// `]`.
    case emptyList = 0x5d
    /// `a`: appends the top to the list below it.
    case append = 0x61
    /// `e`: appends everything above the mark to the list below the mark.
    case appends = 0x65
    /// `}`.
    case emptyDict = 0x7d
    /// `s`: sets key, value (the top two) in the dict below them.
    case setItem = 0x73
    /// `u`: sets every pair above the mark in the dict below the mark.
    case setItems = 0x75
    /// `c module\n name\n`: pushes an allow-listed callable.
    case global = 0x63
    /// `R`: calls the callable below the top with the argument tuple on top.
    case reduce = 0x52
    /// `q u8`: memoizes the top.
    case binPut = 0x71
    /// `r u32le`.
    case longBinPut = 0x72
    /// `h u8`: pushes a memoized object.
    case binGet = 0x68
    /// `j u32le`.
    case longBinGet = 0x6a
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

    /// Looks up an allowed callable; nil means refused.
    init?(module: String, name: String) {
        switch (module, name) {
        case ("mitogen.core", "_unpickle_context"): self = .unpickleContext
        case ("mitogen.core", "_unpickle_sender"): self = .unpickleSender
        case ("mitogen.core", "_unpickle_call_error"), ("mitogen.core", "CallError"): self = .unpickleCallError
        case ("mitogen.core", "Blob"): self = .blob
        case ("mitogen.core", "Secret"): self = .secret
        case ("mitogen.core", "Kwargs"): self = .kwargs
        case ("_codecs", "encode"): self = .codecsEncode
        case ("__builtin__", "bytes"): self = .builtinBytes
        case ("__builtin__", "set"), ("builtins", "set"): self = .set
        case ("__builtin__", "frozenset"), ("builtins", "frozenset"): self = .frozenset
        default: return nil
        }
    }
}
