/// Mitogen's pickle codec: protocol 2, restricted to the `Value` data model.
///
/// `dumps` writes what Mitogen's own pickler (CPython's protocol-2 pickler
/// with Mitogen's top-level bytes shortcut) writes, byte for byte, for every
/// value except nested bytes (see `dumps`). `loads` and `loadsAll` read what
/// CPython and Mitogen write and refuse everything else (Unpickler.swift).
///
///     let data = Pickle.dumps(.tuple([.none, "posix", .none, "getpid", .tuple([]), .kwargs([:])]))
///     let back = try Pickle.loads(data)   // the same Value
public enum Pickle {
    /// Protocol 2 bytes of `value`, as Mitogen's pickler would write them
    /// (CPython-loadable, and loadable by Mitogen's restricted unpickler
    /// unless the value holds a set or frozenset, which Mitogen refuses).
    ///
    /// Layout choices, all CPython's unless said otherwise:
    /// - `PROTO 2`, then the value, then `STOP`.
    /// - ints: BININT1 / BININT2 / BININT when they fit, else LONG1 / LONG4.
    /// - str: BINUNICODE, memoized. Tuples, lists, dicts, and the results of
    ///   every REDUCE are memoized (BINPUT, LONG_BINPUT from index 256); a
    ///   GLOBAL is memoized once and reused with BINGET when it repeats.
    /// - Context, Sender, CallError, Blob, Secret, Kwargs: GLOBAL
    ///   `mitogen.core <callable>` + argument tuple + REDUCE, as their
    ///   `__reduce__` says; set / frozenset: GLOBAL `__builtin__ set` + `([...],)`
    ///   + REDUCE, as CPython's protocol 2 writes them.
    /// - bytes at the top level: `BINSTRING` always, exactly as Mitogen writes it.
    /// - bytes nested anywhere (including inside Blob): **differs from
    ///   Mitogen**, which writes `_codecs.encode(latin1 text, 'latin1')`; we write
    ///   SHORT_BINSTRING / BINSTRING, which Python 3 under Mitogen's
    ///   `encoding='bytes'` loads as bytes and Python 2 as its native str. It is
    ///   one memcpy instead of a latin-1 → UTF-8 expansion. Not memoized.
    ///
    /// Recursion follows the value's nesting, so a value nested deeper than a
    /// few thousand levels would exhaust the stack; decoded values are bounded
    /// by `PickleLimits.maxDepth`.
    public static func dumps(_ value: Value) -> [UInt8] {
        var writer = PickleWriter()
        writer.out.append(PickleOpcode.proto)
        writer.out.append(2)
        if case .bytes(let bytes) = value {
            // Mitogen's Pickler.dump shortcut: BINSTRING with a u32 length, no memo.
            writer.out.append(PickleOpcode.binString)
            writer.appendU32LE(UInt32(truncatingIfNeeded: bytes.count))
            writer.out.append(contentsOf: bytes)
        } else {
            writer.save(value)
        }
        writer.out.append(PickleOpcode.stop)
        return writer.out
    }
}

/// The encoder state of one `Pickle.dumps`: output buffer and memo counters.
///
/// The memo only counts: values have no identity in Swift, so nothing but
/// GLOBALs is ever referenced back, but the BINPUT numbering is CPython's so
/// the bytes match Mitogen's.
struct PickleWriter {
    var out: [UInt8]
    /// Next memo index.
    private var memoCount: UInt32 = 0
    /// Memo index of each `PickleGlobal` already written, by raw value
    /// (`UInt32.max` = not yet). Empty until the first GLOBAL, so values with
    /// none cost no allocation.
    private var globalMemo: [UInt32] = []

    init() {
        out = []
        out.reserveCapacity(256)
    }

    @inline(__always)
    mutating func appendU32LE(_ v: UInt32) {
        out.append(UInt8(truncatingIfNeeded: v))
        out.append(UInt8(truncatingIfNeeded: v >> 8))
        out.append(UInt8(truncatingIfNeeded: v >> 16))
        out.append(UInt8(truncatingIfNeeded: v >> 24))
    }

    /// BINPUT / LONG_BINPUT of the next memo index, as CPython's `memoize`.
    @inline(__always)
    private mutating func memoize() {
        if memoCount < 256 {
            out.append(PickleOpcode.binPut)
            out.append(UInt8(memoCount))
        } else {
            out.append(PickleOpcode.longBinPut)
            appendU32LE(memoCount)
        }
        memoCount &+= 1
    }

    /// Writes one value (anywhere but the special-cased top-level bytes).
    mutating func save(_ value: Value) {
        switch value {
        case .none:
            out.append(PickleOpcode.none)
        case .bool(let b):
            out.append(b ? PickleOpcode.newTrue : PickleOpcode.newFalse)
        case .int(let i):
            saveInt(i)
        case .bigInt(let n):
            saveLong(n.bytes)
        case .float(let d):
            out.append(PickleOpcode.binFloat)
            let bits = d.bitPattern
            for shift in stride(from: 56, through: 0, by: -8) {
                out.append(UInt8(truncatingIfNeeded: bits >> UInt64(shift)))
            }
        case .str(let s):
            saveStr(s)
        case .bytes(let b):
            saveNestedBytes(b)
        case .tuple(let items):
            saveTuple(items)
        case .list(let items):
            out.append(PickleOpcode.emptyList)
            memoize()
            saveAppends(items)
        case .dict(let d):
            saveDict(d)
        case .set(let items):
            saveReduce(.set) { $0.saveTuple1List(items) }
        case .frozenset(let items):
            saveReduce(.frozenset) { $0.saveTuple1List(items) }
        case .context(let id, let name):
            saveReduce(.unpickleContext) { w in
                w.saveInt(Int(id))
                if let name { w.saveStr(name) } else { w.out.append(PickleOpcode.none) }
                w.out.append(PickleOpcode.tuple2)
                w.memoize()
            }
        case .sender(let contextID, let handle):
            saveReduce(.unpickleSender) { w in
                w.saveInt(Int(contextID))
                w.saveInt(Int(handle))
                w.out.append(PickleOpcode.tuple2)
                w.memoize()
            }
        case .callError(let text):
            saveReduce(.unpickleCallError) { w in
                w.saveStr(text)
                w.endTuple1()
            }
        case .blob(let b):
            // Mitogen writes Blob's bytes as _codecs.encode(...); see Pickle.dumps.
            saveReduce(.blob) { w in
                w.saveNestedBytes(b)
                w.endTuple1()
            }
        case .secret(let s):
            saveReduce(.secret) { w in
                w.saveStr(s)
                w.endTuple1()
            }
        case .kwargs(let d):
            saveReduce(.kwargs) { w in
                w.saveDict(d)
                w.endTuple1()
            }
        }
    }

    private mutating func saveInt(_ i: Int) {
        if i >= 0 && i <= 0xff {
            out.append(PickleOpcode.binInt1)
            out.append(UInt8(i))
        } else if i >= 0 && i <= 0xffff {
            out.append(PickleOpcode.binInt2)
            out.append(UInt8(truncatingIfNeeded: i))
            out.append(UInt8(truncatingIfNeeded: i >> 8))
        } else if let small = Int32(exactly: i) {
            out.append(PickleOpcode.binInt)
            appendU32LE(UInt32(bitPattern: small))
        } else {
            saveLong(LargeInt(i).bytes)
        }
    }

    /// LONG1 / LONG4 with minimal little-endian two's complement bytes.
    private mutating func saveLong(_ bytes: [UInt8]) {
        if bytes.count < 256 {
            out.append(PickleOpcode.long1)
            out.append(UInt8(bytes.count))
        } else {
            out.append(PickleOpcode.long4)
            appendU32LE(UInt32(truncatingIfNeeded: bytes.count))
        }
        out.append(contentsOf: bytes)
    }

    private mutating func saveStr(_ s: String) {
        var text = s
        text.withUTF8 { utf8 in
            out.append(PickleOpcode.binUnicode)
            appendU32LE(UInt32(truncatingIfNeeded: utf8.count))
            out.append(contentsOf: utf8)
        }
        memoize()
    }

    private mutating func saveNestedBytes(_ b: [UInt8]) {
        if b.count < 256 {
            out.append(PickleOpcode.shortBinString)
            out.append(UInt8(b.count))
        } else {
            out.append(PickleOpcode.binString)
            appendU32LE(UInt32(truncatingIfNeeded: b.count))
        }
        out.append(contentsOf: b)
    }

    private mutating func saveTuple(_ items: [Value]) {
        switch items.count {
        case 0:
            // CPython does not memoize the empty tuple.
            out.append(PickleOpcode.emptyTuple)
            return
        case 1...3:
            for item in items { save(item) }
            out.append(PickleOpcode.tuple1 + UInt8(items.count - 1))
        default:
            out.append(PickleOpcode.mark)
            for item in items { save(item) }
            out.append(PickleOpcode.tuple)
        }
        memoize()
    }

    private mutating func endTuple1() {
        out.append(PickleOpcode.tuple1)
        memoize()
    }

    /// `([items],)`: the argument tuple of set / frozenset.
    private mutating func saveTuple1List(_ items: [Value]) {
        out.append(PickleOpcode.emptyList)
        memoize()
        saveAppends(items)
        endTuple1()
    }

    /// CPython's `_batch_appends`: batches of 1000, a lone item as APPEND.
    private mutating func saveAppends(_ items: [Value]) {
        var start = 0
        while start < items.count {
            let end = min(start + pickleBatchSize, items.count)
            if end - start == 1 {
                save(items[start])
                out.append(PickleOpcode.append)
            } else {
                out.append(PickleOpcode.mark)
                for i in start..<end { save(items[i]) }
                out.append(PickleOpcode.appends)
            }
            start = end
        }
    }

    /// EMPTY_DICT, memo, then CPython's `_batch_setitems`.
    private mutating func saveDict(_ d: PyDict) {
        out.append(PickleOpcode.emptyDict)
        memoize()
        let keys = d.keys, values = d.values
        var start = 0
        while start < keys.count {
            let end = min(start + pickleBatchSize, keys.count)
            if end - start == 1 {
                save(keys[start])
                save(values[start])
                out.append(PickleOpcode.setItem)
            } else {
                out.append(PickleOpcode.mark)
                for i in start..<end {
                    save(keys[i])
                    save(values[i])
                }
                out.append(PickleOpcode.setItems)
            }
            start = end
        }
    }

    /// GLOBAL (or BINGET of its memo), the arguments written by `args`, REDUCE, memo.
    private mutating func saveReduce(_ callable: PickleGlobal, args: (inout PickleWriter) -> Void) {
        saveGlobal(callable)
        args(&self)
        out.append(PickleOpcode.reduce)
        memoize()
    }

    private mutating func saveGlobal(_ callable: PickleGlobal) {
        if globalMemo.isEmpty {
            globalMemo = Array(repeating: UInt32.max, count: PickleGlobal.allCases.count)
        }
        let known = globalMemo[callable.rawValue]
        if known != UInt32.max {
            if known < 256 {
                out.append(PickleOpcode.binGet)
                out.append(UInt8(known))
            } else {
                out.append(PickleOpcode.longBinGet)
                appendU32LE(known)
            }
            return
        }
        out.append(PickleOpcode.global)
        out.append(contentsOf: callable.operand)
        globalMemo[callable.rawValue] = memoCount
        memoize()
    }
}
