import Testing

import ConsoleModel

@Suite struct FleetTableTests {
    func table() -> FleetTable {
        var t = FleetTable(expression: "os.getuid()", hosts: (1...6).map { (label: "web0\($0)", contextID: UInt32($0)) }, now: 100)
        t.finish(0, ok: true, text: "0", at: 100.5)
        t.finish(1, ok: true, text: "0", at: 102)
        t.finish(2, ok: false, text: "boom\ntrace", at: 101)
        t.finish(4, ok: true, text: "1000", at: 100.2)
        return t
    }

    @Test func progressCountsDoneFailedAndSlow() {
        #expect(table().progress(now: 103, slowAfter: 5) == "4/6 done, 1 failed, 0 slow")
        #expect(table().progress(now: 106, slowAfter: 5) == "4/6 done, 1 failed, 2 slow")
    }

    @Test func sortFilterAndFold() {
        var t = table()
        func hosts(_ t: FleetTable) -> [String] { t.visibleRows(now: 106, slowAfter: 5).map { "\($0.hosts) \($0.state.rawValue)\($0.straggler ? "!" : "")" } }
        #expect(hosts(t) == ["web01 ok", "web02 ok", "web03 error", "web04 pending!", "web05 ok", "web06 pending!"])
        t.sort = .state
        #expect(hosts(t) == ["web03 error", "web04 pending!", "web06 pending!", "web01 ok", "web02 ok", "web05 ok"])
        t.sort = .elapsed
        #expect(hosts(t).prefix(3) == ["web04 pending!", "web06 pending!", "web02 ok"])
        t.sort = .host
        t.folded = true
        #expect(hosts(t) == ["web[01-02] ok", "web03 error", "web04 pending!", "web05 ok", "web06 pending!"])
        #expect(t.visibleRows(now: 106, slowAfter: 5)[0].count == 2)
        t.filter = "boom"
        #expect(hosts(t) == ["web03 error"])
        t.filter = "pending"
        #expect(hosts(t) == ["web04 pending!", "web06 pending!"])
        t.filter = "WEB05"
        #expect(hosts(t) == ["web05 ok"])
    }

    @Test func openNamesManyAndParses() throws {
        #expect(FleetOpen.namesMany("ssh:web[01-03]"))
        #expect(FleetOpen.namesMany("@web -> sudo:root"))
        #expect(FleetOpen.namesMany("local; fork"))
        #expect(FleetOpen.namesMany("ssh:bastion -> ssh:{a,b}?check_host_keys=ignore"))
        #expect(!FleetOpen.namesMany("ssh:[::1]:22 -> sudo:root"))
        #expect(!FleetOpen.namesMany("local?name=x[1]"))
        #expect(try CommandParser.parse("open ssh:web[01-03]") == .openMany("ssh:web[01-03]"))
        #expect(try CommandParser.parse("open @db") == .openMany("@db"))
        #expect(try CommandParser.parse("inventory /x/hosts.yml") == .inventory("/x/hosts.yml"))
        #expect(try CommandParser.parse("mark") == .mark(true))
        #expect(try CommandParser.parse("mark none") == .mark(false))
        do {
            _ = try CommandParser.parse("open ssh:web[1-")
            Issue.record("a malformed pattern parsed")
        } catch {
            #expect(error.description == "bad targets: hop 1 (ssh:web[1-): column 7: the range starting at 1 has no end")
        }
    }
}
