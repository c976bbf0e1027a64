import Testing

import ConsoleModel
import MitogenLib

/// The exact lines of `mitogen-tui call` over many hosts, from results made by hand.
@Suite struct FleetReportTests {
    func host(_ t: Int, _ label: String, _ outcomes: [FleetCallResult.Outcome], connect: String? = nil) -> FleetHostResult {
        FleetHostResult(
            target: t, label: label, connectError: connect, calls: outcomes.map { FleetCallResult(outcome: $0, elapsed: 0.0015) },
            elapsed: 1, context: nil)
    }

    var results: [FleetHostResult] {
        [
            host(0, "web01", [.ok(.int(0))]), host(1, "web02", [], connect: "Connection timed out.\nsecond line"),
            host(2, "web03", [.ok(.int(0))]), host(3, "web04", [.failed("os.getuid: boom")]), host(4, "web05", [.ok(.str("x"))]),
            host(5, "web06", [.ok(.int(0))]),
        ]
    }

    @Test func linesPutFailedHostsLast() {
        #expect(FleetReport.lines(results, expressions: ["os.getuid()"]) == [
            "web01: 0", "web03: 0", "web05: 'x'", "web06: 0", "web02: error: Connection timed out. | second line",
            "web04: error: os.getuid: boom",
        ])
        let two = [host(0, "a1", [.ok(.int(1)), .ok(.none)])]
        #expect(FleetReport.lines(two, expressions: ["f()", "g(1)"]) == ["a1: f(): 1", "a1: g(1): None"])
    }

    @Test func gatherFoldsIdenticalResults() {
        #expect(FleetReport.gathered(results, expressions: ["os.getuid()"]) == [
            "web[01,03,06]: 0", "web05: 'x'", "web02: error: Connection timed out. | second line", "web04: error: os.getuid: boom",
        ])
        let two = [host(0, "a1", [.ok(.int(1)), .ok(.none)]), host(1, "a2", [.ok(.int(1)), .ok(.none)])]
        #expect(FleetReport.gathered(two, expressions: ["f()", "g(1)"]) == ["a[1-2]: f(): 1", "a[1-2]: g(1): None"])
    }

    @Test func summaryCounts() {
        #expect(FleetReport.summary(results) == "6 hosts: 4 ok, 2 failed")
    }
}
