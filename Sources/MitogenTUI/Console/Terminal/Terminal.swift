import CNcursesw
import Glibc
import ConsoleModel
import ConsoleRender

/// The thin layer over ncursesw: start and stop curses, turn theme roles
/// into curses attributes and colour pairs, draw a `Frame`, and decode keys
/// and mouse events (notes/tui-anchors.md §6).
///
/// Not thread-safe, like curses itself: only the UI thread may touch it.
final class Terminal {
    /// True when the locale's codeset is UTF-8 (else ASCII glyphs are used).
    private(set) var utf8 = false
    private(set) var depth: ColorDepth = .mono
    private var started = false
    private var styleCache: [Role: (attr_t, Int32)] = [:]
    private var pairs: [PairKey: Int32] = [:]
    private var pendingKeys: [Key] = []
    private var theme = Theme(name: "none")

    private struct PairKey: Hashable {
        var fg: Int32
        var bg: Int32
    }

    /// Starts curses on the controlling terminal.
    /// - Parameters:
    ///   - mouse: report clicks and the wheel (off with `-M`, so text can be selected).
    ///   - noColor: use attributes only (`NO_COLOR` set).
    func start(mouse: Bool, noColor: Bool) {
        setlocale(LC_ALL, "")
        if let cs = nl_langinfo(nl_item(CODESET)) { utf8 = String(cString: cs).uppercased().replacingDashes == "UTF8" }
        if getenv("ESCDELAY") == nil { set_escdelay(25) }
        initscr()
        started = true
        cbreak()
        noecho()
        nonl()
        intrflush(mt_stdscr(), false)
        keypad(mt_stdscr(), true)
        nodelay(mt_stdscr(), true)
        curs_set(0)
        if !noColor && has_colors() {
            start_color()
            use_default_colors()
            depth = ColorDepth(colors: Int(mt_colors()))
        } else {
            depth = .mono
        }
        if mouse {
            mouseinterval(0)
            mousemask(mt_BUTTON1_PRESSED() | mt_BUTTON4_PRESSED() | mt_BUTTON5_PRESSED(), nil)
        }
    }

    /// Restores the terminal (safe to call twice).
    func stop() {
        guard started else { return }
        started = false
        curs_set(1)
        endwin()
    }

    /// Current size in cells.
    var size: (width: Int, height: Int) {
        var y: Int32 = 0, x: Int32 = 0
        mt_getmaxyx(mt_stdscr(), &y, &x)
        return (Int(x), Int(y))
    }

    /// Uses `theme` for the next frames.
    func apply(_ theme: Theme) {
        self.theme = theme
        styleCache = [:]
        pairs = [:]
    }

    /// Draws a whole frame and shows it (`wnoutrefresh` + `doupdate`: curses
    /// sends only the cells that changed).
    func draw(_ frame: Frame) {
        let (width, height) = size
        for (row, line) in frame.lines.prefix(height).enumerated() {
            move(Int32(row), 0)
            var col = 0
            for span in line.spans where col < width {
                var (attrs, pair) = style(span.role)
                attr_set(attrs, Int16(truncatingIfNeeded: min(pair, 32767)), &pair)
                let (text, w) = TextWidth.prefix(span.text, columns: width - col)
                // The bottom-right cell makes curses report ERR (it would scroll); the text still shows.
                _ = mvaddstr(Int32(row), Int32(col), text)
                col += w
            }
        }
        var (attrs, pair) = style(.base)
        attr_set(attrs, Int16(truncatingIfNeeded: min(pair, 32767)), &pair)
        if let c = frame.cursor {
            move(Int32(c.row), Int32(c.column))
            curs_set(1)
        } else {
            curs_set(0)
        }
        wnoutrefresh(mt_stdscr())
        doupdate()
    }

    /// Forces a full repaint on the next draw (Ctrl-L).
    func invalidate() { clearok(mt_stdscr(), true) }

    private func style(_ role: Role) -> (attr_t, Int32) {
        if let s = styleCache[role] { return s }
        let resolved = theme.style(role, at: depth)
        var attrs = mt_A_NORMAL()
        if resolved.attributes.contains(.bold) { attrs |= mt_A_BOLD() }
        if resolved.attributes.contains(.dim) { attrs |= mt_A_DIM() }
        if resolved.attributes.contains(.reverse) { attrs |= mt_A_REVERSE() }
        if resolved.attributes.contains(.underline) { attrs |= mt_A_UNDERLINE() }
        if resolved.attributes.contains(.italic) { attrs |= mt_A_ITALIC() }
        var pair: Int32 = 0
        if depth != .mono {
            let key = PairKey(fg: resolved.fg?.cursesNumber ?? -1, bg: resolved.bg?.cursesNumber ?? -1)
            if key.fg != -1 || key.bg != -1 {
                if let p = pairs[key] {
                    pair = p
                } else if Int32(pairs.count + 1) < mt_color_pairs() {
                    pair = Int32(pairs.count + 1)
                    init_extended_pair(pair, key.fg, key.bg)
                    pairs[key] = pair
                }
            }
        }
        styleCache[role] = (attrs, pair)
        return (attrs, pair)
    }

    // MARK: Input

    /// The next key if one is buffered, else nil (never blocks: curses is
    /// in nodelay mode; the app polls stdin first). Esc followed at once by
    /// a digit is an F-key (Esc 0 = F10), for keyboards and terminals that
    /// eat F-keys.
    func readKey() -> Key? {
        if !pendingKeys.isEmpty { return pendingKeys.removeFirst() }
        guard let key = rawKey() else { return nil }
        if key == .escape, let next = rawKey() {
            if case .char(let c) = next, let d = c.wholeNumberValue { return .function(d == 0 ? 10 : d) }
            pendingKeys.append(next)
        }
        return key
    }

    private func rawKey() -> Key? {
        var ch: wint_t = 0
        let r = get_wch(&ch)
        if r == ERR { return nil }
        if r == KEY_CODE_YES { return functionKey(Int32(ch)) }
        guard let scalar = Unicode.Scalar(UInt32(ch)) else { return nil }
        return Key(scalar: scalar)
    }

    private func functionKey(_ code: Int32) -> Key? {
        switch code {
        case KEY_UP: return .up
        case KEY_DOWN: return .down
        case KEY_LEFT: return .left
        case KEY_RIGHT: return .right
        case KEY_PPAGE: return .pageUp
        case KEY_NPAGE: return .pageDown
        case KEY_HOME: return .home
        case KEY_END: return .end
        case KEY_ENTER: return .enter
        case KEY_BACKSPACE: return .backspace
        case KEY_DC: return .delete
        case KEY_BTAB: return .backTab
        case KEY_RESIZE: return .resize
        case KEY_MOUSE:
            var event = MEVENT()
            guard getmouse(&event) == OK else { return nil }
            let kind: MouseEvent.Kind
            if event.bstate & mt_BUTTON4_PRESSED() != 0 {
                kind = .wheelUp
            } else if event.bstate & mt_BUTTON5_PRESSED() != 0 {
                kind = .wheelDown
            } else if event.bstate & mt_BUTTON1_PRESSED() != 0 {
                kind = .press
            } else {
                return nil
            }
            return .mouse(MouseEvent(kind: kind, row: Int(event.y), column: Int(event.x)))
        default:
            let f0 = mt_key_f(0)
            if code > f0 && code <= f0 + 24 { return .function(Int(code - f0)) }
            return nil
        }
    }
}

extension String {
    fileprivate var replacingDashes: String { String(filter { $0 != "-" }) }
}
