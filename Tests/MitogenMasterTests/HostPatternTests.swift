import Testing

import TestSupport
@testable import MitogenMaster

@Suite struct HostPatternTests {
    @Test func expandsRangesListsAndPadding() throws {
        #expect(try HostPattern.expand("web[01-03,25].example.com")
            == ["web01.example.com", "web02.example.com", "web03.example.com", "web25.example.com"])
        #expect(try HostPattern.expand("n[8-11]") == ["n8", "n9", "n10", "n11"])
        #expect(try HostPattern.expand("n[08-11]") == ["n08", "n09", "n10", "n11"])
        #expect(try HostPattern.expand("n[098-100]") == ["n098", "n099", "n100"])
        #expect(try HostPattern.expand("{app,db}-[1-2]") == ["app-1", "app-2", "db-1", "db-2"])
        #expect(try HostPattern.expand("r[1-2]c[1-2]") == ["r1c1", "r1c2", "r2c1", "r2c2"])
        #expect(try HostPattern.expand("a,b[1-2],c") == ["a", "b1", "b2", "c"])
        #expect(try HostPattern.expand("{x,y{1,2}}z") == ["xz", "y1z", "y2z"])
        #expect(try HostPattern.expand("plain.host") == ["plain.host"])
        #expect(try HostPattern.expand("[::1]") == ["[::1]"])
    }

    @Test func recognisesPatterns() {
        #expect(HostPattern.hasPattern("web[1-2]"))
        #expect(HostPattern.hasPattern("{a,b}"))
        #expect(HostPattern.hasPattern("a,b"))
        #expect(!HostPattern.hasPattern("deploy@web1:2222"))
        #expect(!HostPattern.hasPattern("[::1]:22"))
        #expect(!HostPattern.hasPattern("root"))
    }

    @Test func malformedPatternsNameTheColumnAndProblem() {
        func error(_ text: String) -> String {
            do {
                _ = try HostPattern.expand(text)
                return "no error"
            } catch { return error.description }
        }
        #expect(error("web[01-") == "column 8: the range starting at 01 has no end")
        #expect(error("web[1-3") == "column 4: '[' is never closed")
        #expect(error("web[]") == "column 4: '[]' is empty")
        #expect(error("web[a]") == "column 5: expected a number, found 'a'")
        #expect(error("web[5-2]") == "column 5: the range 5-2 runs backwards")
        #expect(error("web[1-2;3]") == "column 8: expected ',', '-' or ']', found ';'")
        #expect(error("web{a,b") == "column 4: '{' is never closed")
        #expect(error("web{}") == "column 4: '{}' is empty")
        #expect(error("web]") == "column 4: ']' without '['")
        #expect(error("a,,b") == "column 3: empty name before ','")
        #expect(error("a,") == "column 3: empty name after ','")
        #expect(error("n[1-99999999999999999999]") == "column 3: the number is too large")
    }

    @Test func refusesHugeExpansionsBeforeAllocating() {
        #expect(throws: HostPatternError(column: nil, message: "the pattern expands to more than 65536 names")) {
            try HostPattern.expand("n[1-999999999]")
        }
        #expect(throws: HostPatternError(column: nil, message: "the pattern expands to more than 65536 names")) {
            try HostPattern.expand("a[1-999999999999999999,1-999999999999999999]")
        }
        // 300 x 300 is over the limit though each part is small.
        #expect(throws: HostPatternError.self) { try HostPattern.expand("a[1-300]b[1-300]") }
        #expect(throws: HostPatternError.self) { try HostPattern.expand("a[1-3]", limit: 2) }
        #expect((try? HostPattern.expand("a[1-256]b[1-256]"))?.count == 65536)
    }

    @Test func foldsLikeClusterShell() {
        let web = (1...18).map { "web" + ($0 < 10 ? "0" : "") + String($0) } + ["web20"]
        #expect(HostPattern.fold(web) == "web[01-18,20]")
        #expect(HostPattern.fold(["n9", "n10", "n11"]) == "n[9-11]")
        #expect(HostPattern.fold(["web1.example.com", "web3.example.com", "db1"]) == "web[1,3].example.com,db1")
        #expect(HostPattern.fold(["alpha", "web2", "alpha", "web2"]) == "alpha,web2")
        #expect(HostPattern.fold(["10.77.0.11", "10.77.0.12", "10.77.0.14"]) == "10.77.0.[11-12,14]")
        #expect(HostPattern.fold([]) == "")
    }

    /// Folding then expanding gives back the same set of names, for random
    /// sets of padded and unpadded names.
    @Test func foldThenExpandRoundTrips() throws {
        var random = SplitMix(14)
        for _ in 0..<300 {
            var names: [String] = []
            for _ in 0..<(1 + Int(random.next() % 12)) {
                let n = Int(random.next() % 130)
                let padded = random.next() % 2 == 0
                let digits = padded && n < 100 ? String(repeating: "0", count: 3 - String(n).count) + String(n) : String(n)
                names.append(["h", "web", "db-"][Int(random.next() % 3)] + digits + (random.next() % 4 == 0 ? ".x" : ""))
            }
            let folded = HostPattern.fold(names)
            #expect(Set(try HostPattern.expand(folded)) == Set(names), "\(names) -> \(folded)")
        }
    }
}
