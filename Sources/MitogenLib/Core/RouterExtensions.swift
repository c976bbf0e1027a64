import MitogenSys
import Synchronization

/// Per-router state owned by a layer above Core (the master's id counter, its
/// spawned processes, a transport's settings), kept here by type so the
/// router need not know those types: `router.extensions.get { MasterState(router) }`.
///
/// Each type has at most one instance per router, created on first use under
/// the lock, so a layer can install its handlers exactly once from `make`.
package final class RouterExtensions: Sendable {
    private let slots = Lock<[ObjectIdentifier: any Sendable]>([:])

    package init() {}

    /// The instance of `T` for this router, made by `make` on first use.
    package func get<T: AnyObject & Sendable>(_ make: () -> T) -> T {
        slots.withLock { map in
            if let existing = map[ObjectIdentifier(T.self)] as? T { return existing }
            let made = make()
            map[ObjectIdentifier(T.self)] = made
            return made
        }
    }

    /// The instance of `T`, if one was made.
    package func existing<T: AnyObject & Sendable>(_ type: T.Type) -> T? {
        slots.withLock { $0[ObjectIdentifier(T.self)] as? T }
    }
}
