import Foundation
import Testing

import MitogenLib
@testable import MitogenSys
@testable import MitogenWire
@testable import MitogenCore
@testable import MitogenCalls
@testable import MitogenMaster
@testable import MitogenChild

private struct Server: Codable, Equatable {
    var host: String
    var port: Int
    var tags: [String]
    var weight: Double?
}

private struct Fleet: Codable, Equatable {
    var name: String
    var servers: [Server]
    var owners: [Int: String]
    var limits: [String: UInt8]
}

private enum Color: String, Codable, Equatable { case red, green }
private enum Level: Int, Codable, Equatable { case low = 1, high = 9 }

private indirect enum Command: Codable, Equatable {
    case stop
    case run(path: String, args: [String])
    case sleep(Double)
    case nested(Command?)
}

private struct Payload: Codable, Equatable {
    var data: Data
    var raw: [UInt8]
    var huge: UInt64
    var wide: Int128
    var tiny: Int8
    var extra: Value
    var blob: Blob
    var secret: Secret
    var kwargs: Kwargs
}

/// Hand-written coding that uses nested containers and `superEncoder`.
private class Base: Codable {
    var id: Int
    init(id: Int) { self.id = id }
}

private final class Derived: Base, @unchecked Sendable {  // test-only, never shared
    var point: (x: Int, y: Int)
    init(id: Int, point: (Int, Int)) {
        self.point = point
        super.init(id: id)
    }
    enum Keys: String, CodingKey { case point, pair }
    required init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: Keys.self)
        var pair = try c.nestedUnkeyedContainer(forKey: .pair)
        let inner = try pair.nestedContainer(keyedBy: Keys.self)
        point = (try inner.decode(Int.self, forKey: .point), try pair.decode(Int.self))
        try super.init(from: c.superDecoder())
    }
    override func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: Keys.self)
        var pair = c.nestedUnkeyedContainer(forKey: .pair)
        var inner = pair.nestedContainer(keyedBy: Keys.self)
        try inner.encode(point.x, forKey: .point)
        try pair.encode(point.y)
        try super.encode(to: c.superEncoder())
    }
}

@Suite struct ValueCodableTests {
    @Test func nestedContainersAndSuperEncoder() throws {
        let v = try ValueEncoder().encode(Derived(id: 7, point: (1, 2)))
        #expect(v == ["pair": [["point": 1], 2], "super": ["id": 7]])
        let back = try ValueDecoder().decode(Derived.self, from: v)
        #expect(back.id == 7 && back.point == (1, 2))
    }

    let encoder = ValueEncoder()
    let decoder = ValueDecoder()

    func roundTrip<T: Codable & Equatable>(_ value: T) throws -> Value {
        let encoded = try encoder.encode(value)
        let decoded = try decoder.decode(T.self, from: encoded)
        #expect(decoded == value)
        return encoded
    }

    @Test func nestedStructsBecomeOrderedStrKeyedDicts() throws {
        let fleet = Fleet(
            name: "web",
            servers: [Server(host: "a", port: 22, tags: ["x"], weight: 0.5), Server(host: "b", port: 2222, tags: [], weight: nil)],
            owners: [7: "ann"],
            limits: ["cpu": 4]
        )
        let v = try roundTrip(fleet)
        let dict = try #require(v.dictValue)
        #expect(dict.keys == [.str("name"), .str("servers"), .str("owners"), .str("limits")])
        let servers = try #require(dict["servers"]?.sequenceValue)
        #expect(servers[0] == ["host": "a", "port": 22, "tags": ["x"], "weight": 0.5])
        // A nil optional is left out (encodeIfPresent), not written as None.
        #expect(servers[1] == ["host": "b", "port": 2222, "tags": []])
        #expect(servers[1].dictValue?.keys == [.str("host"), .str("port"), .str("tags")])
        // [Int: String] has int keys, as a Python dict {7: 'ann'}.
        #expect(dict["owners"] == .dict([.int(7): "ann"]))
    }

    @Test func intKeyedDictionaryReadsIntAndStrSpelledKeys() throws {
        let v = try roundTrip([1: "one", -5: "minus five"] as [Int: String])
        #expect(v == .dict([.int(1): "one", .int(-5): "minus five"]))
        // Empty containers keep their kind (an empty [String] must not pass for [UInt8]).
        #expect(try encoder.encode([String]()) == [])
        #expect(try encoder.encode([String: Int]()) == [:])
        #expect(try encoder.encode([Int: Int]()) == [:])
        #expect(try encoder.encode([UInt8]()) == .bytes([]))
        let fromStrKeys = try decoder.decode([Int: String].self, from: ["3": "three"])
        #expect(fromStrKeys == [3: "three"])
    }

    @Test func enumsRoundTrip() throws {
        #expect(try roundTrip(Color.green) == "green")
        #expect(try roundTrip(Level.high) == 9)
        for command in [Command.stop, .run(path: "/bin/ls", args: ["-l"]), .sleep(0.25), .nested(.nested(nil))] {
            _ = try roundTrip(command)
        }
        #expect(throws: DecodingError.self) { try decoder.decode(Color.self, from: "blue") }
    }

    @Test func optionals() throws {
        #expect(try encoder.encode(Int?.none) == .none)
        #expect(try encoder.encode([1, nil, 3] as [Int?]) == [1, nil, 3])
        #expect(try decoder.decode(Int?.self, from: .none) == nil)
        #expect(try decoder.decode([Int?].self, from: .tuple([1, .none])) == [1, nil])
        // Missing key and explicit None both decode as nil.
        let explicit = try decoder.decode(Server.self, from: ["host": "h", "port": 1, "tags": [], "weight": nil])
        #expect(explicit.weight == nil)
        let missing = try decoder.decode(Server.self, from: ["host": "h", "port": 1, "tags": []])
        #expect(missing.weight == nil)
    }

    @Test func bytesDataBigIntsAndSpecialTypes() throws {
        let payload = Payload(
            data: Data([0, 1, 255]),
            raw: [9, 8],
            huge: UInt64.max,
            wide: -(Int128(1) << 100),
            tiny: -128,
            extra: .tuple([.str("x"), .bytes([1]), .frozenset([1])]),
            blob: Blob([1, 2, 3]),
            secret: Secret("pw"),
            kwargs: Kwargs(["a": 1])
        )
        let v = try roundTrip(payload)
        let d = try #require(v.dictValue)
        #expect(d["data"] == .bytes([0, 1, 255]))
        #expect(d["raw"] == .bytes([9, 8]))
        #expect(d["huge"] == .bigInt(LargeInt(decimal: "18446744073709551615")!))
        #expect(d["wide"] == .bigInt(LargeInt(decimal: "-1267650600228229401496703205376")!))
        #expect(d["tiny"] == -128)
        #expect(d["blob"] == .blob([1, 2, 3]))
        #expect(d["secret"] == .secret("pw"))
        #expect(d["kwargs"] == .kwargs(["a": 1]))
        #expect(d["extra"] == .tuple([.str("x"), .bytes([1]), .frozenset([1])]))
        // Lenient forms: Data from a Blob, bytes from a list of ints, Blob and Secret from plain values.
        #expect(try decoder.decode(Data.self, from: .blob([4, 5])) == Data([4, 5]))
        #expect(try decoder.decode([UInt8].self, from: [1, 2]) == [1, 2])
        #expect(try decoder.decode(Blob.self, from: .bytes([7])) == Blob([7]))
        #expect(try decoder.decode(Secret.self, from: "s") == Secret("s"))
        #expect(try encoder.encode(Data()) == .bytes([]))
        #expect(Blob([1, 2]).description == "[blob: 2 bytes]")
        #expect(Secret("hidden").description == "[secret]")
    }

    @Test func numbersAreRangeChecked() throws {
        #expect(try decoder.decode(UInt64.self, from: .bigInt(LargeInt(decimal: "18446744073709551615")!)) == .max)
        #expect(try decoder.decode(Double.self, from: 3) == 3.0)
        #expect(try decoder.decode(Float.self, from: 0.5) == 0.5)
        #expect(try encoder.encode(Set([5])) == [5])
        do {
            _ = try decoder.decode([UInt8].self, from: [1, 300])
            Issue.record("300 decoded as UInt8")
        } catch let DecodingError.dataCorrupted(context) {
            #expect(context.debugDescription == "int 300 at \"[1]\" does not fit in UInt8")
        }
        do {
            _ = try decoder.decode(Int.self, from: .bigInt(LargeInt(decimal: "99999999999999999999")!))
            Issue.record("big int decoded as Int")
        } catch let DecodingError.dataCorrupted(context) {
            #expect(context.debugDescription.contains("99999999999999999999"))
        }
        #expect(throws: DecodingError.self) { try decoder.decode(UInt.self, from: -1) }
        #expect(throws: DecodingError.self) { try decoder.decode(Int.self, from: true) }
    }

    @Test func errorsNameTheKeyPath() throws {
        let bad: Value = [
            "name": "web", "owners": [:], "limits": [:],
            "servers": [
                ["host": "a", "port": 1, "tags": []],
                ["host": "b", "port": 2, "tags": []],
                ["host": "c", "port": "22", "tags": []],
            ],
        ]
        do {
            _ = try decoder.decode(Fleet.self, from: bad)
            Issue.record("decoded a str port")
        } catch let DecodingError.typeMismatch(_, context) {
            #expect(context.debugDescription == "expected int at \"servers[2].port\", got str")
            #expect(context.codingPath.count == 3)
        }
        do {
            _ = try decoder.decode(Server.self, from: ["host": "a", "tags": []])
            Issue.record("decoded without a port")
        } catch let DecodingError.keyNotFound(key, context) {
            #expect(key.stringValue == "port")
            #expect(context.debugDescription == "missing key 'port' at the top level")
        }
        do {
            _ = try decoder.decode([String: Server].self, from: ["web 1": ["host": nil, "port": 1, "tags": []]])
            Issue.record("decoded None as a str")
        } catch let DecodingError.valueNotFound(_, context) {
            #expect(context.debugDescription == "expected str at \"['web 1'].host\", got NoneType")
        }
        do {
            _ = try decoder.decode([Blob].self, from: [.bytes([]), 5])
            Issue.record("decoded an int as a Blob")
        } catch let DecodingError.typeMismatch(_, context) {
            #expect(context.debugDescription == "expected mitogen.core.Blob or bytes at \"[1]\", got int")
        }
    }

    @Test func valueOnlyCrossesOurCoders() throws {
        #expect(throws: EncodingError.self) { try JSONEncoder().encode(Value.int(1)) }
        #expect(throws: DecodingError.self) { try JSONDecoder().decode(Value.self, from: Data("1".utf8)) }
        // Blob and Secret still work with other coders, as their plain content.
        #expect(try JSONDecoder().decode(Secret.self, from: JSONEncoder().encode(Secret("a"))) == Secret("a"))
    }
}
