/// A one-line text editor for the command line, filters and form fields:
/// cursor movement, deletion, history recall and Tab completion.
///
/// Keys: Left/Right, Home/End (Ctrl-A/Ctrl-E), Backspace, Del (Ctrl-D),
/// Ctrl-U (delete to start), Ctrl-K (to end), Ctrl-W (previous word),
/// Up/Down (history), Tab (complete). Enter and Esc are left to the caller.
package struct LineEditor: Sendable {
    /// The text, as characters so the cursor never splits a grapheme.
    private(set) var characters: [Character] = []
    /// Cursor position in `characters` (0...count).
    private(set) var cursor = 0
    /// Shown as `*` when true (passwords); never completed or kept in history.
    package var secret = false
    /// Candidates from the last ambiguous completion, for display.
    package private(set) var candidates: [String] = []
    private var historyIndex: Int?
    private var draft: [Character] = []

    package init(_ text: String = "", secret: Bool = false) {
        characters = Array(text)
        cursor = characters.count
        self.secret = secret
    }

    package var text: String { String(characters) }

    /// What to draw: the text, or stars for a secret.
    package var displayText: String { secret ? String(repeating: "*", count: characters.count) : text }

    /// The cursor's column within `displayText`.
    package var cursorColumn: Int { secret ? cursor : TextWidth.width(String(characters[..<cursor])) }

    mutating func setText(_ text: String) {
        characters = Array(text)
        cursor = characters.count
    }

    /// Applies an editing key.
    /// - Returns: false if the key is not an editing key (the caller's to handle).
    @discardableResult
    package mutating func handle(_ key: Key, history: inout History, completer: ((String) -> [String])? = nil) -> Bool {
        if key != .tab { candidates = [] }
        switch key {
        case .char(let c):
            characters.insert(c, at: cursor)
            cursor += 1
        case .left: cursor = max(0, cursor - 1)
        case .right: cursor = min(characters.count, cursor + 1)
        case .home, .ctrl("a"): cursor = 0
        case .end, .ctrl("e"): cursor = characters.count
        case .backspace, .ctrl("h"):
            if cursor > 0 {
                characters.remove(at: cursor - 1)
                cursor -= 1
            }
        case .delete, .ctrl("d"):
            if cursor < characters.count { characters.remove(at: cursor) }
        case .ctrl("u"):
            characters.removeFirst(cursor)
            cursor = 0
        case .ctrl("k"): characters.removeLast(characters.count - cursor)
        case .ctrl("w"):
            var start = cursor
            while start > 0 && characters[start - 1] == " " { start -= 1 }
            while start > 0 && characters[start - 1] != " " { start -= 1 }
            characters.removeSubrange(start..<cursor)
            cursor = start
        case .up:
            guard !secret, !history.entries.isEmpty else { return true }
            if historyIndex == nil { draft = characters }
            let i = max(0, (historyIndex ?? history.entries.count) - 1)
            historyIndex = i
            characters = Array(history.entries[i])
            cursor = characters.count
        case .down:
            guard !secret, let i = historyIndex else { return true }
            if i + 1 < history.entries.count {
                historyIndex = i + 1
                characters = Array(history.entries[i + 1])
            } else {
                historyIndex = nil
                characters = draft
            }
            cursor = characters.count
        case .tab:
            guard !secret, let completer else { return true }
            complete(with: completer)
        default:
            return false
        }
        return true
    }

    /// Completes the text before the cursor: a single candidate replaces the
    /// word being typed; several extend it to their common prefix and are
    /// kept in `candidates` for display.
    mutating func complete(with completer: (String) -> [String]) {
        let before = String(characters[..<cursor])
        let options = completer(before)
        guard !options.isEmpty else {
            candidates = []
            return
        }
        let word = Completion.currentWord(before)
        let common = options.dropFirst().reduce(options[0]) { $0.commonPrefix(with: $1) }
        var insertion = String(common.dropFirst(word.count))
        if options.count == 1 && !common.hasSuffix("=") { insertion += " " }
        characters.insert(contentsOf: insertion, at: cursor)
        cursor += insertion.count
        candidates = options.count > 1 ? options : []
    }
}

/// Entered lines, oldest first, without consecutive repeats, bounded.
package struct History: Sendable {
    package private(set) var entries: [String] = []
    var capacity = 200

    package init() {}

    package mutating func add(_ line: String) {
        let trimmed = line.trimmingSpaces
        guard !trimmed.isEmpty, entries.last != trimmed else { return }
        entries.append(trimmed)
        if entries.count > capacity { entries.removeFirst(entries.count - capacity) }
    }
}

extension String {
    func commonPrefix(with other: String) -> String {
        String(zip(self, other).prefix { $0 == $1 }.map(\.0))
    }
}
