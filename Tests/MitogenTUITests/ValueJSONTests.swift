import Foundation
import MitogenLib
import Testing

@testable import ConsoleModel

/// The console's JSON output of values (`mitogen-tui call --json`).
@Suite struct ValueJSONTests {
    @Test func jsonText() throws {
        let v: Value = [
            "s": "a\"b\\\n\u{1}é", "n": nil, "t": .tuple([true, 1.5, 1e16]), "b": .bytes([0xff, 0, 1, 2]),
            .int(3): .float(.infinity), "c": .context(id: 5, name: "web"), "pw": .secret("hunter2"),
        ]
        #expect(
            v.jsonText
                == #"{"s":"a\"b\\\n\u0001é","n":null,"t":[true,1.5,1e+16],"b":{"$bytes":"/wABAg=="},"3":"inf","#
                + #""c":{"$context":{"id":5,"name":"web"}},"pw":"[secret]"}"#
        )
        // Foundation's JSON parser accepts it.
        _ = try JSONSerialization.jsonObject(with: Data(v.jsonText.utf8))
        #expect(Value.bytes(Array("any carnal pleas".utf8)).jsonText == #"{"$bytes":"YW55IGNhcm5hbCBwbGVhcw=="}"#)
        #expect(Value.bytes(Array("any carnal pleasu".utf8)).jsonText == #"{"$bytes":"YW55IGNhcm5hbCBwbGVhc3U="}"#)
    }
}
