import Foundation
import Testing
@testable import ConsoleModel
@testable import ConsoleRender

@Suite struct ActionTableTests {
    @Test func docsKeysIsCurrent() throws {
        let file = try String(contentsOfFile: repoRoot + "/docs/keys.md", encoding: .utf8)
        #expect(file == ActionTable.markdown(), "docs/keys.md is stale: run .build/debug/mitogen-tui --print-keys > docs/keys.md")
    }

    @Test func noKeyIsBoundTwiceInOneView() {
        for scope in ViewScope.allCases {
            var seen: [Key: ActionID] = [:]
            for a in ActionTable.all where a.scope == scope {
                for k in a.keys {
                    #expect(seen[k] == nil, "\(k) is bound to \(seen[k].map { "\($0)" } ?? "") and \(a.id) in \(scope)")
                    seen[k] = a.id
                }
            }
        }
        #expect(Set(ActionTable.all.map(\.id)) == Set(ActionID.allCases))
    }

    @Test func viewActionsWinOverGlobalOnes() {
        #expect(ActionTable.action(for: .char("c"), in: .tree, readOnly: false)?.id == .call)
        #expect(ActionTable.action(for: .char("c"), in: .logs, readOnly: false)?.id == .logContext)
        #expect(ActionTable.action(for: .char("q"), in: .pending, readOnly: false)?.id == .quit)
        #expect(ActionTable.action(for: .function(9), in: .pending, readOnly: false)?.id == .cancelCall)
    }

    @Test func readOnlyHidesEverythingThatChangesThings() {
        for scope in ViewScope.allCases {
            let visible = ActionTable.visible(in: scope, readOnly: true)
            #expect(!visible.contains { $0.mutates })
            for a in ActionTable.all where a.mutates {
                for k in a.keys { #expect(ActionTable.action(for: k, in: a.scope, readOnly: true)?.mutates != true) }
            }
            #expect(!ActionTable.functionBar(in: scope, readOnly: true).contains { $0.1 == "Shutdown" || $0.1 == "Cancel" })
        }
        let mutating = Set(ActionTable.all.filter(\.mutates).map(\.id))
        #expect(mutating == [.call, .openForm, .shutdown, .shutdownSubtree, .cancelCall])
        #expect(ActionTable.all.filter { $0.dangerous }.allSatisfy { $0.mutates })
    }

    @Test func helpOverlayListsEveryKey() {
        let text = Overlays.helpLines(state: ViewState()).map(\.text).joined(separator: "\n")
        for a in ActionTable.all {
            #expect(text.contains(a.keys.map(\.description).joined(separator: " ")), "help lacks \(a.id)")
            #expect(text.contains(a.label))
        }
        var ro = ViewState()
        ro.readOnly = true
        let roText = Overlays.helpLines(state: ro).map(\.text).joined(separator: "\n")
        #expect(!roText.contains("Shut down the subtree"))
        #expect(!roText.contains(":open"))
    }
}
