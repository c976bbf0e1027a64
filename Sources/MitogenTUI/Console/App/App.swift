import Glibc
import MitogenLib
import MitogenSys
import ConsoleModel
import ConsoleRender
import Inventory

/// Signal number caught by `signalHandler`, read by the UI loop.
/// nonisolated(unsafe): written only by the async-signal handler, read by the UI thread; an int store is atomic enough.
nonisolated(unsafe) private var caughtSignal: Int32 = 0
/// The wake pipe's write end for the signal handler.
nonisolated(unsafe) private var signalWakeFD: Int32 = -1

/// The console: one UI thread that owns curses, polls stdin and the wake-up
/// pipe, keeps the view state, and redraws at most `maxFPS` times a second
/// (once a second when idle, so ages tick).
///
/// Worker threads (connects, calls, shutdowns) never touch the UI; they post
/// `AppEvent`s through the `WakePipe`.
final class App {
    struct Options {
        var chains: [ChainSpec] = []
        var themeName = "default"
        var readOnly = false
        var mouse = true
        var slowAfter = 5.0
        var stuckAfter = 30.0
    }

    let router: Router
    let terminal = Terminal()
    let wake: WakePipe
    let themes = ThemeLibrary.standard()
    var options: Options

    var state = ViewState()
    var snapshot = ConsoleSnapshot()
    var logs = LogStore(capacity: 10_000)
    var rates = RateTracker()
    var results = ResultStore()
    var tree = TreeOutcome(rows: [], selectedIndex: nil, scroll: 0)
    var history = History()
    var completion = Completion()
    /// Set once a context answered `mitogen.functions`: completion offers its catalog.
    var listedFunctions = false
    var running = true
    /// Questions from connection tools waiting for the operator, by prompt id.
    var toolQuestions: [Int: Latch<String?>] = [:]
    /// Password prompts still to answer before an open can start.
    var pendingOpens: [Int: PendingOpen] = [:]
    var nextRequestID = 1
    /// The inventory `:inventory` loaded, for `@group` (App+Fleet.swift).
    var inventory: MitogenInventory?
    /// Which results table the fleet's call workers report to.
    var fleetSerial = 0

    static let maxFPS = 15.0
    private var lastDraw = 0.0
    private var dataDirty = true
    private var uiDirty = true
    private var statusSetAt = 0.0

    init(router: Router, options: Options) throws {
        self.router = router
        self.options = options
        wake = try WakePipe()
        state.readOnly = options.readOnly
        state.slowAfter = options.slowAfter
        state.stuckAfter = options.stuckAfter
    }

    /// Runs the console until the operator quits.
    func run() {
        terminal.start(mouse: options.mouse, noColor: getenv("NO_COLOR").map { $0.pointee != 0 } ?? false)
        defer { terminal.stop() }
        state.ascii = !terminal.utf8
        loadTheme(options.themeName, initial: true)
        completion.themes = themes.names()
        installSignalHandlers()
        let wake = self.wake
        router.onChange { wake.wake() }
        startInitialContexts()

        var fds = [
            pollfd(fd: 0, events: Int16(POLLIN), revents: 0),
            pollfd(fd: wake.readFD, events: Int16(POLLIN), revents: 0),
        ]
        while running {
            let now = monotonicNow()
            let sinceDraw = now - lastDraw
            var timeout = max(0, 1.0 - sinceDraw)
            if uiDirty { timeout = 0 } else if dataDirty { timeout = max(0, 1 / Self.maxFPS - sinceDraw) }
            fds[0].revents = 0
            fds[1].revents = 0
            _ = poll(&fds, 2, Int32(timeout * 1000))
            // The terminal went away (its tmux or ssh session died): quit once
            // its last keys are read, instead of spinning on a dead descriptor.
            let hungUp = fds[0].revents & Int16(POLLHUP | POLLERR | POLLNVAL) != 0
            if fds[1].revents != 0 {
                for event in wake.drain() { handle(event) }
                dataDirty = true
            }
            if caughtSignal != 0 {
                state.status = StatusMessage(text: "caught signal \(caughtSignal): quitting", isError: true)
                running = false
                break
            }
            while let key = terminal.readKey() {
                handleKey(key)
                uiDirty = true
                if !running { break }
            }
            if hungUp {
                running = false
                break
            }
            let t = monotonicNow()
            if uiDirty || t - lastDraw >= 1.0 || (dataDirty && t - lastDraw >= 1 / Self.maxFPS) {
                refreshData()
                refreshCallDetailIfDue()
                draw()
            }
        }
    }

    /// Takes a new snapshot, drains new logs, samples rates.
    func refreshData() {
        snapshot = ConsoleSnapshot(router.snapshot())
        let (records, dropped) = router.logs(limit: router.observer.logCapacity)
        logs.ingest(records: records, routerDropped: dropped)
        rates.sample(snapshot.streams, time: snapshot.time)
        if !state.status.text.isEmpty && !state.status.isError && snapshot.time - statusSetAt > 8 {
            state.status = StatusMessage(text: "", isError: false)
        }
        if let h = state.selectedHandle, !snapshot.pending.contains(where: { $0.handle == h }) {
            state.selectedHandle = nil
        }
        dataDirty = false
    }

    func draw() {
        let (w, h) = terminal.size
        let input = FrameInput(
            snapshot: snapshot, logs: logs, rates: rates, results: results, state: state,
            layout: Layout(width: w, height: h))
        let (frame, outcome) = FrameRenderer.render(input)
        tree = outcome
        state.treeScroll = outcome.scroll
        if let i = outcome.selectedIndex {
            state.selectedRow = i
            state.selectedID = outcome.rows[i].id
        }
        terminal.draw(frame)
        lastDraw = monotonicNow()
        uiDirty = false
    }

    /// Shows `text` on the status row (errors stay until replaced).
    func setStatus(_ text: String, error: Bool = false) {
        state.status = StatusMessage(text: text, isError: error)
        statusSetAt = monotonicNow()
        uiDirty = true
    }

    func loadTheme(_ name: String, initial: Bool = false) {
        do {
            let (theme, problems) = try themes.load(name)
            terminal.apply(theme)
            state.themeName = theme.name
            if let first = problems.first {
                setStatus("theme: \(first)" + (problems.count > 1 ? " (+\(problems.count - 1) more)" : ""), error: true)
            } else if !initial {
                setStatus("theme \(theme.name)")
            }
        } catch {
            if initial, let (fallback, _) = try? themes.load("default") { terminal.apply(fallback) }
            setStatus("theme: \(error)", error: true)
        }
        terminal.invalidate()
    }

    private func handle(_ event: AppEvent) {
        switch event {
        case .opened(let chain, let id, let name):
            setStatus("opened \(name) (id \(id)) via \(chain)")
            if state.selectedID == nil { state.selectedID = id }
            if !listedFunctions { learnFunctions(from: id) }
        case .functionsListed(let names):
            listedFunctions = true
            completion.functions = Array(Set(completion.functions).union(names)).sorted()
        case .openFailed(let chain, let error):
            setStatus("open \(chain) failed: \(error)", error: true)
        case .callDone(let serial, let outcome):
            results.finish(serial, outcome, at: monotonicNow())
        case .shutdownDone(let name, let forced, let note):
            setStatus("\(name) " + (forced ? "was forced down" : "shut down") + (note.map { ": " + $0 } ?? ""), error: note != nil)
        case .status(let text, let isError):
            setStatus(text, error: isError)
        case .callDetail(let handle, let lines):
            callDetailArrived(handle: handle, lines: lines)
        case .toolQuestion(let prompt, let answer):
            let id = nextRequestID
            nextRequestID += 1
            toolQuestions[id] = answer
            state.overlay = .prompt(Prompt(purpose: .toolQuestion(id: id), label: prompt + " ", editor: LineEditor(secret: true)))
        case .fleet(let update):
            handleFleet(update)
        }
    }

    private func installSignalHandlers() {
        signalWakeFD = wake.writeFD
        for sig in [SIGINT, SIGTERM, SIGHUP] {
            signal(sig) { sig in
                caughtSignal = sig
                var byte: UInt8 = 2
                _ = write(signalWakeFD, &byte, 1)
            }
        }
    }
}
