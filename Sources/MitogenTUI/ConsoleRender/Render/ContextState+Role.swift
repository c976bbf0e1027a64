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

extension ContextState {
    /// The state as the tree's row shows it: a failed connect started `via`
    /// another context without Mitogen's "error occurred on host H: "
    /// prefix, since the row already sits under that context (the status
    /// line shows the whole text of the selected row).
    var rowText: String {
        guard case .failed(var error) = self else { return description }
        let prefix = "error occurred on host "
        while error.hasPrefix(prefix) {
            let host = error.dropFirst(prefix.count)
            guard let colon = host.firstIndex(of: ":"), host[colon...].hasPrefix(": "),
                !host[..<colon].contains(" ")
            else { break }
            error = String(host[colon...].dropFirst(2))
        }
        return "failed: " + error
    }
}
