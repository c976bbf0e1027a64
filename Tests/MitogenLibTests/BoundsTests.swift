import Glibc
import Testing
import TestSupport
import MitogenLib
@testable import MitogenSys
@testable import MitogenWire
@testable import MitogenCore
@testable import MitogenCalls
@testable import MitogenMaster

/// Everything the master waits for ends, everything it records is finished,
/// and what a child sends it is bounded before it is kept or logged.
@Suite(.serialized) struct BoundsTests {
    // MARK: What a child logs

    @Test func childLogTextIsSanitisedAndBounded() throws {
        try withTestRouter { router in
            let child = try router.local(name: "chatty")
            try child.callValue("mitogen.log", args: ["one\nFORGED 2026 master: ok\u{1b}[2J\u{7}\tend", 40])
            try child.callValue("mitogen.log", args: [.str(String(repeating: "x", count: 200_000)), 40])
            try child.callValue("mitogen.log", args: ["fine", 40, "evil\nlogger\u{1b}"])
            var records: [LogRecord] = []
            #expect(waitUntil(timeout: 5) {
                records = router.observer.logs().records.filter { $0.contextID == child.contextID && $0.level == 40 }
                return records.count == 3
            })
            guard records.count == 3 else { return }
            #expect(records[0].message == "one\\nFORGED 2026 master: ok\\x1b[2J\\x07\tend")
            // (Checked as Bools: a failure must not print 200 KB.)
            let long = records[1].message
            let bounded = long.utf8.count <= 64 << 10, marked = long.hasPrefix("xxxxxxxx") && long.hasSuffix(" more bytes]")
            #expect(bounded, "a record of \(long.utf8.count) bytes was kept")
            #expect(marked, "the cut record ends with \(String(long.suffix(40)).debugDescription)")
            #expect(records[2].logger == "evil\\nlogger\\x1b")
            for record in records {
                let raw = record.message.unicodeScalars.contains { $0.value < 0x20 && $0.value != 9 }
                #expect(!raw, "a control character reached the observer")
            }
        }
    }
}
