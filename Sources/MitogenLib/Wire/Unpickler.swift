/// Bounds on what one decode may build, so hostile input cannot exhaust the
/// stack (a deeply nested `Value` recurses when destroyed), memory or time.
///
/// Lengths in the input are never trusted beyond the bytes that remain, so
/// memory stays proportional to the input whatever the limits; these bound
/// the shape of the result.
public struct PickleLimits: Sendable {
    /// Deepest nesting of containers (a scalar is depth 0, `[1]` depth 1).
    public var maxDepth: Int
    /// Most items in one tuple, list, dict or set.
    public var maxContainerItems: Int
    /// Most values in the whole result, counted as if shared references were
    /// copies: memo references (BINGET) can make a small pickle describe a
    /// huge tree, which is cheap to hold but slow to hash, compare or re-encode.
    public var maxNodes: Int

    public init(maxDepth: Int = 512, maxContainerItems: Int = 1 << 24, maxNodes: Int = 1 << 27) {
        self.maxDepth = maxDepth
        self.maxContainerItems = maxContainerItems
        self.maxNodes = maxNodes
    }

    /// 512 levels, 16 Mi items per container, 128 Mi values in all.
    public static let `default` = PickleLimits()
}

extension Pickle {
    /// Decodes one pickle that fills `bytes` exactly.
    ///
    /// Strict: only the opcodes of Mitogen's protocol-2 subset
    /// (`PickleOpcode`) and the callables of Mitogen's allow-list plus set and
    /// frozenset (`PickleGlobal`), with Mitogen's receiver checks. Ints are
    /// normalized (`Value.integer`), SHORT_BINSTRING / BINSTRING decode as bytes
    /// (Mitogen's `encoding='bytes'`). Unlike Python, a list or dict must be
    /// complete before it is used inside another value: self-references and
    /// changes through a memo reference after use are refused (CPython's
    /// pickler never writes them for acyclic values).
    ///
    /// - Throws: `PickleError` naming the opcode and offset: truncated input,
    ///   unknown opcode, refused global (`cannot unpickle 'os'/'system'`), bad
    ///   arguments (`invalid message: Required length 0..9999, got 10000`),
    ///   unhashable keys, stack or memo misuse, bytes after STOP, or a limit.
    public static func loads(_ bytes: [UInt8], limits: PickleLimits = .default) throws(PickleError) -> Value {
        let result = bytes.withUnsafeBufferPointer { buffer in
            Result { () throws(PickleError) -> Value in
                var unpickler = Unpickler(buffer, limits: limits)
                let value = try unpickler.loadOne()
                try unpickler.expectEnd()
                return value
            }
        }
        return try result.get()
    }

    /// Decodes several concatenated pickles that share one memo (a later
    /// pickle may BINGET what an earlier one memoized), as Mitogen's
    /// `unpickle_iter` reads LOAD_RESOURCE payloads. Empty input gives `[]`.
    /// - Throws: `PickleError` as `loads`, for the first pickle that fails.
    public static func loadsAll(_ bytes: [UInt8], limits: PickleLimits = .default) throws(PickleError) -> [Value] {
        let result = bytes.withUnsafeBufferPointer { buffer in
            Result { () throws(PickleError) -> [Value] in
                var unpickler = Unpickler(buffer, limits: limits)
                var values: [Value] = []
                while !unpickler.isAtEnd { values.append(try unpickler.loadOne()) }
                return values
            }
        }
        return try result.get()
    }
}

/// A list under construction. A class so that the stack and the memo share
/// it, as Python shares the list object. Frozen once used as a value: later
/// changes could not reach the copies already taken.
final class ListBuilder {
    var items: [Value] = []
    var shape = Shape(depth: 1, nodes: 1)
    var frozen = false
}

/// A dict under construction; see `ListBuilder`.
final class DictBuilder {
    var dict = PyDict()
    var shape = Shape(depth: 1, nodes: 1)
    var frozen = false
}

/// Nesting depth and expanded value count of a decoded value (`PickleLimits`).
struct Shape {
    var depth: Int
    var nodes: Int
    static let scalar = Shape(depth: 0, nodes: 1)
}

/// One entry of the unpickler's stack or memo.
enum StackItem {
    case value(Value, Shape)
    case list(ListBuilder)
    case dict(DictBuilder)
    /// A GLOBAL, waiting for REDUCE.
    case callable(PickleGlobal)
}

/// The decoder state over one input buffer. Not reentrant, no recursion:
/// the nesting of the input lives on `stack`, never on the call stack.
struct Unpickler {
    private let input: UnsafeBufferPointer<UInt8>
    private var position = 0
    private let limits: PickleLimits
    private var stack: [StackItem] = []
    /// Stack heights at each open MARK.
    private var marks: [Int] = []
    /// Memo entries at dense indices; grows only as far as PUTs justify.
    private var memo: [StackItem?] = []
    /// Memo entries at indices too far beyond the dense part.
    private var sparseMemo: [UInt32: StackItem] = [:]
    private var putCount = 0
    /// The opcode being decoded and its offset, for errors.
    private var opcode: UInt8 = 0
    private var opcodeOffset = 0

    init(_ input: UnsafeBufferPointer<UInt8>, limits: PickleLimits) {
        self.input = input
        self.limits = limits
        stack.reserveCapacity(16)
    }

    var isAtEnd: Bool { position >= input.count }

    /// - Throws: `.malformed` when bytes follow the STOP of the only pickle.
    func expectEnd() throws(PickleError) {
        guard isAtEnd else {
            throw PickleError(
                .malformed, "\(input.count - position) bytes follow the STOP opcode of the pickle",
                offset: position)
        }
    }

    // MARK: - Errors and input

    func failure(_ code: PickleError.Code, _ reason: String) -> PickleError {
        PickleError(code, reason, opcode: opcode, offset: opcodeOffset)
    }

    /// Claims `count` bytes of operand and returns where they start.
    @inline(__always)
    private mutating func take(_ count: Int) throws(PickleError) -> Int {
        let left = input.count - position
        guard count >= 0, count <= left else {
            throw failure(.truncated, "pickle data was truncated: operand needs \(count) bytes, \(left) left")
        }
        let start = position
        position += count
        return start
    }

    private mutating func readU8() throws(PickleError) -> UInt8 {
        input[try take(1)]
    }

    private mutating func readU16LE() throws(PickleError) -> UInt16 {
        let at = try take(2)
        return UInt16(input[at]) | UInt16(input[at + 1]) << 8
    }

    private mutating func readU32LE() throws(PickleError) -> UInt32 {
        let at = try take(4)
        return UInt32(input[at]) | UInt32(input[at + 1]) << 8 | UInt32(input[at + 2]) << 16
            | UInt32(input[at + 3]) << 24
    }

    private mutating func readBytes(_ count: Int) throws(PickleError) -> [UInt8] {
        let at = try take(count)
        return Array(UnsafeBufferPointer(rebasing: input[at..<at + count]))
    }

    private mutating func readUTF8(_ count: Int, _ what: String) throws(PickleError) -> String {
        let at = try take(count)
        let utf8 = UnsafeBufferPointer(rebasing: input[at..<at + count])
        // String(validating:) is generic and costs more than the rest of a
        // small pickle; validate here, then build the String without checks.
        guard isValidUTF8(utf8) else {
            throw failure(.malformed, "\(what) is not valid UTF-8 (lone surrogates are not supported)")
        }
        return String(decoding: utf8, as: UTF8.self)
    }

    /// The GLOBAL operand, `module\nname\n`, looked up in the allow-list by
    /// its bytes; the names become Strings only for the error.
    private mutating func readGlobal() throws(PickleError) -> PickleGlobal {
        let start = position
        var newlines = 0
        var end = position
        while end < input.count {
            if input[end] == 0x0a {
                newlines += 1
                if newlines == 2 { break }
            }
            end += 1
        }
        guard newlines == 2 else {
            throw failure(.truncated, "pickle data was truncated: GLOBAL operand has no newline")
        }
        position = end + 1
        let operand = UnsafeBufferPointer(rebasing: input[start..<position])
        if let callable = PickleGlobal(operand: operand) { return callable }
        position = start
        let module = try readLine()
        let name = try readLine()
        throw failure(.forbiddenGlobal, "cannot unpickle \(Value.strRepr(module))/\(Value.strRepr(name))")
    }

    /// A GLOBAL operand line, without its newline.
    private mutating func readLine() throws(PickleError) -> String {
        var end = position
        while end < input.count && input[end] != 0x0a { end += 1 }
        guard end < input.count else {
            throw failure(.truncated, "pickle data was truncated: GLOBAL operand has no newline")
        }
        let text = try readUTF8(end - position, "GLOBAL operand")
        position += 1
        return text
    }

    // MARK: - Stack

    /// The lowest stack index the current opcode may touch: above the last MARK.
    private var fence: Int { marks.last ?? 0 }

    private func underflow() -> PickleError { failure(.malformed, "unpickling stack underflow") }

    private mutating func push(_ value: Value, _ shape: Shape = .scalar) {
        stack.append(.value(value, shape))
    }

    private mutating func pop() throws(PickleError) -> StackItem {
        guard stack.count > fence else { throw underflow() }
        return stack.removeLast()
    }

    /// Drops the stack down to `height` (removeLast(_:) goes through the slower replaceSubrange).
    @inline(__always)
    private mutating func dropStack(to height: Int) {
        while stack.count > height { stack.removeLast() }
    }

    private mutating func popMark() throws(PickleError) -> Int {
        guard let mark = marks.popLast() else { throw failure(.malformed, "could not find MARK") }
        return mark
    }

    /// The value of a stack item; freezes a builder, since its contents are now copied.
    private func settle(_ item: StackItem) throws(PickleError) -> (Value, Shape) {
        guard let settled = Self.settled(item) else {
            guard case .callable(let callable) = item else { preconditionFailure("settled() refused a non-callable") }
            throw failure(.malformed, "\(callable.qualifiedName) can only be called by REDUCE, not used as a value")
        }
        return settled
    }

    /// The value an item stands for, freezing builders; nil for a callable.
    /// Static, so the hot loops that settle many items do not pass `self` around.
    private static func settled(_ item: StackItem) -> (Value, Shape)? {
        switch item {
        case .value(let value, let shape):
            return (value, shape)
        case .list(let builder):
            builder.frozen = true
            return (.list(builder.items), builder.shape)
        case .dict(let builder):
            builder.frozen = true
            return (.dict(builder.dict), builder.shape)
        case .callable:
            return nil
        }
    }

    private func itemTypeName(_ item: StackItem) -> String {
        switch item {
        case .value(let value, _): value.typeName
        case .list: "list"
        case .dict: "dict"
        case .callable(let callable): callable.qualifiedName
        }
    }

    // MARK: - Limits

    private func checked(_ shape: Shape) throws(PickleError) -> Shape {
        if shape.depth > limits.maxDepth {
            throw failure(.limitExceeded, "value nested deeper than the limit of \(limits.maxDepth) levels")
        }
        if shape.nodes > limits.maxNodes {
            throw failure(.limitExceeded, "value holds more than the limit of \(limits.maxNodes) values")
        }
        return shape
    }

    private func checkCount(_ count: Int, _ what: String) throws(PickleError) {
        if count > limits.maxContainerItems {
            throw failure(.limitExceeded, "\(what) holds more than the limit of \(limits.maxContainerItems) items")
        }
    }

    /// The shape of a container after adding a member of shape `member`.
    private func grown(_ shape: Shape, by member: Shape) throws(PickleError) -> Shape {
        let (nodes, overflow) = shape.nodes.addingReportingOverflow(member.nodes)
        return try checked(Shape(depth: max(shape.depth, member.depth + 1), nodes: overflow ? .max : nodes))
    }

    // MARK: - Decoding

    /// Decodes the pickle starting at the current position, through its STOP.
    mutating func loadOne() throws(PickleError) -> Value {
        stack.removeAll(keepingCapacity: true)
        marks.removeAll(keepingCapacity: true)
        while true {
            guard position < input.count else {
                throw PickleError(.truncated, "pickle data was truncated: no STOP opcode", offset: position)
            }
            opcodeOffset = position
            opcode = input[position]
            position += 1
            // Literal cases (named in PickleOpcode) so this compiles to a jump table.
            switch opcode {
            case 0x80:  // proto
                let version = try readU8()
                guard version <= 2 else {
                    throw failure(.malformed, "unsupported pickle protocol \(version): Mitogen speaks protocol 2")
                }
            case 0x2e:  // stop
                guard marks.isEmpty else { throw failure(.malformed, "STOP with an open MARK") }
                guard stack.count == 1 else {
                    throw failure(
                        .malformed,
                        stack.isEmpty ? "STOP with an empty stack" : "STOP with \(stack.count) items on the stack")
                }
                return try settle(stack.removeLast()).0
            case 0x28:  // mark
                marks.append(stack.count)
            case 0x4e:  // none
                push(.none)
            case 0x88:  // newTrue
                push(.bool(true))
            case 0x89:  // newFalse
                push(.bool(false))
            case 0x4b:  // binInt1
                push(.int(Int(try readU8())))
            case 0x4d:  // binInt2
                push(.int(Int(try readU16LE())))
            case 0x4a:  // binInt
                push(.int(Int(Int32(bitPattern: try readU32LE()))))
            case 0x8a:  // long1
                let count = Int(try readU8())
                push(.integer(LargeInt(twosComplementLittleEndian: try readBytes(count))))
            case 0x8b:  // long4
                let count = Int(Int32(bitPattern: try readU32LE()))
                guard count >= 0 else { throw failure(.malformed, "LONG pickle has negative byte count") }
                push(.integer(LargeInt(twosComplementLittleEndian: try readBytes(count))))
            case 0x47:  // binFloat
                let at = try take(8)
                var bits: UInt64 = 0
                for i in 0..<8 { bits = bits << 8 | UInt64(input[at + i]) }
                push(.float(Double(bitPattern: bits)))
            case 0x58:  // binUnicode
                let count = Int(try readU32LE())
                push(.str(try readUTF8(count, "BINUNICODE string")))
            case 0x55:  // shortBinString
                let count = Int(try readU8())
                push(.bytes(try readBytes(count)))
            case 0x54:  // binString
                let count = Int(Int32(bitPattern: try readU32LE()))
                guard count >= 0 else { throw failure(.malformed, "BINSTRING pickle has negative byte count") }
                push(.bytes(try readBytes(count)))
            case 0x29:  // emptyTuple
                push(.tuple([]), Shape(depth: 1, nodes: 1))
            case 0x85, 0x86, 0x87:  // tuple1, tuple2, tuple3
                let count = Int(opcode - PickleOpcode.tuple1) + 1
                guard stack.count - fence >= count else { throw underflow() }
                try buildTuple(from: stack.count - count)
            case 0x74:  // tuple
                try buildTuple(from: try popMark())
            case 0x5d:  // emptyList
                stack.append(.list(ListBuilder()))
            case 0x61:  // append
                let item = try pop()
                let builder = try openList(at: stack.count - 1)
                let (value, shape) = try settle(item)
                try append(value, shape, to: builder)
            case 0x65:  // appends
                let mark = try popMark()
                let builder = try openList(at: mark - 1)
                for i in mark..<stack.count {
                    guard let (value, shape) = Self.settled(stack[i]) else { _ = try settle(stack[i]); break }
                    try append(value, shape, to: builder)
                }
                dropStack(to: mark)
            case 0x7d:  // emptyDict
                stack.append(.dict(DictBuilder()))
            case 0x73:  // setItem
                let value = try pop()
                let key = try pop()
                let builder = try openDict(at: stack.count - 1)
                try setItem(key, value, in: builder)
            case 0x75:  // setItems
                let mark = try popMark()
                let builder = try openDict(at: mark - 1)
                guard (stack.count - mark) % 2 == 0 else {
                    throw failure(.malformed, "odd number of items for SETITEMS")
                }
                for i in stride(from: mark, to: stack.count, by: 2) {
                    try setItem(stack[i], stack[i + 1], in: builder)
                }
                dropStack(to: mark)
            case 0x63:  // global
                stack.append(.callable(try readGlobal()))
            case 0x52:  // reduce
                let argsItem = try pop()
                let calleeItem = try pop()
                guard case .callable(let callable) = calleeItem else {
                    throw failure(.malformed, "REDUCE of a \(itemTypeName(calleeItem)), which is not callable")
                }
                guard case .value(.tuple(let args), let argsShape) = argsItem else {
                    throw failure(.malformed, "REDUCE arguments must be a tuple, got \(itemTypeName(argsItem))")
                }
                let result = try call(callable, args)
                push(result, Shape(depth: max(argsShape.depth - 1, 0), nodes: max(argsShape.nodes - 1, 1)))
            case 0x71:  // binPut
                try put(UInt32(try readU8()))
            case 0x72:  // longBinPut
                try put(try readU32LE())
            case 0x68:  // binGet
                try get(UInt32(try readU8()))
            case 0x6a:  // longBinGet
                try get(try readU32LE())
            default:
                throw failure(.unknownOpcode, "invalid load key \(hexByte(opcode)): not an opcode of Mitogen's pickle")
            }
        }
    }

    private mutating func buildTuple(from start: Int) throws(PickleError) {
        let count = stack.count - start
        try checkCount(count, "tuple")
        var items: [Value] = []
        items.reserveCapacity(count)
        var depth = 0
        var nodes = 1
        for i in start..<stack.count {
            guard let (value, member) = Self.settled(stack[i]) else { _ = try settle(stack[i]); return }
            items.append(value)
            depth = max(depth, member.depth)
            let (sum, overflow) = nodes.addingReportingOverflow(member.nodes)
            nodes = overflow ? .max : sum
        }
        dropStack(to: start)
        push(.tuple(items), try checked(Shape(depth: depth + 1, nodes: nodes)))
    }

    /// The list builder at `index`, which must be above the fence and still open.
    private func openList(at index: Int) throws(PickleError) -> ListBuilder {
        guard index >= fence, index < stack.count else { throw underflow() }
        guard case .list(let builder) = stack[index] else {
            throw failure(.malformed, "cannot append to a \(itemTypeName(stack[index]))")
        }
        guard !builder.frozen else {
            throw failure(.malformed, "list changed after it was used as a value (self-reference?)")
        }
        return builder
    }

    private func openDict(at index: Int) throws(PickleError) -> DictBuilder {
        guard index >= fence, index < stack.count else { throw underflow() }
        guard case .dict(let builder) = stack[index] else {
            throw failure(.malformed, "cannot set an item of a \(itemTypeName(stack[index]))")
        }
        guard !builder.frozen else {
            throw failure(.malformed, "dict changed after it was used as a value (self-reference?)")
        }
        return builder
    }

    private func append(_ value: Value, _ shape: Shape, to builder: ListBuilder) throws(PickleError) {
        guard !builder.frozen else {
            throw failure(.malformed, "list changed after it was used as a value (self-reference?)")
        }
        try checkCount(builder.items.count + 1, "list")
        builder.shape = try grown(builder.shape, by: shape)
        builder.items.append(value)
    }

    private func setItem(_ keyItem: StackItem, _ valueItem: StackItem, in builder: DictBuilder) throws(PickleError) {
        let (key, keyShape) = try settle(keyItem)
        let (value, valueShape) = try settle(valueItem)
        guard !builder.frozen else {
            throw failure(.malformed, "dict changed after it was used as a value (self-reference?)")
        }
        if let type = unhashableType(key) { throw failure(.unhashable, "unhashable type: '\(type)'") }
        try checkCount(builder.dict.count + 1, "dict")
        builder.shape = try grown(try grown(builder.shape, by: keyShape), by: valueShape)
        builder.dict[key] = value
    }

    // MARK: - Memo

    private mutating func put(_ index: UInt32) throws(PickleError) {
        guard stack.count > fence else { throw underflow() }
        let item = stack[stack.count - 1]
        putCount += 1
        let i = Int(index)
        if memo.capacity == 0 { memo.reserveCapacity(16) }
        if i < memo.count {
            memo[i] = item
        } else if i < 2 * putCount + 64 {
            // Dense growth stays proportional to the number of PUTs seen.
            while memo.count < i { memo.append(nil) }
            memo.append(item)
        } else {
            sparseMemo[index] = item
        }
    }

    private mutating func get(_ index: UInt32) throws(PickleError) {
        let i = Int(index)
        let found: StackItem? = i < memo.count ? memo[i] : sparseMemo[index]
        guard let item = found else {
            throw failure(.malformed, "memo key \(index) refers to nothing: no PUT before it")
        }
        stack.append(item)
    }
}

/// True if `bytes` is well-formed UTF-8 (Unicode table 3-7): no overlong
/// forms, no surrogates, nothing above U+10FFFF.
func isValidUTF8(_ bytes: UnsafeBufferPointer<UInt8>) -> Bool {
    var i = 0
    let n = bytes.count
    while i < n {
        let lead = bytes[i]
        if lead < 0x80 {
            i += 1
            continue
        }
        let length: Int
        var low: UInt8 = 0x80, high: UInt8 = 0xbf  // range of the second byte
        switch lead {
        case 0xc2...0xdf: length = 2
        case 0xe0: length = 3; low = 0xa0
        case 0xe1...0xec, 0xee...0xef: length = 3
        case 0xed: length = 3; high = 0x9f
        case 0xf0: length = 4; low = 0x90
        case 0xf1...0xf3: length = 4
        case 0xf4: length = 4; high = 0x8f
        default: return false
        }
        guard n - i >= length, (low...high).contains(bytes[i + 1]) else { return false }
        for k in 2..<max(2, length) where bytes[i + k] & 0xc0 != 0x80 { return false }
        i += length
    }
    return true
}

/// The Python type name of the first unhashable part of `value`, or nil if
/// Python could hash it.
func unhashableType(_ value: Value) -> String? {
    switch value {
    case .list: "list"
    case .dict: "dict"
    case .set: "set"
    case .kwargs: "Kwargs"
    case .tuple(let items), .frozenset(let items):
        // A plain loop: lazy.compactMap(...).first evaluates the closure twice
        // per level, which is exponential in the nesting depth.
        firstUnhashable(items)
    default: nil
    }
}

private func firstUnhashable(_ items: [Value]) -> String? {
    for item in items {
        if let type = unhashableType(item) { return type }
    }
    return nil
}
