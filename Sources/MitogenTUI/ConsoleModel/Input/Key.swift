/// A mouse event the console uses: a press or wheel step at a cell.
package struct MouseEvent: Hashable, Sendable {
    package enum Kind: Hashable, Sendable { case press, wheelUp, wheelDown }
    package var kind: Kind
    package var row: Int
    package var column: Int

    package init(kind: Kind, row: Int, column: Int) {
        self.kind = kind
        self.row = row
        self.column = column
    }
}

/// One key press, decoded from curses (`Terminal.readKey`).
package enum Key: Hashable, Sendable, CustomStringConvertible {
    case char(Character)
    /// Ctrl plus a lowercase letter.
    case ctrl(Character)
    case function(Int)
    case up, down, left, right, pageUp, pageDown, home, end
    case enter, escape, tab, backTab, backspace, delete
    case resize
    case mouse(MouseEvent)

    package static let space = Key.char(" ")

    /// The name shown in the F-bar, the help overlay and docs/keys.md.
    package var description: String {
        switch self {
        case .char(" "): "Space"
        case .char(let c): String(c)
        case .ctrl(let c): "Ctrl-" + String(c).uppercased()
        case .function(let n): "F\(n)"
        case .up: "Up"
        case .down: "Down"
        case .left: "Left"
        case .right: "Right"
        case .pageUp: "PgUp"
        case .pageDown: "PgDn"
        case .home: "Home"
        case .end: "End"
        case .enter: "Enter"
        case .escape: "Esc"
        case .tab: "Tab"
        case .backTab: "Shift-Tab"
        case .backspace: "Backspace"
        case .delete: "Del"
        case .resize: "(resize)"
        case .mouse: "(mouse)"
        }
    }

    /// A key from a typed character: control codes become `.ctrl`, Enter,
    /// Tab, Backspace and Esc their own cases.
    package init(scalar: Unicode.Scalar) {
        switch scalar.value {
        case 9: self = .tab
        case 10, 13: self = .enter
        case 27: self = .escape
        case 8, 127: self = .backspace
        case 1...26: self = .ctrl(Character(Unicode.Scalar(scalar.value + 96)!))
        default: self = .char(Character(scalar))
        }
    }
}
