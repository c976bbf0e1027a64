import MitogenSys
import Synchronization
public import MitogenWire

/// Mitogen's signals (`mitogen.core.listen(obj, name, func)` and
/// `fire(obj, name, *args)`): named events on an object, to which any
/// number of functions listen.
///
/// The library fires these, as Mitogen does:
///
/// | object  | signal         | when                                          |
/// |---------|----------------|-----------------------------------------------|
/// | Context | `"disconnect"` | its stream died or it shut down               |
/// | Stream  | `"disconnect"` | the stream was cut (args: the reason)         |
/// | Broker  | `"shutdown"`   | `shutdown()` began, before streams are asked  |
/// | Broker  | `"exit"`       | the broker thread is about to end             |
///
/// Programs may fire their own on any object. Listeners run on the thread
/// that fires (for the library's, the broker thread: do not block there).
/// A listener is kept until `unlisten` or until the object is gone.
///
/// ```swift
/// let token = Signals.listen(context, "disconnect") { _ in print("gone") }
/// ```
public enum Signals {
    /// Identifies a listener for ``unlisten(_:)``.
    public struct Token: Hashable, Sendable {
        fileprivate let object: ObjectIdentifier
        fileprivate let name: String
        fileprivate let serial: UInt64
    }

    public typealias Listener = @Sendable (_ args: [Value]) -> Void

    private struct Entry {
        weak var object: (any AnyObject & Sendable)?
        var listeners: [(serial: UInt64, fn: Listener)]
    }
    private struct Table {
        var entries: [ObjectIdentifier: [String: Entry]] = [:]
        var serial: UInt64 = 0
    }
    private static let table = Lock(Table())

    /// Calls `fn` each time `name` is fired on `object`.
    @discardableResult
    public static func listen(_ object: any AnyObject & Sendable, _ name: String, _ fn: @escaping Listener) -> Token {
        let id = ObjectIdentifier(object)
        return table.withLock { t in
            t.serial += 1
            // A recycled identifier of a dead object starts afresh.
            if let e = t.entries[id]?[name], e.object !== object { t.entries[id] = nil }
            t.entries[id, default: [:]][name, default: Entry(object: object, listeners: [])].listeners.append((t.serial, fn))
            return Token(object: id, name: name, serial: t.serial)
        }
    }

    /// Stops the listener `token` names. Unknown tokens are ignored.
    public static func unlisten(_ token: Token) {
        table.withLock { t in
            t.entries[token.object]?[token.name]?.listeners.removeAll { $0.serial == token.serial }
            if t.entries[token.object]?[token.name]?.listeners.isEmpty == true {
                t.entries[token.object]?[token.name] = nil
            }
            if t.entries[token.object]?.isEmpty == true { t.entries[token.object] = nil }
        }
    }

    /// Calls every listener of `name` on `object` with `args`, in the order
    /// they were added, outside the table's lock (a listener may listen or
    /// fire in turn).
    public static func fire(_ object: any AnyObject & Sendable, _ name: String, _ args: [Value] = []) {
        let id = ObjectIdentifier(object)
        let fns = table.withLock { t -> [Listener] in
            guard let e = t.entries[id]?[name], e.object === object else { return [] }
            return e.listeners.map(\.fn)
        }
        for fn in fns { fn(args) }
    }

    /// Forgets every listener of `object` (when it is gone for good).
    static func forget(_ object: any AnyObject & Sendable) {
        _ = table.withLock { $0.entries.removeValue(forKey: ObjectIdentifier(object)) }
    }
}
