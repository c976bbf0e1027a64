import Synchronization
public import MitogenWire
import MitogenSys

/// Waits on many receivers (and other Selects) at once and returns messages
/// in arrival order (Mitogen's `mitogen.select.Select`).
///
/// With `oneshot` (the default) a member is removed after it yields one
/// message, so iterating a Select of call receivers ends when every call has
/// answered. A dead message from a member is raised from `get` as
/// `ChannelError` (iteration stops there too). Selects nest: a Select added
/// to another notifies its parent when one of its members has a message.
///
/// ```swift
/// let select = Select(contexts.map { try $0.callAsync("os.getpid") })
/// for msg in select { print(msg.receiver!, try msg.unpickle()) }
/// ```
public final class Select: Sendable {
    /// A member: a receiver or a nested Select.
    public enum Member: Sendable {
        case receiver(Receiver)
        case select(Select)

        var id: ObjectIdentifier {
            switch self {
            case .receiver(let r): ObjectIdentifier(r)
            case .select(let s): ObjectIdentifier(s)
            }
        }
    }

    public let oneshot: Bool
    private let members = Lock<[Member]>([])
    /// Members with something to read, in the order they signalled.
    private let ready = Latch<Member>()
    private let parentNotify = Lock<(@Sendable () -> Void)?>(nil)
    private let owned = Lock<Bool>(false)

    public init(_ receivers: [Receiver] = [], oneshot: Bool = true) throws {
        self.oneshot = oneshot
        for r in receivers { try add(r) }
    }

    public init(selects: [Select], oneshot: Bool = true) throws {
        self.oneshot = oneshot
        for s in selects { try add(s) }
    }

    /// Gathers one result from each receiver, in arrival order, as Values.
    /// - Throws: the first `CallError` or `ChannelError` met.
    public static func all(_ receivers: [Receiver]) throws -> [Value] {
        let select = try Select(receivers)
        defer { select.close() }
        var out: [Value] = []
        while !select.isEmptyOfMembers {
            out.append(try select.get().unpickle())
        }
        return out
    }

    /// True while any member is registered (Python's truthiness of a Select).
    public var hasMembers: Bool { members.withLock { !$0.isEmpty } }
    var isEmptyOfMembers: Bool { !hasMembers }

    /// True if `get` would block now.
    public var isEmpty: Bool { ready.isEmpty }

    /// Adds a receiver.
    /// - Throws: `SelectError` if another Select already owns it.
    public func add(_ receiver: Receiver) throws(SelectError) {
        let taken = receiver.owner.withLock { owner -> Bool in
            if owner != nil { return true }
            owner = ObjectIdentifier(self)
            return false
        }
        if taken { throw SelectError("Cannot add: Receiver is already owned by another Select") }
        members.withLock { $0.append(.receiver(receiver)) }
        let member = Member.receiver(receiver)
        receiver.notify = { [weak self] _ in self?.signal(member) }
        // Messages queued before we installed notify must not be missed.
        for _ in 0..<receiver.latch.count { signal(member) }
    }

    /// Adds a nested Select.
    /// - Throws: `SelectError` if that would make a cycle or it has an owner.
    public func add(_ select: Select) throws(SelectError) {
        if select === self || select.contains(self) {
            throw SelectError("Adding this Select instance would create a Select cycle")
        }
        let taken = select.owned.withLock { o -> Bool in
            if o { return true }
            o = true
            return false
        }
        if taken { throw SelectError("Cannot add: Receiver is already owned by another Select") }
        members.withLock { $0.append(.select(select)) }
        let member = Member.select(select)
        select.parentNotify.withLock { $0 = { [weak self] in self?.signal(member) } }
        for _ in 0..<select.ready.count { signal(member) }
    }

    private func contains(_ other: Select) -> Bool {
        members.withLock { $0 }.contains { m in
            if case .select(let s) = m { return s === other || s.contains(other) }
            return false
        }
    }

    /// Removes a member. A message it already signalled may still be returned.
    /// - Throws: `SelectError` if it is not a member.
    public func remove(_ receiver: Receiver) throws(SelectError) {
        try removeMember(ObjectIdentifier(receiver))
        receiver.notify = nil
        receiver.owner.withLock { $0 = nil }
    }

    public func remove(_ select: Select) throws(SelectError) {
        try removeMember(ObjectIdentifier(select))
        select.parentNotify.withLock { $0 = nil }
        select.owned.withLock { $0 = false }
    }

    private func removeMember(_ id: ObjectIdentifier) throws(SelectError) {
        let found = members.withLock { list -> Bool in
            guard let i = list.firstIndex(where: { $0.id == id }) else { return false }
            list.remove(at: i)
            return true
        }
        if !found { throw SelectError("Instance is not a member of this Select") }
    }

    private func signal(_ member: Member) {
        try? ready.put(member)
        parentNotify.withLock { $0 }?()
    }

    /// Removes every member and wakes threads in `get` with `LatchError`.
    public func close() {
        let list = members.withLock { l in
            defer { l.removeAll() }
            return l
        }
        for m in list {
            switch m {
            case .receiver(let r):
                r.notify = nil
                r.owner.withLock { $0 = nil }
            case .select(let s):
                s.parentNotify.withLock { $0 = nil }
                s.owned.withLock { $0 = false }
            }
        }
        ready.close()
    }

    /// The next message from any member, its `receiver` set.
    /// - Parameters:
    ///   - timeout: seconds, or nil to wait for ever.
    ///   - block: false to throw `TimeoutError` at once if nothing is ready.
    /// - Throws: `SelectError` if there are no members, `TimeoutError`,
    ///   `LatchError` after `close()`, `ChannelError` for a dead member message.
    public func get(timeout: Double? = nil, block: Bool = true) throws -> Message {
        try get(timeout: timeout, block: block, surfacingDead: false)
    }

    /// `get`, or with `surfacingDead` a dead member message returned as a
    /// message rather than thrown (iteration uses it so that no member's
    /// end goes unseen).
    func get(timeout: Double?, block: Bool, surfacingDead: Bool) throws -> Message {
        let deadline = timeout.map { monotonicNow() + $0 }
        while true {
            if !hasMembers && ready.isEmpty {
                throw SelectError("Cannot get(), Select instance is empty")
            }
            let left = deadline.map { Swift.max(0, $0 - monotonicNow()) }
            let member = try ready.get(timeout: left, block: block)
            if let msg = try take(from: member, surfacingDead: surfacingDead) { return msg }
        }
    }

    /// The async twin of `get()`.
    public func get() async throws -> Message {
        try await get(surfacingDead: false)
    }

    func get(surfacingDead: Bool) async throws -> Message {
        while true {
            if !hasMembers && ready.isEmpty {
                throw SelectError("Cannot get(), Select instance is empty")
            }
            let member = try await ready.value()
            if let msg = try take(from: member, surfacingDead: surfacingDead) { return msg }
        }
    }

    private func take(from member: Member, surfacingDead: Bool) throws -> Message? {
        switch member {
        case .receiver(let r):
            guard !r.latch.isEmpty else { return nil }  // drained elsewhere
            if oneshot { try? remove(r) }
            var msg = surfacingDead ? try r.getIncludingDead(timeout: 0) : try r.get(timeout: 0)
            msg.receiver = r
            return msg
        case .select(let s):
            guard !s.ready.isEmpty else { return nil }
            let msg = try s.get(timeout: 0, block: false, surfacingDead: surfacingDead)
            if oneshot && !s.hasMembers { try? remove(s) }
            return msg
        }
    }
}

extension Select: Sequence {
    /// Yields messages until no member remains. A member that ends (its
    /// context died, its sender closed) is yielded too, as its dead message:
    /// `unpickle()` on it throws the `ChannelError`, so no member's end is
    /// lost. Iteration stops if the Select itself is closed.
    public struct Iterator: IteratorProtocol {
        let select: Select
        public mutating func next() -> Message? {
            guard select.hasMembers || !select.isEmpty else { return nil }
            return try? select.get(timeout: nil, block: true, surfacingDead: true)
        }
    }
    public func makeIterator() -> Iterator { Iterator(select: self) }
}

extension Select: AsyncSequence {
    public struct AsyncIterator: AsyncIteratorProtocol {
        let select: Select
        public mutating func next() async throws -> Message? {
            guard select.hasMembers || !select.isEmpty else { return nil }
            return try await select.get(surfacingDead: true)
        }
    }
    public func makeAsyncIterator() -> AsyncIterator { AsyncIterator(select: self) }
}

/// A misuse of a Select (Mitogen's `mitogen.select.Error`).
public struct SelectError: MitogenError, Equatable {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}
