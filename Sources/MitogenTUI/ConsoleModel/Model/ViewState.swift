import MitogenLib
/// How the context tree is ordered among siblings.
enum TreeSort: String, CaseIterable, Sendable {
    case id, name, age, state

    var next: TreeSort { Self.allCases[(Self.allCases.firstIndex(of: self)! + 1) % Self.allCases.count] }
}

/// What the operator is looking at: everything the renderers need besides
/// the data. Plain values, changed only by the UI thread.
struct ViewState: Sendable {
    /// Which pane has the keyboard.
    var focus: ViewScope = .tree
    /// Which pane fills the lower half.
    var bottom: ViewScope = .logs

    // Context tree
    /// The selected context, by id: the selection follows it when rows move.
    var selectedID: UInt32?
    /// With follow off, the selection stays on the same row instead.
    var followSelected = true
    var selectedRow = 0
    var treeScroll = 0
    var collapsed: Set<UInt32> = []
    var treeFilter = ""
    var sort: TreeSort = .id
    var showGone = true

    // Logs
    var logFollow = true
    /// Matching lines skipped from the end while paused.
    var logScroll = 0
    var logFilter = LogFilter()

    // Pending calls
    var selectedHandle: UInt32?
    var pendingScroll = 0
    /// Seconds after which a pending call shows as slow, then stuck.
    var slowAfter = 5.0
    var stuckAfter = 30.0

    // Streams and results
    var streamScroll = 0
    var resultsScroll = 0
    var resultsAllContexts = false

    // Whole screen
    var readOnly = false
    /// ASCII glyphs instead of Unicode line drawing (non-UTF-8 locale).
    var ascii = false
    var themeName = "default"
    var overlay: Overlay = .none
    var status = StatusMessage(text: "", isError: false)
}

/// A line of feedback on the status row.
struct StatusMessage: Equatable, Sendable {
    var text: String
    var isError: Bool
}

/// What is drawn over the panes and takes the keys first.
enum Overlay: Sendable {
    case none
    case help(scroll: Int)
    /// The `:` command line, or a one-field prompt (filters, call, password).
    case prompt(Prompt)
    case confirm(ConfirmDialog)
    case form(Form)
}

/// What a prompt's text is for.
enum PromptPurpose: Equatable, Sendable {
    case command
    case call(contextID: UInt32)
    case treeFilter
    case logFilter
    /// A password for `password=ask` on hop `hop` of a chain being opened.
    case password(requestID: Int, hop: Int)
}

/// A one-line input on the status row.
struct Prompt: Sendable {
    var purpose: PromptPurpose
    var label: String
    var editor: LineEditor
}

/// A yes/no question about a destructive action, defaulting to No.
struct ConfirmDialog: Sendable {
    enum Intent: Equatable, Sendable {
        case shutdown(ids: [UInt32], rootName: String)
        case quit
    }

    var title: String
    var message: [String]
    var intent: Intent
    /// Which button is highlighted: false (No) until the operator moves.
    var yesSelected = false
    var danger = true
}

/// A small dialog of text fields, e.g. to open a context without knowing
/// the chain syntax.
struct Form: Sendable {
    enum Intent: Equatable, Sendable {
        case open
        case call(contextID: UInt32)
    }

    struct Field: Sendable {
        var label: String
        var editor: LineEditor
        var hint: String
    }

    var title: String
    var fields: [Field]
    var focused = 0
    var intent: Intent
    var error: String?

    /// The open-a-context form: method, target, options, and whether to
    /// start it under the selected context.
    static func open(selectedName: String?) -> Form {
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
    func chainText() -> (String, underSelected: Bool) {
        let method = fields[0].editor.text.trimmingSpaces
        let target = fields[1].editor.text.trimmingSpaces
        let options = fields[2].editor.text.trimmingSpaces
        var hop = method
        if !target.isEmpty { hop += ":" + target }
        if !options.isEmpty { hop += "?" + options }
        return (hop, fields[3].editor.text.trimmingSpaces.hasPrefix("sel"))
    }
}
