import CMitogenSys
import Glibc
import Logging
import Synchronization
public import MitogenWire
package import MitogenSys

/// Decides whether a message may reach a handler: `policy(message, stream)`
/// where `stream` is the stream it arrived on (nil when sent locally).
public typealias Policy = @Sendable (Message, Stream?) -> Bool

/// Handles one message delivered to a handle. Runs on the broker thread (or
/// the sending thread for local messages): it must not block.
public typealias MessageHandler = @Sendable (Message) -> Void

/// Routes messages between this context, its parent and its children, and
/// invokes the handlers registered on it (Mitogen's `Router`).
///
/// `route(_:)` is safe from any thread. A message to this context is given to
/// the handler of its `handle`; any other goes down the stream that leads to
/// its `dstID`, or up to the parent. Every failure that someone waits on gets
/// a dead reply with Mitogen's reason text ("invalid handle", "refused by
/// policy", "no route to 7, my ID is 0", ...), never silence.
///
/// A master creates contexts through the factory methods in `Master/`
/// (`local`, `fork`, ...); a child builds its router in `ExternalContext`.
///
/// ```swift
/// let router = Router()                        // a master, with its own Broker
/// let child = try router.local()
/// let pid: Int = try child.call("os.getpid")
/// router.shutdown()
/// ```
public final class Router: @unchecked Sendable {
    // @unchecked: shared tables are Mutexes or atomics; `parentStream` is set
    // once before the router is shared; the rest is immutable.

    public let broker: Broker
    /// This context's id: 0 in a master.
    public let contextID: UInt32
    /// Ids of this context's parent, grandparent, ... up to the master.
    public let parentIDs: [UInt32]
    /// When true, children may only talk to this context and its ancestors
    /// (no sibling-to-sibling forwarding). Children inherit it.
    public let unidirectional: Bool
    /// Largest message data this router accepts or sends.
    public let maxMessageSize: Int

    struct HandlerEntry {
        var persist: Bool
        var fn: MessageHandler
        var policy: Policy?
        var respondentID: UInt32?
    }

    private let handlers = Lock<[UInt32: HandlerEntry]>([:])
    private let nextHandle = Atomic<UInt32>(Handle.firstDynamic)
    package let routes = Lock<[UInt32: Stream]>([:])
    /// Canonical contexts by id; gone ones nothing else holds are pruned
    /// (see `pruneContexts`), so the table does not keep every id ever seen.
    private let contexts = Lock(ContextTable())
    struct ContextTable {
        var map: [UInt32: Context] = [:]
        /// Prune when the table reaches this size (twice what survived the last prune).
        var pruneAt = 256
    }
    private let ownsBroker: Bool
    package private(set) var parentStream: Stream?
    private let exited = Atomic<Bool>(false)
    /// What the master's snapshot API reads; also fed in children for their own use.
    public let observer = RouterObserver()
    /// Id blocks this router received to start children with: a child may
    /// claim a route for one of these only if it was granted to it.
    package let reservedIDs = Lock(IDRanges())
    /// State the layers above keep per router (the master's id counter and
    /// spawned processes, ...), without Core knowing its types.
    package let extensions = RouterExtensions()

    /// A master router with a private broker (shutdown grace `Broker.masterShutdownGrace`).
    /// - Parameter profiling: record every call's round trip by function and
    ///   write the table to `/tmp/mitogen.stats.<pid>.mitogen.broker.log` at
    ///   exit; children started from this router profile too. nil (the
    ///   default) follows the environment, as Mitogen does: on when
    ///   `MITOGEN_PROFILING` is set.
    public convenience init(
        broker: Broker? = nil, unidirectional: Bool = false, profiling: Bool? = nil,
        maxMessageSize: Int = WireLimits.defaultMaxMessageSize
    ) {
        self.init(
            broker: broker, contextID: 0, parentIDs: [], unidirectional: unidirectional,
            maxMessageSize: maxMessageSize,
            profiler: profiling ?? (environmentValue("MITOGEN_PROFILING") != nil) ? Profiler() : nil)
    }

    package init(
        broker: Broker?, contextID: UInt32, parentIDs: [UInt32], unidirectional: Bool, maxMessageSize: Int,
        profiler: Profiler? = nil
    ) {
        self.profiler = profiler
        self.ownsBroker = broker == nil
        self.broker = broker ?? Broker(shutdownTimeout: parentIDs.isEmpty ? Broker.masterShutdownGrace : Broker.childShutdownGrace)
        self.contextID = contextID
        self.parentIDs = parentIDs
        self.unidirectional = unidirectional
        self.maxMessageSize = maxMessageSize
        let setup = Latch<Bool>()
        self.broker.defer { [self] in
            self.broker.addLifecycleHandlers(
                graceful: { [weak self] in self?.onBrokerShutdown() },
                force: { [weak self] in self?.onBrokerForce() },
                exit: { [weak self] in self?.onBrokerExit() })
            try? setup.put(true)
        }
        _ = try? setup.get()
        // The seed's Broker.keep_alive: a router with contexts still
        // connected below it keeps its broker alive through shutdown's grace.
        self.broker.addKeepAliveCheck { [weak self] in
            self?.routes.withLock { $0.values.contains { !$0.isDisconnected } } ?? false
        }
        installRouteHandlers()
    }


    /// Set when this router profiles (see `init(profiling:)`): on the caller
    /// side every call's round trip by function; on the broker thread the
    /// time routing each peer's messages by handle. Written as
    /// `/tmp/mitogen.stats.<pid>.mitogen.broker.log` when the broker exits.
    public let profiler: Profiler?

    /// True in the master (context 0 with no parent).
    public var isMaster: Bool { parentIDs.isEmpty }

    // MARK: Handlers

    /// Invokes `fn(msg)` for each message sent to `handle` in this context.
    /// - Parameters:
    ///   - handle: an explicit handle (usually a standard one), or nil to allocate a new one.
    ///   - persist: false to unregister after the first message.
    ///   - respondent: if set, messages must come from this context, and `fn`
    ///     gets a dead message when it disconnects.
    ///   - policy: refuse messages for which it returns false (the sender gets
    ///     a dead "refused by policy" reply, and the refusal is logged).
    ///   - overwrite: replace an existing handler instead of throwing.
    /// - Returns: the handle.
    /// - Throws: `RouterError` if `handle` is already registered.
    @discardableResult
    public func addHandler(
        handle: UInt32? = nil, persist: Bool = true, respondent: Context? = nil, policy: Policy? = nil,
        overwrite: Bool = false, _ fn: @escaping MessageHandler
    ) throws(RouterError) -> UInt32 {
        let h = handle ?? nextHandle.add(1, ordering: .relaxed).oldValue
        let entry = HandlerEntry(persist: persist, fn: fn, policy: policy, respondentID: respondent?.contextID)
        let ok = handlers.withLock { map -> Bool in
            if map[h] != nil && !overwrite { return false }
            map[h] = entry
            return true
        }
        guard ok else { throw RouterError("cannot register a handle that already exists (\(h))") }
        if exited.load(ordering: .acquiring) {
            fn(deadMessage(ChannelError.brokerExited, handle: h))
        }
        return h
    }

    /// Removes the handler of `handle`.
    /// - Throws: `RouterError` if none is registered.
    public func delHandler(_ handle: UInt32) throws(RouterError) {
        guard handlers.withLock({ $0.removeValue(forKey: handle) }) != nil else {
            throw RouterError("no handler is registered for handle \(handle)")
        }
    }

    package func hasHandler(_ handle: UInt32) -> Bool { handlers.withLock { $0[handle] != nil } }

    // MARK: Contexts and routes

    /// The name of the context `id`, if this router has heard of it.
    package func knownName(of id: UInt32) -> String? { contexts.withLock { $0.map[id]?.name } }

    /// The canonical `Context` for `id`, created on first use.
    ///
    /// A context that disconnected and that no one else holds is eventually
    /// forgotten; asking for its id again then gives a fresh `Context` (ids
    /// are never reused, and calls to it fail with "no route").
    public func context(byID id: UInt32, name: String? = nil) -> Context {
        contexts.withLock { table in
            if let c = table.map[id] {
                if c.name == nil, let name { c.setName(name) }
                return c
            }
            let c = Context(router: self, id: id, name: name)
            table.map[id] = c
            return c
        }
    }

    /// Mitogen's `context_by_id(context_id, via_id)`: the canonical context
    /// for `id`, whose `via` becomes the context `viaID` when it is first
    /// learned here. Same as ``context(byID:name:)`` otherwise.
    public func contextByID(_ id: UInt32, viaID: UInt32? = nil, name: String? = nil) -> Context {
        let context = context(byID: id, name: name)
        if let viaID, viaID != id, context.via == nil { context.setVia(self.context(byID: viaID)) }
        return context
    }

    /// Forgets canonical contexts that are disconnected and referenced by
    /// this table only, once the table has doubled since the last prune.
    private func pruneContexts() {
        contexts.withLock { table in
            guard table.map.count >= table.pruneAt else { return }
            for id in Array(table.map.keys) where table.map[id]?.isDisconnected == true {
                if isKnownUniquelyReferenced(&table.map[id]!) { table.map[id] = nil }
            }
            table.pruneAt = max(256, table.map.count * 2)
        }
    }

    /// The stream that leads to `id`: its own route, else the parent's stream.
    public func streamByID(_ id: UInt32) -> Stream? {
        routes.withLock { $0[id] } ?? parentStream
    }

    /// Sends messages for `targetID` down the stream that leads to `viaID`.
    public func addRoute(targetID: UInt32, viaID: UInt32) throws(RouterError) {
        guard let stream = routes.withLock({ $0[viaID] }) else {
            throw RouterError("cannot add route to \(targetID): no stream for \(viaID)")
        }
        routes.withLock { $0[targetID] = stream }
    }

    /// Directly connected streams by the id of the context at their far end.
    func routesSnapshot() -> [(UInt32, Stream)] {
        routes.withLock { map in map.filter { $0.value.remoteID == $0.key }.map { ($0.key, $0.value) } }
    }

    func removeRoute(_ targetID: UInt32) { _ = routes.withLock { $0.removeValue(forKey: targetID) } }

    /// Ids whose route goes through `stream`.
    func routedIDs(via stream: Stream) -> [UInt32] {
        routes.withLock { map in map.compactMap { $0.value === stream ? $0.key : nil } }
    }

    /// Registers a directly connected context and its stream, and starts
    /// reading from it. Safe from any thread.
    ///
    /// Public as in the seed, but in practice internal: a `Stream` can only
    /// be made by this library (its initialiser is `package`), because a
    /// stream is valid only after the bootstrap handshake that the connection
    /// methods run. Programs connect contexts with the factories (`local`,
    /// `ssh`, ...), which call this.
    public func register(_ context: Context, stream: Stream) {
        stream.grantedIDs.withLock { _ = $0.insert(context.contextID) }
        routes.withLock { $0[context.contextID] = stream }
        attach(stream)
    }

    /// Cuts the stream to a directly connected context at once (the forced
    /// end after a graceful shutdown's grace time). Everything routed through
    /// it is lost and its waiters are woken. Returns false if `context` is not
    /// directly connected to this router (shut it down through its parent).
    @discardableResult
    public func disconnect(_ context: Context) -> Bool {
        guard let stream = routes.withLock({ $0[context.contextID] }), stream.remoteID == context.contextID else {
            return false
        }
        broker.defer { stream.disconnect(reason: "disconnected by \(self.contextID)") }
        return true
    }

    /// Makes `stream` this child's way to its parent (and every unknown id).
    package func setParent(_ stream: Stream) {
        parentStream = stream
        attach(stream)
    }

    private func attach(_ stream: Stream) {
        stream.onMessage = { [unowned self] msg, s in routeIngress(msg, from: s) }
        stream.disconnectHooks.append { [weak self, unowned stream] in self?.onStreamDisconnect(stream) }
        broker.defer { stream.start() }
    }

    // MARK: Routing

    /// Delivers `message` to its destination: a local handler, a child's
    /// stream, or the parent. Safe from any thread.
    ///
    /// A message whose `srcID` and `authID` are both unset (0, as
    /// `Message()` and `Message.pickled` leave them) is stamped with this
    /// context's id, as Mitogen's messages default to it, so a child's
    /// `route` to its parent is not dropped as a bad `auth_id`.
    public func route(_ message: Message) {
        var msg = message
        if msg.srcID == 0 && msg.authID == 0 && contextID != 0 {
            msg.srcID = contextID
            msg.authID = contextID
        }
        deliver(msg, from: nil)
    }

    func routeIngress(_ message: Message, from stream: Stream) {
        guard let profiler else { return deliver(message, from: stream) }
        // The broker thread's profile: time spent routing what each peer sent,
        // by handle (its handlers run inline, so their cost is included).
        let started = monotonicNow()
        deliver(message, from: stream)
        profiler.record("route handle \(message.handle) from \(stream.name)", seconds: monotonicNow() - started)
    }

    private func deliver(_ original: Message, from ingress: Stream?) {
        var msg = original
        if msg.data.count > maxMessageSize {
            let reason = "message too large (max \(maxMessageSize) bytes)"
            logRefusal("\(describe(msg)): \(reason)", from: ingress)
            if msg.replyTo != 0 && !msg.isDead {
                sendDead(replyingTo: msg, reason)
            } else if !msg.isDead {
                route(Message.dead(reason: reason, dstID: msg.dstID, handle: msg.handle).from(contextID))
            }
            return
        }
        let parent = parentStream
        var sourceStream: Stream? = nil
        if let ingress {
            let (authStream, srcStream) = routes.withLock { map in
                (map[msg.authID] ?? parent, map[msg.srcID] ?? parent)
            }
            sourceStream = srcStream
            if ingress !== authStream {
                logRefusal("\(ingress.name): bad auth_id: got \(msg.authID) via \(ingress.name), not \(authStream?.name ?? "nothing"): \(describe(msg))", from: ingress)
                return
            }
            if msg.srcID != msg.authID && ingress !== srcStream {
                logRefusal("\(ingress.name): bad src_id: got \(msg.srcID) via \(ingress.name), not \(srcStream?.name ?? "nothing"): \(describe(msg))", from: ingress)
                return
            }
            if let stamp = ingress.authID { msg.authID = stamp }
            ingress.egress.note(msg.dstID)
        }
        if msg.dstID == contextID {
            invoke(msg, from: ingress)
            return
        }
        var out = routes.withLock { $0[msg.dstID] }
        if out == nil, let parent, parent !== (ingress == nil ? nil : sourceStream) || ingress == nil {
            out = parent
        }
        guard let out, !(ingress != nil && out === ingress && ingress === parent) else {
            let reason = "no route to \(msg.dstID), my ID is \(contextID)"
            logRefusal("\(reason): \(describe(msg))", from: ingress)
            sendDead(replyingTo: msg, reason)
            return
        }
        if let ingress, unidirectional, !(ingress.isPrivileged || out.isPrivileged) {
            let reason = "routing mode prevents forward of message from context \(msg.srcID) to context \(msg.dstID) via context \(contextID)"
            logRefusal(reason, from: ingress)
            sendDead(replyingTo: msg, reason)
            return
        }
        do {
            switch try out.trySend(msg) {
            case .accepted: break
            case .closed: sendDead(replyingTo: msg, "no route to \(msg.dstID), my ID is \(contextID)")
            case .full: sendDead(replyingTo: msg, "the stream to \(out.name) is backed up: message dropped")
            }
        } catch {
            sendDead(replyingTo: msg, "message too large (max \(out.maxMessageSize) bytes)")
        }
    }

    /// Logs why a message was refused: always for a local one; for one from a
    /// peer the first ten and then every power of two per stream (with the
    /// count), so a flood of refused messages cannot flood the log.
    package func logRefusal(_ text: @autoclosure () -> String, from stream: Stream?) {
        guard let stream else {
            logError(text())
            return
        }
        let (log, count) = stream.noteRefusal()
        guard log else { return }
        logError(count > 10 ? "\(text()) (\(count) refused from \(stream.name) so far; only some are logged)" : text())
    }

    private func invoke(_ original: Message, from stream: Stream?) {
        var msg = original
        msg.routerRef = self
        let looked: (entry: HandlerEntry?, refusal: String?) = handlers.withLock { map in
            guard let entry = map[msg.handle] else { return (nil, "invalid handle") }
            if let r = entry.respondentID, !(msg.isDead || msg.srcID == r) {
                return (nil, "reply from unexpected context")
            }
            if let policy = entry.policy, !policy(msg, stream) {
                return (nil, "refused by policy")
            }
            if !entry.persist { map[msg.handle] = nil }
            return (entry, nil)
        }
        if let refusal = looked.refusal {
            if !msg.isDead {
                logRefusal("\(refusal): \(describe(msg)) from \(stream?.name ?? "local")", from: stream)
            }
            sendDead(replyingTo: msg, refusal)
            return
        }
        looked.entry?.fn(msg)
    }

    /// Sends a dead reply to `msg` if it wants a reply and is not itself dead.
    package func sendDead(replyingTo msg: Message, _ reason: String) {
        guard msg.replyTo != 0, !msg.isDead else { return }
        route(Message.dead(reason: reason, dstID: msg.srcID, handle: msg.replyTo).from(contextID))
    }

    func deadMessage(_ reason: String, handle: UInt32) -> Message {
        var m = Message.dead(reason: reason, dstID: contextID, handle: handle).from(contextID)
        m.routerRef = self
        return m
    }

    private func describe(_ msg: Message) -> String {
        "Message(dst \(msg.dstID), src \(msg.srcID), auth \(msg.authID), handle \(msg.handle), reply_to \(msg.replyTo), \(msg.data.count) bytes)"
    }

    // MARK: Disconnection

    /// A stream died: forget every route through it, tell waiters on those
    /// contexts, and, if it was the parent, shut down.
    private func onStreamDisconnect(_ stream: Stream) {
        let lost = routes.withLock { map -> [UInt32] in
            let ids = map.compactMap { $0.value === stream ? $0.key : nil }
            for id in ids { map[id] = nil }
            return ids
        }
        for id in lost { contextDisconnected(id) }
        if stream === parentStream {
            broker.shutdown()
        } else {
            propagateLoss(lost, except: stream)
        }
        observer.streamGone(stream)
    }

    /// Wakes every handler bound to context `id` with a dead message and
    /// fires the context's disconnect signal.
    func contextDisconnected(_ id: UInt32) {
        let woken = handlers.withLock { map -> [(UInt32, MessageHandler)] in
            var out: [(UInt32, MessageHandler)] = []
            for (h, e) in map where e.respondentID == id {
                out.append((h, e.fn))
                if !e.persist { map[h] = nil }
            }
            return out
        }
        // Mark the context gone first, so a woken waiter sees it disconnected.
        let ctx = contexts.withLock { $0.map[id] }
        ctx?.fireDisconnect()
        observer.contextGone(id)
        for (h, fn) in woken { fn(deadMessage(ChannelError.respondentDisconnected, handle: h)) }
        pruneContexts()
    }

    // MARK: Shutdown

    /// Shuts down the broker this router owns (or the shared one) gracefully:
    /// children are asked to shut down first. Safe from any thread.
    public func shutdown() { broker.shutdown() }

    /// Waits for the broker to finish.
    public func join(timeout: Double? = nil) throws(TimeoutError) { try broker.join(timeout: timeout) }

    private func onBrokerShutdown() {
        // Ask every directly connected child to shut down; their EOF ends our wait.
        let children = routes.withLock { map in map.filter { $0.value.remoteID == $0.key } }
        for (id, stream) in children where stream !== parentStream {
            _ = try? stream.send(Message(dstID: id, srcID: contextID, authID: contextID, handle: Handle.shutdown))
        }
    }

    private func onBrokerForce() {
        let streams = routes.withLock { Array($0.values) } + (parentStream.map { [$0] } ?? [])
        var seen = Set<ObjectIdentifier>()
        for s in streams where seen.insert(ObjectIdentifier(s)).inserted {
            if s === parentStream { s.flushBlocking(timeout: 1.0) }
            s.disconnect(reason: "broker shutdown")
        }
    }

    private func onBrokerExit() {
        exited.store(true, ordering: .releasing)
        profiler?.write(threadName: "mitogen.broker")
        let all = handlers.withLock { map -> [(UInt32, MessageHandler)] in
            defer { map.removeAll() }
            return map.map { ($0.key, $0.value.fn) }
        }
        for (h, fn) in all { fn(deadMessage(ChannelError.brokerExited, handle: h)) }
        observer.brokerExited()
    }
}


/// A misuse of the router (a duplicate or unknown handle, a bad route).
public struct RouterError: MitogenError, Equatable {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

extension Message {
    /// This message with `srcID` and `authID` set to `id`.
    package func from(_ id: UInt32) -> Message {
        var m = self
        m.srcID = id
        m.authID = id
        return m
    }
}

// MARK: - Built-in policies

/// Allows messages from a parent, or acting with a parent's authority
/// (Mitogen's `has_parent_authority`).
public func hasParentAuthority(_ message: Message, _ stream: Stream?) -> Bool {
    guard let router = message.router else { return false }
    return message.authID == router.contextID || router.parentIDs.contains(message.authID)
}

/// Allows messages only from the immediately connected child they arrived
/// from (Mitogen's `is_immediate_child`).
public func isImmediateChild(_ message: Message, _ stream: Stream?) -> Bool {
    guard let stream else { return false }
    return message.srcID == stream.remoteID
}
