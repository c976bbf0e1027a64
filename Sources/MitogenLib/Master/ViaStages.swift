import MitogenCore
import MitogenSys
import MitogenWire

/// The connect stages of a context started `via` another one, shown in the
/// master's tree while the intermediary's `_proxy_connect` call is pending.
///
/// The intermediary pushes a small note upward at each stage change of the
/// child it starts; the master does not poll it. Pushing costs nothing
/// while nothing changes and shows a stage within one message's latency,
/// where a poll would add a call per interval per pending connect (a fleet
/// opens hundreds) and still miss short stages. It stays hostile-safe
/// because the master opens a handle for this one call and accepts on it
/// only: messages from the context it asked (the router checks the source,
/// the handler the authority), at most `maxNotes` of at most `maxNoteBytes`
/// each, with every field checked (an id granted to that subtree and not
/// already a context, a bounded name, a known stage, sane byte counts), and
/// nothing once the call has ended. Each level of a nested chain is its own
/// call to the hop that starts the next context, so `a -> b -> c` works the
/// same at every depth.
///
/// A note is `{'id': int, 'name': str, 'pid': int | None, 'stage': str,
/// 'sent': int, 'total': int}` where stage is one of `connecting`,
/// `authenticating`, `uploading` (with bytes `sent` of `total`) and
/// `bootstrapping`; the outcome itself comes with the call's reply.
enum ViaStageNote {
    /// Largest pickled note the master reads.
    static let maxNoteBytes = 1024
    /// Most notes the master takes for one connect (an upload sends one per
    /// percent, so about 105 at most from an honest hop).
    static let maxNotes = 256
    /// Largest byte count a note may name (far above any child binary).
    static let maxBytes = 1 << 40

    /// The note for `info`, or nil for a state that is not a connect stage.
    static func encode(_ info: ContextInfo) -> Value? {
        var sent = 0
        var total = 0
        let stage: String
        switch info.state {
        case .connecting: stage = "connecting"
        case .authenticating: stage = "authenticating"
        case .uploading(let s, let t): (stage, sent, total) = ("uploading", s, t)
        case .bootstrapping: stage = "bootstrapping"
        default: return nil
        }
        return .dict(PyDict([
            ("id", .int(Int(info.id))), ("name", .str(info.name)), ("pid", info.pid.map { .int(Int($0)) } ?? .none),
            ("stage", .str(stage)), ("sent", .int(sent)), ("total", .int(total)),
        ]))
    }

    /// A note's fields, checked; nil for anything malformed.
    static func decode(_ value: Value) -> (id: UInt32, name: String, pid: Int32?, state: ContextState)? {
        guard let d = value.dictValue, let id = d["id"]?.intValue.flatMap({ UInt32(exactly: $0) }),
            let rawName = d["name"]?.stringValue, rawName.utf8.count <= Router.maxContextNameLength,
            let stage = d["stage"]?.stringValue
        else { return nil }
        var pid: Int32?
        if let p = d["pid"], !p.isNone {
            guard let n = p.intValue.flatMap({ Int32(exactly: $0) }), n > 0 else { return nil }
            pid = n
        }
        let state: ContextState
        switch stage {
        case "connecting": state = .connecting
        case "authenticating": state = .authenticating
        case "bootstrapping": state = .bootstrapping
        case "uploading":
            guard let sent = d["sent"]?.intValue, let total = d["total"]?.intValue,
                0 <= sent, sent <= total, total <= maxBytes
            else { return nil }
            state = .uploading(sent: sent, total: total)
        default: return nil
        }
        return (id, sanitizedForLog(rawName, limit: Router.maxContextNameLength), pid, state)
    }
}

/// The intermediary's side: sends a note to the caller's handle when the
/// stage of the child it starts changes (the same stage twice, or an upload
/// percent that did not move, sends nothing).
final class ViaStageReporter: Sendable {
    private let router: Router
    private let callerID: UInt32
    private let handle: UInt32
    private let last = Lock<String?>(nil)

    init(router: Router, callerID: UInt32, handle: UInt32) {
        self.router = router
        self.callerID = callerID
        self.handle = handle
    }

    func report(_ info: ContextInfo) {
        guard let note = ViaStageNote.encode(info) else { return }
        let shown = info.state.description
        let changed = last.withLock { l in
            defer { l = shown }
            return l != shown
        }
        guard changed else { return }
        router.route(Message.pickled(note, dstID: callerID, handle: handle).from(router.contextID))
    }
}

/// The master's side of one pending via connect: turns the intermediary's
/// notes into the new context's row under `via`, then gives the row its
/// outcome. Notes arrive on the broker thread, the outcome on the caller's.
final class ViaStageRow: Sendable {
    private struct State {
        var id: UInt32?
        var notes = 0
        var finished = false
    }
    private let router: Router
    private let via: Context
    private let method: String
    private let name: String?
    private let state = Lock(State())

    init(router: Router, via: Context, method: String, name: String?) {
        self.router = router
        self.via = via
        self.method = method
        self.name = name
    }

    /// The row's id, once a note named it.
    var id: UInt32? { state.withLock { $0.id } }

    /// The name the master gives the new context (as the reply's handling does).
    func displayName(_ childName: String) -> String {
        name ?? "\(via.name ?? String(via.contextID)).\(childName)"
    }

    /// One message on the stage handle. Broker thread; never blocks.
    func receive(_ msg: Message) {
        guard !msg.isDead, msg.authID == via.contextID, msg.data.count <= ViaStageNote.maxNoteBytes,
            let value = try? msg.unpickle(), let note = ViaStageNote.decode(value)
        else { return }
        let router = self.router
        // Decided and published under the lock, so `finish` cannot run between.
        state.withLock { s in
            guard !s.finished, s.notes < ViaStageNote.maxNotes else { return }
            s.notes += 1
            if let known = s.id {
                guard known == note.id else { return }
                router.observer.contextUpdated(known) { [pid = note.pid] in
                    $0.state = note.state
                    if let pid { $0.pid = pid }
                }
                return
            }
            guard isFresh(note.id) else { return }
            s.id = note.id
            router.observer.contextAdded(
                ContextInfo(
                    id: note.id, name: displayName(note.name), method: method, parentID: via.contextID, pid: note.pid,
                    state: note.state, since: monotonicNow()))
        }
    }

    /// An id the master granted to `via`'s subtree that names no context yet
    /// (the check `_proxy_connect`'s reply gets, plus: no existing row).
    private func isFresh(_ id: UInt32) -> Bool {
        guard id != router.contextID, !router.parentIDs.contains(id),
            let stream = router.streamByID(via.contextID), stream.grantedIDs.withLock({ $0.contains(id) })
        else { return false }
        return router.observer.context(id) == nil
    }

    /// Ends the notes (once; later calls change nothing); the row gets
    /// `failure` as its state, or keeps its stage for the caller to set
    /// `connected` (nil). Returns the id a note named, if any.
    @discardableResult
    func finish(failure: String?) -> UInt32? {
        state.withLock { s in
            guard !s.finished else { return s.id }
            s.finished = true
            if let id = s.id, let failure {
                router.observer.contextUpdated(id) { $0.state = .failed(failure) }
            }
            return s.id
        }
    }
}
