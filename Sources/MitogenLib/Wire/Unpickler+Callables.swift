/// The callables a pickle may REDUCE (Mitogen's allow-list): each checks its
/// arguments the way Mitogen's receiver does before building the value.
// MARK: - The allowed callables

extension Unpickler {
    private func invalid(_ reason: String) -> PickleError {
        failure(.invalidArgument, "invalid message: " + reason)
    }

    private func arity(_ args: [Value], _ expected: ClosedRange<Int>, _ name: String) throws(PickleError) {
        guard expected.contains(args.count) else {
            let want = expected.count == 1 ? "\(expected.lowerBound)" : "\(expected.lowerBound) to \(expected.upperBound)"
            throw invalid("\(name)() takes \(want) arguments (\(args.count) given)")
        }
    }

    /// Mitogen's `_require_types(v, integer_types)` + `_require_bounds(v, lo, hi)`.
    private func requireInt(_ value: Value, _ bounds: ClosedRange<Int>) throws(PickleError) -> Int {
        switch value {
        case .int(let i) where bounds.contains(i):
            return i
        case .int(let i):
            throw invalid("Required bounds \(bounds.lowerBound)..\(bounds.upperBound), got \(i)")
        case .bigInt(let n):
            throw invalid("Required bounds \(bounds.lowerBound)..\(bounds.upperBound), got \(n)")
        default:
            throw invalid("Required one of (<class 'int'>,), got <class '\(value.typeName)'>")
        }
    }

    /// Mitogen's `_require_types(v, (str,))` + `_require_length(v, 0, maxLength)`
    /// (length in code points, as Python's `len`).
    private func requireStr(_ value: Value, maxLength: Int) throws(PickleError) -> String {
        guard case .str(let text) = value else {
            throw invalid("Required one of (<class 'str'>,), got <class '\(value.typeName)'>")
        }
        let length = text.unicodeScalars.count
        guard length <= maxLength else { throw invalid("Required length 0..\(maxLength), got \(length)") }
        return text
    }

    /// Runs an allowed callable on its REDUCE arguments, with the receiver
    /// checks of `mitogen.core` (notes/mitogen-wire.md §3). Where Python would
    /// coerce odd arguments (`Blob(5)` is five zero bytes, `Secret(1)` is
    /// `'1'`, `set('ab')`), this refuses them: Mitogen's picklers never write
    /// them, and `bytes(n)` would allocate whatever a hostile peer asks.
    func call(_ callable: PickleGlobal, _ args: [Value]) throws(PickleError) -> Value {
        switch callable {
        case .unpickleContext:
            try arity(args, 2...2, "_unpickle_context")
            let id = try requireInt(args[0], 0...Int(UInt32.max))
            if case .none = args[1] { return .context(id: UInt32(id), name: nil) }
            return .context(id: UInt32(id), name: try requireStr(args[1], maxLength: 500))
        case .unpickleSender:
            try arity(args, 2...2, "_unpickle_sender")
            let contextID = try requireInt(args[0], 0...Int(UInt32.max))
            let handle = try requireInt(args[1], 1...Int(UInt32.max))
            return .sender(contextID: UInt32(contextID), handle: UInt32(handle))
        case .unpickleCallError:
            try arity(args, 1...1, "_unpickle_call_error")
            return .callError(try requireStr(args[0], maxLength: 9999))
        case .blob:
            try arity(args, 0...1, "Blob")
            guard let first = args.first else { return .blob([]) }
            switch first {
            case .bytes(let b), .blob(let b): return .blob(b)
            default: throw invalid("Blob() argument must be bytes, got \(first.typeName)")
            }
        case .secret:
            try arity(args, 0...1, "Secret")
            guard let first = args.first else { return .secret("") }
            switch first {
            case .str(let s), .secret(let s): return .secret(s)
            default: throw invalid("Secret() argument must be str, got \(first.typeName)")
            }
        case .kwargs:
            try arity(args, 1...1, "Kwargs")
            guard let dict = args[0].dictValue else {
                throw invalid("Kwargs() argument must be a dict, got \(args[0].typeName)")
            }
            return .kwargs(try keywordKeys(dict))
        case .codecsEncode:
            try arity(args, 2...2, "_unpickle_bytes")
            guard case .str(let text) = args[0] else {
                throw invalid("latin_1_encode() argument 1 must be str, not \(args[0].typeName)")
            }
            return .bytes(try latin1Bytes(text))
        case .builtinBytes:
            try arity(args, 0...1, "bytes")
            guard let first = args.first else { return .bytes([]) }
            switch first {
            case .bytes(let b), .blob(let b): return .bytes(b)
            default: throw invalid("bytes() argument must be bytes, got \(first.typeName)")
            }
        case .set, .frozenset:
            try arity(args, 0...1, callable.name)
            var members: [Value] = []
            if let first = args.first {
                switch first {
                case .list(let items), .tuple(let items), .set(let items), .frozenset(let items):
                    members = try uniqueMembers(items)
                default:
                    throw invalid("\(callable.name)() argument must be a list, got \(first.typeName)")
                }
            }
            return callable == .set ? .set(members) : .frozenset(members)
        }
    }

    /// Kwargs' constructor: bytes keys become str (UTF-8), later keys win.
    private func keywordKeys(_ dict: PyDict) throws(PickleError) -> PyDict {
        guard dict.keys.contains(where: { if case .bytes = $0 { true } else { false } }) else { return dict }
        var result = PyDict()
        for (key, value) in zip(dict.keys, dict.values) {
            if case .bytes(let raw) = key {
                guard let text = String(validating: raw, as: UTF8.self) else {
                    throw invalid("'utf-8' codec can't decode keyword argument name \(Value.bytesRepr(raw))")
                }
                result[.str(text)] = value
            } else {
                result[key] = value
            }
        }
        return result
    }

    /// Set members in first-seen order without duplicates.
    private func uniqueMembers(_ items: [Value]) throws(PickleError) -> [Value] {
        var seen = Swift.Set<Value>()
        var members: [Value] = []
        members.reserveCapacity(items.count)
        for item in items {
            if let type = unhashableType(item) { throw failure(.unhashable, "unhashable type: '\(type)'") }
            if seen.insert(item).inserted { members.append(item) }
        }
        return members
    }

    /// `_codecs.latin_1_encode(text)`: one byte per code point below 256.
    private func latin1Bytes(_ text: String) throws(PickleError) -> [UInt8] {
        var text = text
        // Valid UTF-8 (it is a String): U+0000..U+007F is one byte, U+0080..U+00FF
        // is C2/C3 + one continuation byte; anything else cannot be latin-1.
        var badAt = -1
        let bytes = text.withUTF8 { utf8 in
            [UInt8](unsafeUninitializedCapacity: utf8.count) { out, written in
                var i = 0
                var n = 0
                while i < utf8.count {
                    let lead = utf8[i]
                    if lead < 0x80 {
                        out[n] = lead
                        i += 1
                    } else if lead == 0xc2 || lead == 0xc3 {
                        out[n] = (lead & 0x03) << 6 | (utf8[i + 1] & 0x3f)
                        i += 2
                    } else {
                        badAt = n
                        break
                    }
                    n += 1
                }
                written = n
            }
        }
        guard badAt < 0 else {
            let scalar = text.unicodeScalars[text.unicodeScalars.index(text.unicodeScalars.startIndex, offsetBy: badAt)]
            var hex = String(scalar.value, radix: 16)
            hex = String(repeating: "0", count: max(0, (scalar.value > 0xffff ? 8 : 4) - hex.count)) + hex
            let escape = scalar.value > 0xffff ? "\\U" : "\\u"
            throw invalid(
                "'latin-1' codec can't encode character '\(escape)\(hex)' in position \(badAt): "
                    + "ordinal not in range(256)")
        }
        return bytes
    }
}
