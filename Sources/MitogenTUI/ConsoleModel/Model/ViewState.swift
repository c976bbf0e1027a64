import MitogenLib
/// How the context tree is ordered among siblings.
package enum TreeSort: String, CaseIterable, Sendable {
    case id, name, age, state

    package var next: TreeSort { Self.allCases[(Self.allCases.firstIndex(of: self)! + 1) % Self.allCases.count] }
}

/// What the operator is looking at: everything the renderers need besides
/// the data. Plain values, changed only by the UI thread.
package struct ViewState: Sendable {
    /// Which pane has the keyboard.
    package var focus: ViewScope = .tree
    /// Which pane fills the lower half.
    package var bottom: ViewScope = .logs

    // Context tree
    /// The selected context, by id: the selection follows it when rows move.
    package var selectedID: UInt32?
    /// With follow off, the selection stays on the same row instead.
    package var followSelected = true
    package var selectedRow = 0
    package var treeScroll = 0
    package var collapsed: Set<UInt32> = []
    package var treeFilter = ""
    package var sort: TreeSort = .id
    package var showGone = true

    // Logs
    package var logFollow = true
    /// Matching lines skipped from the end while paused.
    package var logScroll = 0
    package var logFilter = LogFilter()

    // Pending calls
    package var selectedHandle: UInt32?
    package var pendingScroll = 0
    /// Seconds after which a pending call shows as slow, then stuck.
    package var slowAfter = 5.0
    package var stuckAfter = 30.0

    // Streams and results
    package var streamScroll = 0
    package var resultsScroll = 0
    package var resultsAllContexts = false

    // Fleets: marked contexts and the results table of a call on many
    package var fleet = FleetView()

    // Whole screen
    package var readOnly = false
    /// ASCII glyphs instead of Unicode line drawing (non-UTF-8 locale).
    package var ascii = false
    package var themeName = "default"
    package var overlay: Overlay = .none
    /// The open detail pane of a pending call (App+CallDetail), nil when closed.
    package var callDetail: CallDetail?
    /// Default deadlines of console calls, by context id (`:timeout`).
    package var callTimeouts: [UInt32: Double] = [:]
    package var status = StatusMessage(text: "", isError: false)

    package init() {}
}

/// A line of feedback on the status row.
package struct StatusMessage: Equatable, Sendable {
    package var text: String
    package var isError: Bool

    package init(text: String, isError: Bool) {
        self.text = text
        self.isError = isError
    }
}

/// What is drawn over the panes and takes the keys first.
package enum Overlay: Sendable {
    case none
    case help(scroll: Int)
    /// The `:` command line, or a one-field prompt (filters, call, password).
    case prompt(Prompt)
    case confirm(ConfirmDialog)
    case form(Form)
    /// The results table of a call on many contexts (FleetTable).
    case fleet
}

/// What a prompt's text is for.
package enum PromptPurpose: Equatable, Sendable {
    case command
    case call(contextID: UInt32)
    case treeFilter
    case logFilter
    /// A password for `password=ask` on hop `hop` of a chain being opened.
    case password(requestID: Int, hop: Int)
    /// A question a connection tool asked that is not the password (a
    /// one-time code, a key passphrase); answered without echo.
    case toolQuestion(id: Int)
    /// The results table's filter.
    case fleetFilter
}

/// A one-line input on the status row.
package struct Prompt: Sendable {
    package var purpose: PromptPurpose
    package var label: String
    package var editor: LineEditor

    package init(purpose: PromptPurpose, label: String, editor: LineEditor) {
        self.purpose = purpose
        self.label = label
        self.editor = editor
    }
}

/// A yes/no question about a destructive action, defaulting to No.
package struct ConfirmDialog: Sendable {
    package enum Intent: Equatable, Sendable {
        case shutdown(ids: [UInt32], rootName: String)
        case quit
    }

    package var title: String
    package var message: [String]
    package var intent: Intent
    /// Which button is highlighted: false (No) until the operator moves.
    package var yesSelected = false
    package var danger = true

    package init(title: String, message: [String], intent: Intent, yesSelected: Bool = false, danger: Bool = true) {
        self.title = title
        self.message = message
        self.intent = intent
        self.yesSelected = yesSelected
        self.danger = danger
    }
}

/// A small dialog of text fields, e.g. to open a context without knowing
/// the chain syntax.
package struct Form: Sendable {
    package enum Intent: Equatable, Sendable {
        case open
        case call(contextID: UInt32)
    }

    package struct Field: Sendable {
        package var label: String
        package var editor: LineEditor
        package var hint: String
    }

    package var title: String
    package var fields: [Field]
    package var focused = 0
    package var intent: Intent
    package var error: String?

    /// The open-a-context form: method, target, options, and whether to
    /// start it under the selected context.
    package static func open(selectedName: String?) -> Form {
        Form(
            title: "Open a context",
            fields: [
                Field(label: "Method", editor: LineEditor("local"), hint: "local, fork, ssh, sudo, ... (Tab completes)"),
                Field(label: "Target", editor: LineEditor(), hint: "user@host:port, user, container; empty for local"),
                Field(label: "Options", editor: LineEditor(), hint: "key=value&... e.g. name=web&password=ask"),
                Field(
                    label: "Under", editor: LineEditor("master"),
                    hint: "master, or selected (\(selectedName ?? "none"))"),
            ], intent: .open)
    }

    /// The chain text the open form describes, and whether it goes under the selected context.
    package func chainText() -> (String, underSelected: Bool) {
        let method = fields[0].editor.text.trimmingSpaces
        let target = fields[1].editor.text.trimmingSpaces
        let options = fields[2].editor.text.trimmingSpaces
        var hop = method
        if !target.isEmpty { hop += ":" + target }
        if !options.isEmpty { hop += "?" + options }
        return (hop, fields[3].editor.text.trimmingSpaces.hasPrefix("sel"))
    }
}
