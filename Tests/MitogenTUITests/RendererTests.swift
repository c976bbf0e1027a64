import Glibc
import MitogenLib
import Testing
@testable import ConsoleModel
@testable import ConsoleRender

/// A small forest: 1 root (id 1) with children 2 and 3; 3 has child 4; root 5.
func sampleSnapshot(now: Double = 100) -> ConsoleSnapshot {
    func ctx(_ id: UInt32, _ parent: UInt32, _ name: String, _ state: ContextState = .connected) -> ContextItem {
        ContextItem(id: id, name: name, method: "local", parentID: parent, pid: Int32(1000 + id), state: state, since: now - Double(id) * 10)
    }
    return ConsoleSnapshot(
        time: now,
        contexts: [
            ctx(1, 0, "alpha"), ctx(2, 1, "bravo"), ctx(3, 1, "charlie", .failed("boom")), ctx(4, 3, "delta"),
            ctx(5, 0, "echo", .gone),
        ],
        streams: [
            StreamItem(contextID: 1, name: "local.1001", bytesIn: 2048, bytesOut: 1024, messagesIn: 3, messagesOut: 4, queuedBytes: 0, isDisconnected: false)
        ],
        pending: [
            PendingItem(handle: 7, contextID: 2, contextName: "bravo", function: "time.sleep", arguments: "30", since: now - 1),
            PendingItem(handle: 8, contextID: 4, contextName: "delta", function: "os.getpid", arguments: "", since: now - 12),
            PendingItem(handle: 9, contextID: 4, contextName: "delta", function: "sudo.login", arguments: "'[secret]'", since: now - 60),
        ])
}

func render(_ snapshot: ConsoleSnapshot, _ state: ViewState, logs: LogStore = LogStore(), width: Int = 80, height: Int = 24) -> (Frame, TreeOutcome) {
    FrameRenderer.render(
        FrameInput(snapshot: snapshot, logs: logs, rates: RateTracker(), results: ResultStore(), state: state, layout: Layout(width: width, height: height)))
}

@Suite struct RendererTests {
    @Test func treeNestsChildrenUnderParents() {
        let rows = TreeModel.rows(sampleSnapshot(), ViewState())
        #expect(rows.map(\.id) == [1, 2, 3, 4, 5])
        #expect(rows.map(\.depth) == [0, 1, 1, 2, 0])
        #expect(rows[1].prefix == "├─ ")
        #expect(rows[2].prefix == "└─ ")
        #expect(rows[3].prefix == "   └─ ")
        var ascii = ViewState()
        ascii.ascii = true
        #expect(TreeModel.rows(sampleSnapshot(), ascii)[1].prefix == "|- ")
    }

    @Test func collapseHidesTheSubtree() {
        var state = ViewState()
        state.collapsed = [1]
        let rows = TreeModel.rows(sampleSnapshot(), state)
        #expect(rows.map(\.id) == [1, 5])
        #expect(rows[0].collapsed && rows[0].hasChildren)
    }

    @Test func filterKeepsMatchesAndTheirAncestors() {
        var state = ViewState()
        state.treeFilter = "DEL"
        #expect(TreeModel.rows(sampleSnapshot(), state).map(\.id) == [1, 3, 4])
        state.treeFilter = "failed"
        #expect(TreeModel.rows(sampleSnapshot(), state).map(\.id) == [1, 3])
        state.treeFilter = "nothing-matches"
        #expect(TreeModel.rows(sampleSnapshot(), state).isEmpty)
    }

    @Test func sortOrdersSiblings() {
        var state = ViewState()
        state.sort = .state
        // siblings 2 (connected) and 3 (failed: boom): "connected" < "failed: boom"
        #expect(TreeModel.rows(sampleSnapshot(), state).map(\.id) == [1, 2, 3, 4, 5])
        state.sort = .age  // older (smaller since) first: 5 before 1
        #expect(TreeModel.rows(sampleSnapshot(), state).first?.id == 5)
    }

    @Test func selectionFollowsTheContextWhenRowsMove() {
        var state = ViewState()
        state.selectedID = 4
        state.selectedRow = 3
        var snapshot = sampleSnapshot()
        // A new context appears ahead of it.
        snapshot.contexts.append(ContextItem(id: 6, name: "aaa", method: "fork", parentID: 1, pid: nil, state: .connecting, since: 99))
        state.sort = .name
        let rows = TreeModel.rows(snapshot, state)
        let i = TreeModel.selectionIndex(rows, state, snapshot)!
        #expect(rows[i].id == 4)
        #expect(i == 4)
        // Follow off: stays on the row number.
        state.followSelected = false
        #expect(TreeModel.selectionIndex(rows, state, snapshot) == 3)
        // Its parent collapsed: the selection goes to the nearest visible ancestor.
        state.followSelected = true
        state.collapsed = [3]
        let collapsed = TreeModel.rows(snapshot, state)
        #expect(collapsed[TreeModel.selectionIndex(collapsed, state, snapshot)!].id == 3)
    }

    @Test(arguments: [(80, 24), (200, 60), (40, 10), (20, 5)])
    func framesHaveExactlyTheScreenSize(size: (Int, Int)) {
        var state = ViewState()
        for bottom in [ViewScope.logs, .streams, .pending, .results] {
            state.bottom = bottom
            for overlay in [Overlay.none, .help(scroll: 0), .confirm(ConfirmDialog(title: "t", message: ["m"], intent: .quit)), .form(Form.open(selectedName: "x"))] {
                state.overlay = overlay
                let (frame, _) = render(sampleSnapshot(), state, width: size.0, height: size.1)
                #expect(frame.lines.count == size.1)
                for line in frame.lines { #expect(TextWidth.width(line.text) == size.0, "\(bottom) \(line.text)") }
            }
        }
    }

    @Test func treeShowsColumnsStateAndCalls() {
        var state = ViewState()
        state.selectedID = 3
        let (frame, outcome) = render(sampleSnapshot(), state)
        #expect(outcome.selectedID == 3)
        let text = frame.text
        #expect(text.contains("3 live / 5 contexts"))
        let delta = frame.lines.first { $0.text.contains("delta") }!
        #expect(delta.text.contains("1004"))
        #expect(delta.text.hasSuffix("    2"))  // two pending calls
        let charlie = frame.lines.first { $0.text.contains("charlie") }!
        #expect(charlie.spans.allSatisfy { $0.role == .selection })  // selected row
        #expect(frame.lines[22].text.hasPrefix("charlie: boom"))  // the failed selection's error on the status row
        let bravo = frame.lines.first { $0.text.contains("bravo") }!
        #expect(bravo.spans.contains { $0.role == .stateConnected })
    }

    /// A failed row's error takes the age and calls columns; a via connect's
    /// "error occurred on host H: " is left to the status line.
    @Test func aFailedRowShowsItsErrorWide() {
        var snapshot = sampleSnapshot()
        snapshot.contexts[2].state = .failed("error occurred on host h1: Connection timed out. (after 3.0 s, while x)")
        let (frame, _) = render(snapshot, ViewState(), width: 100)
        let charlie = frame.lines.first { $0.text.contains("charlie") }!
        #expect(charlie.text.hasSuffix(" failed: Connection timed out. (…"), "\(charlie.text)")
        #expect(charlie.text.count == 100)
        #expect(ContextState.failed("error occurred on host a b: x").rowText == "failed: error occurred on host a b: x")
        #expect(ContextState.authenticating.rowText == "authenticating")
    }

    @Test func pendingCallsAreMarkedSlowAndStuck() {
        var state = ViewState()
        state.bottom = .pending
        state.slowAfter = 5
        state.stuckAfter = 30
        let (frame, _) = render(sampleSnapshot(), state)
        let text = frame.text
        #expect(text.contains("(1 stuck)"))
        let sleep = frame.lines.first { $0.text.contains("time.sleep(30)") }!
        #expect(sleep.text.contains(" ok "))
        let slow = frame.lines.first { $0.text.contains("os.getpid()") }!
        #expect(slow.text.contains("slow"))
        #expect(slow.spans.contains { $0.role == .pendingSlow })
        let stuck = frame.lines.first { $0.text.contains("sudo.login('[secret]')") }!
        #expect(stuck.spans.contains { $0.role == .pendingStuck })
        #expect(stuck.text.contains("1m00s"))
    }

    @Test func logsFollowFilterAndStayBounded() {
        var logs = LogStore(capacity: 100)
        for i in 0..<250 {
            logs.append(LogItem(contextID: UInt32(i % 2 + 1), contextName: i % 2 == 0 ? "alpha" : "bravo", logger: "app", level: i % 3 == 0 ? 40 : 20, message: "message \(i)", time: 0))
        }
        #expect(logs.count == 100)
        #expect(logs.dropped == 150)
        var state = ViewState()
        let (frame, _) = render(sampleSnapshot(), state, logs: logs)
        #expect(frame.text.contains("message 249"))
        state.logFilter.minLevel = 40
        let errorsOnly = render(sampleSnapshot(), state, logs: logs).0.lines.filter { $0.text.contains("message") }
        #expect(!errorsOnly.isEmpty && errorsOnly.allSatisfy { $0.text.contains("ERROR") })
        state.logFilter = LogFilter(minLevel: 0, contextID: 2, text: "")
        let bravoOnly = render(sampleSnapshot(), state, logs: logs).0.lines.filter { $0.text.contains("message") }
        #expect(!bravoOnly.isEmpty && bravoOnly.allSatisfy { $0.text.contains("bravo") })
        state.logFilter = LogFilter(minLevel: 0, contextID: nil, text: "MESSAGE 24")
        let text = render(sampleSnapshot(), state, logs: logs, height: 60).0.lines.filter { $0.text.contains("message") }
        #expect(text.count == 10)  // 240...249; 0...149 were pushed out
        state.logFilter.text = "message 12"  // 120...129 were pushed out
        let none = render(sampleSnapshot(), state, logs: logs, height: 60).0.lines.filter { $0.text.contains("app: message") }
        #expect(none.isEmpty, "\(none.map(\.text))")
        state.logFilter = LogFilter()
        state.logFollow = false
        state.logScroll = 10
        let paused = render(sampleSnapshot(), state, logs: logs).0.text
        #expect(paused.contains("message 239") && !paused.contains("message 240"))
    }

    @Test func streamsShowCountersRatesAndSparkline() {
        var rates = RateTracker()
        var s = sampleSnapshot().streams
        rates.sample(s, time: 0)
        s[0].bytesIn += 4096
        rates.sample(s, time: 1)
        #expect(rates[1]?.rateIn == 4096)
        s[0].bytesIn += 1024
        rates.sample(s, time: 2)
        #expect(rates[1]?.history == [4096, 1024])
        #expect(Sparkline.render([0, 4, 8], width: 5, ascii: false) == "   ▅█")
        #expect(Sparkline.render([1, 8], width: 2, ascii: true) == ".@")
        #expect(Format.bytes(2048) == "2.0K")
        #expect(Format.bytes(512) == "512B")
        #expect(Format.age(75) == "1m15s")
        #expect(Format.age(7300) == "2h01m")
    }

    @Test func textWidthCountsColumns() {
        setlocale(LC_CTYPE, "C.UTF-8")  // as the console does at start: wcwidth needs a UTF-8 locale
        #expect(TextWidth.width("日本") == 4)
        #expect(TextWidth.width("a─b") == 3)
        #expect(TextWidth.prefix("日本", columns: 3) == ("日 ", 3))
        #expect(TextWidth.prefix("a\u{1b}[2Jb", columns: 10).0 == "a?[2Jb")
        #expect(Line("日本語", .base).fitted(to: 5).text == "日本 ")
        #expect(TextWidth.truncated("abcdef", columns: 4) == "abc…")
    }

    @Test func benchmarkFrameIsUnderBudget() {
        let report = RenderBenchmark.run(frames: 5)
        #expect(report.contexts == 1000)
        #expect(report.logLines == 10_000)
        for (_, ms) in report.frameMeanMs { #expect(ms < 16) }
    }
}
