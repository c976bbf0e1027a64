import Foundation
import Testing
import TestSupport

import MitogenLib
@testable import MitogenSys
@testable import MitogenWire
@testable import MitogenCore
@testable import MitogenCalls
@testable import MitogenMaster
@testable import MitogenChild

/// The pickle codec against vectors Mitogen 0.3.54 wrote
/// (`Fixtures/pickle-golden.txt`, from `scripts/pickle_oracle.py golden`) and
/// against the hex of notes/mitogen-wire.md §3.
@Suite struct PickleGoldenTests {
    struct Vector {
        let name: String
        let bytes: [UInt8]
        let description: String
    }

    static func vectors() throws -> [Vector] {
        let url = URL(fileURLWithPath: packageRoot + "/Tests/MitogenLibTests/Fixtures/pickle-golden.txt")
        let text = try String(contentsOf: url, encoding: .utf8)
        return try text.split(separator: "\n").filter { !$0.hasPrefix("#") }.map { line in
            let fields = line.split(separator: "\t", omittingEmptySubsequences: false)
            guard fields.count == 3 else { throw OracleError("bad golden line: \(line.prefix(60))") }
            return Vector(name: String(fields[0]), bytes: try fromHex(fields[1]), description: String(fields[2]))
        }
    }

    /// Vectors whose bytes we do not reproduce, and why.
    static let differsFromMitogen: [String: String] = [
        "bytes_nested": "nested bytes: SHORT_BINSTRING/BINSTRING instead of _codecs.encode",
        "blob": "Blob's bytes: SHORT_BINSTRING instead of _codecs.encode",
        "blob_empty": "Blob's bytes: SHORT_BINSTRING instead of __builtin__ bytes()",
        "shared_list": "Python BINGETs the same list object; Swift values have no identity",
        "shared_str": "Python BINGETs the same str object; Swift values have no identity",
        "multi_shared_memo": "Python BINGETs the same str across pickles",
        "multi_load_resource": "each Pickle.dumps starts its own memo",
    ]

    @Test func everyVectorHasAnExpectedValue() throws {
        let names = Set(try Self.vectors().map(\.name))
        let expected = Set(Self.expected.keys).union(Self.expectedMulti.keys)
        #expect(names == expected)
        #expect(names.count > 60)
    }

    @Test func decodesMitogensPickles() throws {
        for vector in try Self.vectors() {
            if let values = Self.expectedMulti[vector.name] {
                #expect(try Pickle.loadsAll(vector.bytes) == values, "\(vector.name): \(vector.description)")
            } else if let value = Self.expected[vector.name] {
                #expect(try Pickle.loads(vector.bytes) == value, "\(vector.name): \(vector.description)")
            }
        }
    }

    @Test func encodesLikeMitogen() throws {
        for vector in try Self.vectors() where Self.differsFromMitogen[vector.name] == nil {
            guard let value = Self.expected[vector.name] else { continue }
            let ours = Pickle.dumps(value)
            #expect(ours == vector.bytes, "\(vector.name): ours \(toHex(ours))\nMitogen's \(toHex(vector.bytes))")
        }
    }

    /// Our re-encoding of every vector (including those whose bytes differ)
    /// unpickles in Mitogen to the same value.
    @Test func mitogenDecodesOurEncoding() throws {
        let oracle = try PickleOracle()
        for vector in try Self.vectors() {
            let ours: [UInt8]
            if let values = Self.expectedMulti[vector.name] {
                ours = values.flatMap(Pickle.dumps)
            } else {
                ours = Pickle.dumps(try #require(Self.expected[vector.name]))
            }
            let reply = try oracle.ask("check \(vector.name) \(toHex(ours))")
            #expect(reply == "ok", "\(vector.name): \(reply)")
        }
    }

    // MARK: - The hex of notes/mitogen-wire.md §3, written out

    @Test func notesVectorsByteForByte() throws {
        let cases: [(Value, String)] = [
            (.context(id: 5, name: "ssh.host"),
             "8002636d69746f67656e2e636f72650a5f756e7069636b6c655f636f6e746578740a71004b05580800000073"
                + "73682e686f737471018671025271032e"),
            (.callError("hi x"),
             "8002636d69746f67656e2e636f72650a5f756e7069636b6c655f63616c6c5f6572726f720a7100580400000068"
                + "69207871018571025271032e"),
            (.secret("pw"), "8002636d69746f67656e2e636f72650a5365637265740a71005802000000707771018571025271032e"),
            (.kwargs(["a": 1]),
             "8002636d69746f67656e2e636f72650a4b77617267730a71007d710158010000006171024b01738571035271042e"),
            (7148, "80024dec1b2e"),
            (.bytes(Array("abc".utf8)), "800254030000006162632e"),
        ]
        for (value, hex) in cases {
            #expect(toHex(Pickle.dumps(value)) == hex, "\(value)")
            #expect(try Pickle.loads(try fromHex(hex)) == value)
        }
    }

    @Test func notesBlobAndNestedBytesDecode() throws {
        let blob = "8002636d69746f67656e2e636f72650a426c6f620a7100635f636f646563730a656e636f64650a710158030000"
            + "00616263710258060000006c6174696e3171038671045271058571065271072e"
        #expect(try Pickle.loads(try fromHex(blob)) == .blob(Array("abc".utf8)))
        let nested = "8002635f636f646563730a656e636f64650a71005803000000616263710158060000006c6174696e3171028671"
            + "035271048571052e"
        #expect(try Pickle.loads(try fromHex(nested)) == .tuple([.bytes(Array("abc".utf8))]))
    }

    @Test func callFunctionFrameMatchesTheNotes() throws {
        let call: Value = .tuple([.none, "posix", .none, "getpid", .tuple([]), .kwargs([:])])
        let message = Message.pickled(call, dstID: 1, handle: Handle.callFunction, replyTo: 1000)
        let frame = try message.frame()
        #expect(
            toHex(frame)
                == "4d4a000000010000000000000000000000650000" + "03e800000043"
                + "8002284e5805000000706f73697871004e5806000000676574706964710129636d69746f67656e2e636f72650a"
                + "4b77617267730a71027d71038571045271057471062e")
        #expect(try message.decodeValue() == call)
    }

    @Test func binaryMessageIsNotUnpickled() throws {
        let message = Message(encoding: .binary, data: Pickle.dumps(.none))
        let error = try #require(throws: PickleError.self) { try message.decodeValue() }
        #expect(error.code == .binaryMessage)
        #expect(error.description.contains("cannot unpickle a binary message"))
        #expect(try Message(encoding: .raw, data: Pickle.dumps(1)).decodeValue() == 1)
    }

    // MARK: - Expected values, by golden name

    /// 2ⁿ or -2ⁿ.
    static func powerOfTwo(_ n: Int, negative: Bool = false) -> Value {
        var bytes = [UInt8](repeating: 0, count: n / 8)
        if negative {
            bytes.append(UInt8(truncatingIfNeeded: 0xff << (n % 8)))
        } else {
            bytes.append(1 << UInt8(n % 8))
            if n % 8 == 7 { bytes.append(0) }
        }
        return .integer(LargeInt(twosComplementLittleEndian: bytes))
    }

    static let traceback =
        "builtins.KeyError: 'nope'\n  File \"<stdin>\", line 4009, in _dispatch_one\n"
        + "  File \"master:/srv/app/prog.py\", line 26, in fail\n    raise KeyError('nope')\n"

    static let expected: [String: Value] = {
        var e: [String: Value] = [
            "none": .none, "true": true, "false": false,
            "int_0": 0, "int_255": 255, "int_256": 256, "int_65535": 65535, "int_65536": 65536, "int_neg1": -1,
            "int_min32": .int(Int(Int32.min)), "int_max32": .int(Int(Int32.max)), "int_2p31": .int(1 << 31),
            "int_max64": .int(.max), "int_min64": .int(.min),
            "int_2p64": powerOfTwo(64), "int_neg2p64": powerOfTwo(64, negative: true),
            "int_2p200": powerOfTwo(200), "int_neg2p1000": powerOfTwo(1000, negative: true),
            "int_2p2100": powerOfTwo(2100),
            "float_0": 0.0, "float_neg0": .float(-0.0), "float_1_5": 1.5, "float_nan": .float(.nan),
            "float_inf": .float(.infinity), "float_neginf": .float(-.infinity), "float_1e308": 1e308,
            "float_5em324": .float(.leastNonzeroMagnitude),
            "str_empty": "", "str_ascii": "hello", "str_latin": "h\u{e9}llo w\u{f6}rld",
            "str_astral": "\u{1F600}\u{1D11E}", "str_combining": "e\u{301}", "str_nul": "a\u{0}b",
            "bytes_top": .bytes(Array("abc".utf8)), "bytes_empty_top": .bytes([]),
            "bytes_all_top": .bytes(Array(0...255)),
            "bytes_nested": [.bytes(Array("abc".utf8)), .bytes([]), .bytes(Array(0...255))],
            "dead_payload": .bytes(Array("invalid handle".utf8)),
            "list_empty": [], "tuple_empty": .tuple([]), "dict_empty": .dict(PyDict()),
            "set_empty": .set([]), "set_ints": .set([1, 2, 3]), "frozenset_in_tuple": .tuple([.frozenset([7]), 8]),
            "tuple_1": .tuple([1]), "tuple_2": .tuple([1, "a"]), "tuple_3": .tuple([1, "a", .none]),
            "tuple_4": .tuple([1, 2, 3, 4]),
            "nested": [1, [2, [3, [4, .tuple([5, ["six": 6]])]]]],
            "shared_list": [[1, 2], [1, 2]], "shared_str": .tuple(["shared-text", "shared-text"]),
            "tuple_keys": [.tuple([1, "a"]): "x", .tuple([2, .tuple([3, 4])]): "y", 5: [6]],
            "mixed": [
                "none": .none, "bool": true, "int": -7, "big": powerOfTwo(70), "float": 2.5, "str": "x",
                "list": [1], "tuple": .tuple([2]),
            ],
            "call_function": .tuple([.none, "posix", .none, "getpid", .tuple([]), .kwargs([:])]),
            "call_function_args": .tuple([
                "vm-7125-7fbd16878b80-14a48a03", "os", .none, "listdir", ["/etc"], .kwargs(["follow": true]),
            ]),
            "proxy_connect": .tuple([
                .none, "mitogen.parent", .none, "_proxy_connect", .tuple([]),
                .kwargs([
                    "name": .none, "method_name": "ssh",
                    "kwargs": .kwargs([
                        "hostname": "h", "debug": false, "profiling": false, "unidirectional": false,
                    ]),
                ]),
            ]),
            "alloc_reply": .tuple([1000, 2000]), "reply_int": 7148,
            "call_error": .callError("hi x"), "call_error_tb": .callError(traceback),
            "context": .context(id: 5, name: "ssh.host"), "context_noname": .context(id: 0, name: nil),
            "context_max": .context(id: .max, name: String(repeating: "x", count: 500)),
            "sender": .sender(contextID: 7, handle: 1000),
            "blob": .blob(Array("abc".utf8)), "blob_empty": .blob([]), "secret": .secret("pw"),
            "kwargs": .kwargs(["a": 1]), "kwargs_list": [.kwargs(["a": 1]), .kwargs(["b": .secret("s")])],
            "strs_300": .list((0..<300).map { .str("s\($0)") }),
            "list_2500": .list((0..<2500).map { .int($0) }),
        ]
        var big = PyDict()
        for i in 0..<1200 { big[.int(i)] = .str(String(i)) }
        e["dict_1200"] = .dict(big)
        return e
    }()

    static let expectedMulti: [String: [Value]] = [
        "multi_shared_memo": ["s", .tuple(["s"])],
        "multi_load_resource": [.tuple(["mypkg", "data.txt"]), .bytes(Array("content".utf8))],
    ]
}
