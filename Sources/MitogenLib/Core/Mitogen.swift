import Synchronization
import MitogenWire
import MitogenSys

/// Package data of the seed's `mitogen` module: who this process is in the
/// tree. In a master these stay at their defaults; a child sets them at start.
public enum Mitogen {
    private struct Identity {
        var isMaster = true
        var contextID: UInt32 = 0
        var parentIDs: [UInt32] = []
        var contextName = "master"
        var childHash: String?
    }
    private static let identity = Lock(Identity())

    /// Version of this implementation, and of the Mitogen protocol it speaks
    /// (`(0, 3, 54)`).
    public static let version = "0.1.0"
    public static let protocolVersion = (0, 3, 54)

    /// True in the master process; false in every child.
    public static var isMaster: Bool { identity.withLock { $0.isMaster } }
    /// This context's id: 0 in the master.
    public static var contextID: UInt32 { identity.withLock { $0.contextID } }
    /// The parent's id, or nil in the master.
    public static var parentID: UInt32? { identity.withLock { $0.parentIDs.first } }
    /// Ids of the parent, grandparent, ... up to the master.
    public static var parentIDs: [UInt32] { identity.withLock { $0.parentIDs } }
    /// This context's name (`master` in the master).
    public static var contextName: String { identity.withLock { $0.contextName } }

    /// SHA-256 of this child's own executable, when the parent said it.
    package static var childHash: String? { identity.withLock { $0.childHash } }

    package static func setChildIdentity(contextID: UInt32, parentIDs: [UInt32], name: String, childHash: String?) {
        identity.withLock {
            $0 = Identity(isMaster: false, contextID: contextID, parentIDs: parentIDs, contextName: name, childHash: childHash)
        }
    }
}
