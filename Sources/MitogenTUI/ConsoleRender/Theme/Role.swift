/// A semantic screen role: what a piece of text *is*, never what colour it
/// has. Renderers tag text with roles; a `Theme` turns roles into styles.
///
/// The raw value is the name used in `themes/*.theme` files. A role missing
/// from a theme falls back along its dotted name (`state.failed` → `state` is
/// not a role, so → `base`), see `fallback`.
package enum Role: String, CaseIterable, Sendable, Hashable {
    case base
    case border
    case borderFocus = "border.focus"
    case title
    case header
    case selection
    case selectionUnfocused = "selection.unfocused"
    case mark
    case fbarKey = "fbar.key"
    case fbarLabel = "fbar.label"
    case status
    case statusError = "status.error"
    case stateConnecting = "state.connecting"
    case stateConnected = "state.connected"
    case stateFailed = "state.failed"
    case stateShuttingDown = "state.shutting_down"
    case stateGone = "state.gone"
    case stateNew = "state.new"
    case treeGuide = "tree.guide"
    case rateIn = "rate.in"
    case rateOut = "rate.out"
    case spark
    case logDebug = "log.debug"
    case logInfo = "log.info"
    case logWarning = "log.warning"
    case logError = "log.error"
    case pendingOK = "pending.ok"
    case pendingSlow = "pending.slow"
    case pendingStuck = "pending.stuck"
    case dialog
    case dialogDanger = "dialog.danger"
    case input
    case match
    case dim

    /// The role whose style is used when a theme does not set this one.
    var fallback: Role? {
        switch self {
        case .base: nil
        case .borderFocus: .border
        case .selectionUnfocused: .selection
        case .statusError: .status
        case .dialogDanger: .dialog
        default: .base
        }
    }
}
