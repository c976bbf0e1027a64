import MitogenLib
import ConsoleModel

extension ContextState {
    /// The theme role of a context in this state; `isNew` marks one that
    /// connected a moment ago.
    func role(isNew: Bool = false) -> Role {
        switch self {
        case .connecting, .authenticating, .uploading, .bootstrapping: .stateConnecting
        case .connected: isNew ? .stateNew : .stateConnected
        case .failed: .stateFailed
        case .shuttingDown: .stateShuttingDown
        case .gone: .stateGone
        }
    }
}
