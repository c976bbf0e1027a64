import Synchronization
import MitogenWire
import MitogenSys

/// The routing half of the tree (Mitogen's `RouteMonitor`): how every
/// ancestor learns the way to every descendant. (Ids are handed out by the
/// master's `IdAllocator` in MitogenMaster.)
///
/// - When a context finishes starting a child it sends ADD_ROUTE
///   `"<id>:<name>"` to its parent; each ancestor routes that id down the
///   stream it came from and passes the message up.
/// - When a stream dies, every id reached through it is forgotten, waiters on
///   those contexts are woken, and DEL_ROUTE `"<id>"` goes up to the parent
///   and down to every other child that ever sent to that id.
extension Router {
    func installRouteHandlers() {
        // Dead messages (the broker exiting) carry no route: handlers skip them.
        _ = try? addHandler(handle: Handle.addRoute, policy: isImmediateChild) { [weak self] msg in
            if !msg.isDead { self?.onAddRoute(msg) }
        }
        _ = try? addHandler(handle: Handle.delRoute) { [weak self] msg in
            if !msg.isDead { self?.onDelRoute(msg) }
        }
    }

    /// Every id this context can route to, with the name of the stream that
    /// leads there (the parent fallback is not listed).
    public func routeTable() -> [UInt32: String] {
        routes.withLock { $0.mapValues(\.name) }
    }

    /// Tells the parent (and through it every ancestor) how to reach `id`.
    package func announceRoute(_ id: UInt32, name: String) {
        guard !isMaster, let parent = parentIDs.first else { return }
        route(Message(dstID: parent, handle: Handle.addRoute, data: Array("\(id):\(name)".utf8)).from(contextID))
    }

    /// `"<id>[:<name>]"`; nil when malformed or the name is longer than a
    /// context name may be (Mitogen's 500 characters).
    private func parseRoute(_ msg: Message) -> (id: UInt32, name: String?)? {
        guard msg.data.count <= 16 + Self.maxContextNameLength else { return nil }
        let text = String(decoding: msg.data, as: UTF8.self)
        let parts = text.split(separator: ":", maxSplits: 1)
        guard let first = parts.first, let id = UInt32(first) else { return nil }
        return (id, parts.count > 1 ? String(parts[1]) : nil)
    }

    /// Longest context name a peer may give (Mitogen's `_unpickle_context` limit).
    package static let maxContextNameLength = 500

    /// Handles ADD_ROUTE from a child: checks the claim (`claimRefusal`),
    /// caps the routes one stream's subtree may hold at `Stream.maxRoutes`,
    /// and keeps the name only once made safe to show (`sanitizedForLog`).
    /// Refusals are logged at a bounded rate per stream (`logRefusal`).
    private func onAddRoute(_ msg: Message) {
        guard let (id, rawName) = parseRoute(msg), let via = routes.withLock({ $0[msg.srcID] }) else {
            logRefusal(
                "bad ADD_ROUTE from \(msg.srcID): \(Value.bytes(Array(msg.data.prefix(80))).displayText)",
                from: routes.withLock { $0[msg.srcID] })
            return
        }
        let name = rawName.map { sanitizedForLog($0, limit: Self.maxContextNameLength) }
        if let refusal = claimRefusal(id, via: via) {
            logRefusal("ADD_ROUTE for \(id) from \(msg.srcID) refused: \(refusal)", from: via)
            return
        }
        let outcome = routes.withLock { map -> String? in
            if let existing = map[id] {
                return existing === via ? nil : "conflicts with the route via \(existing.name)"
            }
            guard via.claimedRoutes.load(ordering: .relaxed) < Stream.maxRoutes else {
                return "its subtree already holds \(Stream.maxRoutes) routes"
            }
            via.claimedRoutes.add(1, ordering: .relaxed)
            map[id] = via
            return nil
        }
        if let outcome {
            logRefusal("ADD_ROUTE for \(id) from \(msg.srcID) refused: \(outcome)", from: via)
            return
        }
        let ctx = context(byID: id, name: name)
        if ctx.name == nil, let name { ctx.setName(name) }
        announceRoute(id, name: name ?? String(id))
    }

    /// Why the subtree behind `via` may not claim a route to `id`, or nil.
    ///
    /// Never this router's own id or its ancestors' (that would let a child
    /// act with their authority). The master allocates every id, so it
    /// accepts only ids it granted to that stream's subtree; an intermediary
    /// refuses the ids of its own blocks it did not grant to that stream and
    /// leaves the rest to the master, which checks them when the claim
    /// travels up.
    private func claimRefusal(_ id: UInt32, via: Stream) -> String? {
        if id == contextID || parentIDs.contains(id) { return "it is this context or an ancestor" }
        if via.grantedIDs.withLock({ $0.contains(id) }) { return nil }
        if isMaster { return "the id was not allocated to that subtree" }
        if reservedIDs.withLock({ $0.contains(id) }) { return "the id belongs to another child of this context" }
        return nil
    }

    private func onDelRoute(_ msg: Message) {
        guard let (id, _) = parseRoute(msg) else { return }
        let fromParent = parentStream != nil && routes.withLock({ $0[msg.srcID] }) == nil
        if fromParent {
            // A parent tells us a context we may have talked to is gone.
            contextDisconnected(id)
            return
        }
        guard let route = routes.withLock({ $0[id] }) else { return }
        guard route === routes.withLock({ $0[msg.srcID] }) else {
            logRefusal("DEL_ROUTE for \(id) from \(msg.srcID), which is not the route to it", from: routes.withLock { $0[msg.srcID] })
            return
        }
        if routes.withLock({ $0.removeValue(forKey: id) }) != nil, route.remoteID != id {
            route.claimedRoutes.subtract(1, ordering: .relaxed)
        }
        contextDisconnected(id)
        propagateLoss([id], except: route)
    }

    /// Sends DEL_ROUTE for `ids` up to the parent and down to every child
    /// stream (other than `except`) that has sent messages to them, which
    /// then forget them (a dead id no longer takes room in their sets).
    func propagateLoss(_ ids: [UInt32], except: Stream?) {
        guard !ids.isEmpty else { return }
        let children = routesSnapshot().map(\.1).filter { $0 !== except }
        for id in ids {
            let data = Array(String(id).utf8)
            if let parent = parentIDs.first {
                route(Message(dstID: parent, handle: Handle.delRoute, data: data).from(contextID))
            }
            for stream in children where stream.egress.takeLoss(id) {
                _ = try? stream.send(Message(dstID: stream.remoteID, handle: Handle.delRoute, data: data).from(contextID))
            }
        }
    }
}
