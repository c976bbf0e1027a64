import MitogenCore
import MitogenSys
import MitogenWire
/// The arguments of one builtin call bound to its parameter names, with
/// Python's `TypeError` texts for what does not fit.
///
/// ```swift
/// let a = try BuiltinArguments("os.listdir", args, kwargs, parameters: ["path"])
/// let path = try a.path("path", default: ".")
/// ```
struct BuiltinArguments {
    /// The registered name, used in messages: `os.listdir() missing ...`.
    let function: String
    private var bound: [String: Value] = [:]

    /// Binds positional arguments in order, then keywords by name.
    /// - Throws: `TypeError` for too many positional arguments, an unknown
    ///   keyword, or a parameter given both ways.
    init(_ function: String, _ args: [Value], _ kwargs: PyDict, parameters: [String]) throws(PyException) {
        self.function = function
        guard args.count <= parameters.count else {
            let noun = parameters.count == 1 ? "argument" : "arguments"
            throw PythonErrors.typeError(
                "\(function)() takes at most \(parameters.count) positional \(noun) (\(args.count) given)")
        }
        for (name, value) in zip(parameters, args) { bound[name] = value }
        for (key, value) in kwargs {
            guard let name = key.stringValue, parameters.contains(name) else {
                throw PythonErrors.typeError("\(function)() got an unexpected keyword argument \((key.stringValue ?? key.repr(.python)).quotedForMessage)")
            }
            guard bound[name] == nil else {
                throw PythonErrors.typeError("\(function)() got multiple values for argument '\(name)'")
            }
            bound[name] = value
        }
    }

    /// The value given for `name`, or nil when it was not passed.
    func value(_ name: String) -> Value? { bound[name] }

    /// The value given for `name`, treating an explicit `None` as absent.
    func optional(_ name: String) -> Value? {
        guard let v = bound[name], !v.isNone else { return nil }
        return v
    }

    /// - Throws: `TypeError: f() missing required argument: 'name'`.
    func required(_ name: String) throws(PyException) -> Value {
        guard let v = bound[name] else {
            throw PythonErrors.typeError("\(function)() missing required argument: '\(name)'")
        }
        return v
    }

    /// A required `str`.
    func string(_ name: String) throws(PyException) -> String {
        let v = try required(name)
        guard case .str(let s) = v else { throw mismatch(name, expected: "str", got: v) }
        return s
    }

    /// An optional `str`; `None` or absence gives `defaultValue`.
    func string(_ name: String, default defaultValue: String?) throws(PyException) -> String? {
        guard let v = optional(name) else { return defaultValue }
        guard case .str(let s) = v else { throw mismatch(name, expected: "str", got: v) }
        return s
    }

    /// A path: `str`, or `bytes` decoded as UTF-8 (as `os.fsdecode` would on
    /// a UTF-8 system).
    func path(_ name: String, default defaultValue: String? = nil) throws(PyException) -> String {
        let v: Value
        if let defaultValue {
            guard let given = optional(name) else { return defaultValue }
            v = given
        } else {
            v = try required(name)
        }
        switch v {
        case .str(let s): return s
        case .bytes(let b): return String(decoding: b, as: UTF8.self)
        default: throw mismatch(name, expected: "str, bytes or os.PathLike object", got: v)
        }
    }

    /// An optional path; `None` or absence gives nil.
    func optionalPath(_ name: String) throws(PyException) -> String? {
        guard optional(name) != nil else { return nil }
        return try path(name)
    }

    /// A required `int` (`bool` accepted, as Python does).
    func int(_ name: String) throws(PyException) -> Int {
        let v = try required(name)
        guard let i = v.intValue else { throw mismatch(name, expected: "int", got: v) }
        return i
    }

    /// A context id: an `int` in 0...2³²-1 (Mitogen's `_unpickle_context` range).
    func contextID(_ name: String) throws(PyException) -> UInt32 {
        let i = try int(name)
        guard let id = UInt32(exactly: i) else {
            throw PythonErrors.valueError("\(function)(): \(name) \(i) is not a context id (0 to 4294967295)")
        }
        return id
    }

    /// An optional `int`.
    func int(_ name: String, default defaultValue: Int) throws(PyException) -> Int {
        guard let v = optional(name) else { return defaultValue }
        guard let i = v.intValue else { throw mismatch(name, expected: "int", got: v) }
        return i
    }

    /// An optional truth value: Python's `bool(x)` for None, bool, int, str, bytes and containers.
    func bool(_ name: String, default defaultValue: Bool) -> Bool {
        guard let v = bound[name] else { return defaultValue }
        switch v {
        case .none: return false
        case .bool(let b): return b
        case .int(let i): return i != 0
        case .float(let f): return f != 0
        case .str(let s): return !s.isEmpty
        case .bytes(let b): return !b.isEmpty
        case .list(let items), .tuple(let items), .set(let items), .frozenset(let items): return !items.isEmpty
        case .dict(let d): return !d.isEmpty
        default: return true
        }
    }

    /// A number of seconds: `int` or `float`; nil when absent or None.
    func seconds(_ name: String) throws(PyException) -> Double? {
        guard let v = optional(name) else { return nil }
        switch v {
        case .int(let i): return Double(i)
        case .float(let f): return f
        case .bool(let b): return b ? 1 : 0
        default: throw mismatch(name, expected: "int or float", got: v)
        }
    }

    /// Data to write: `bytes`, or `str` encoded as UTF-8.
    func data(_ name: String) throws(PyException) -> [UInt8] {
        let v = try required(name)
        switch v {
        case .bytes(let b), .blob(let b): return b
        case .str(let s): return Array(s.utf8)
        default: throw mismatch(name, expected: "bytes or str", got: v)
        }
    }

    /// `TypeError: f() argument 'name': expected str, got int`.
    func mismatch(_ name: String, expected: String, got v: Value) -> PyException {
        PythonErrors.typeError("\(function)() argument '\(name)': expected \(expected), got \(v.typeName)")
    }
}

extension String {
    /// `'text'` for a keyword name in a message (it is a str already).
    fileprivate var quotedForMessage: String { "'\(self)'" }
}
