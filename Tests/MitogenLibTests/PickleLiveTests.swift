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

/// Property tests of the pickle codec against CPython + Mitogen 0.3.54, run
/// live through `scripts/pickle_oracle.py serve` (one subprocess per test).
@Suite struct PickleLiveTests {
    /// Python makes seeded random values and pickles them with Mitogen; Swift
    /// decodes and re-encodes; Python unpickles Swift's bytes and compares.
    @Test func pythonValuesSurviveSwift() throws {
        let oracle = try PickleOracle()
        var checked = 0
        for seed in 1...6 {
            let count = 500
            let pickles = try oracle.askLines("random \(seed) \(count)", count: count)
            for (i, hex) in pickles.enumerated() {
                let value: Value
                do {
                    value = try Pickle.loads(try fromHex(hex))
                } catch {
                    Issue.record("seed \(seed) value \(i): Swift cannot decode Mitogen's pickle \(hex): \(error)")
                    continue
                }
                let reply = try oracle.ask("verify \(i) \(toHex(Pickle.dumps(value)))")
                #expect(reply == "ok", "seed \(seed) value \(i): \(brief(value))\nMitogen's pickle: \(hex)\n\(reply)")
                checked += 1
            }
        }
        #expect(checked == 3000)
    }

    /// Swift makes seeded random values (SplitMix64) and pickles them; Python
    /// unpickles with Mitogen's reader (plus set/frozenset) and pickles again
    /// with Mitogen; Swift decodes that and compares.
    @Test func swiftValuesSurvivePython() throws {
        let oracle = try PickleOracle()
        for seed in UInt64(1)...3000 {
            var generator = RandomValueGenerator(seed: seed)
            let value = generator.top()
            let ours = Pickle.dumps(value)
            let reply = try oracle.ask("roundtrip \(toHex(ours))")
            guard reply.hasPrefix("ok ") else {
                Issue.record("seed \(seed): Python refused \(brief(value))\nSwift's pickle: \(toHex(ours))\n\(reply)")
                continue
            }
            let theirs = try fromHex(String(reply.dropFirst(3)))
            let back = try Pickle.loads(theirs)
            #expect(back == value, "seed \(seed): \(brief(value))\nbecame \(brief(back))\nMitogen's pickle: \(toHex(theirs))")
        }
    }
}

// MARK: - The oracle process

/// `scripts/pickle_oracle.py serve` as a long-lived subprocess: one command
/// line in, one reply line out (or `count` lines for `random`).
final class PickleOracle {
    private let process = Process()
    private let toOracle = Pipe()
    private let fromOracle = Pipe()
    private var pending: [UInt8] = []

    /// The interpreter with mitogen 0.3.54 (`oraclePython()`).
    static func python() throws -> String {
        guard let python = oraclePython() else {
            throw OracleError(
                "no Python with mitogen 0.3.54 for the pickle oracle: MITOGEN_PYTHON is unset and "
                    + "\(packageRoot)/.venv does not exist. Run scripts/setup-test-env.sh to create it.")
        }
        return python
    }

    init() throws {
        process.executableURL = URL(fileURLWithPath: try Self.python())
        process.arguments = [packageRoot + "/scripts/pickle_oracle.py", "serve"]
        process.standardInput = toOracle
        process.standardOutput = fromOracle
        process.standardError = FileHandle.nullDevice
        try process.run()
    }

    deinit {
        try? toOracle.fileHandleForWriting.write(contentsOf: Data("quit\n".utf8))
        try? toOracle.fileHandleForWriting.close()
        process.waitUntilExit()
    }

    /// Sends one command and returns its one-line reply.
    func ask(_ command: String) throws -> String {
        try askLines(command, count: 1)[0]
    }

    func askLines(_ command: String, count: Int) throws -> [String] {
        try toOracle.fileHandleForWriting.write(contentsOf: Data((command + "\n").utf8))
        var lines: [String] = []
        while lines.count < count {
            if let newline = pending.firstIndex(of: 0x0a) {
                lines.append(String(decoding: pending[..<newline], as: UTF8.self))
                pending.removeSubrange(...newline)
                continue
            }
            // availableData returns what one read(2) got; read(upToCount:) would wait for the full count.
            let chunk = fromOracle.fileHandleForReading.availableData
            guard !chunk.isEmpty else {
                throw OracleError("pickle oracle exited while answering \(command.prefix(80))")
            }
            pending.append(contentsOf: chunk)
        }
        return lines
    }
}

struct OracleError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// The start of a value's description, for failure messages.
func brief(_ value: Value) -> String {
    let text = String(describing: value)
    return text.count <= 300 ? text : text.prefix(300) + "..."
}

func toHex(_ bytes: [UInt8]) -> String {
    let digits = Array("0123456789abcdef".utf8)
    var out = [UInt8]()
    out.reserveCapacity(bytes.count * 2)
    for b in bytes {
        out.append(digits[Int(b >> 4)])
        out.append(digits[Int(b & 0xf)])
    }
    return String(decoding: out, as: UTF8.self)
}

func fromHex(_ text: some StringProtocol) throws -> [UInt8] {
    let chars = Array(text.utf8)
    guard chars.count % 2 == 0 else { throw OracleError("odd-length hex: \(text.prefix(40))") }
    func nibble(_ c: UInt8) throws -> UInt8 {
        switch c {
        case 0x30...0x39: return c - 0x30
        case 0x61...0x66: return c - 0x61 + 10
        case 0x41...0x46: return c - 0x41 + 10
        default: throw OracleError("not hex: \(text.prefix(40))")
        }
    }
    var out = [UInt8]()
    out.reserveCapacity(chars.count / 2)
    var i = 0
    while i < chars.count {
        out.append(try nibble(chars[i]) << 4 | nibble(chars[i + 1]))
        i += 2
    }
    return out
}

// MARK: - Seeded random values

/// Random `Value`s that Python represents exactly: dict keys and set members
/// are str, int or tuples of those (no bool / float keys, which Python would
/// merge with ints), NaN is the canonical one, lengths within Mitogen's checks.
struct RandomValueGenerator {
    private var random: SplitMix

    init(seed: UInt64) { random = SplitMix(seed) }

    private mutating func next() -> UInt64 { random.next() }
    private mutating func below(_ n: Int) -> Int { random.below(n) }

    private mutating func pick<T>(_ options: [T]) -> T { options[below(options.count)] }

    private static let alphabet: [Unicode.Scalar] = [
        "a", "Z", "0", " ", "\u{0}", "\n", "\u{e9}", "\u{ff}", "\u{100}", "\u{301}", "\u{20ac}", "\u{ffff}",
        "\u{1F600}", "\u{10FFFF}", "'", "\"", "\\",
    ]

    mutating func text() -> String {
        var s = String.UnicodeScalarView()
        for _ in 0..<pick([0, 1, 3, 8, 40]) { s.append(pick(Self.alphabet)) }
        return String(s)
    }

    mutating func bytes() -> [UInt8] {
        (0..<pick([0, 1, 5, 255, 256, 1000])).map { _ in UInt8(truncatingIfNeeded: next()) }
    }

    mutating func int() -> Value {
        switch below(5) {
        case 0: return .int(below(256))
        case 1: return .int(Int(Int32(truncatingIfNeeded: next())))
        case 2:
            return .int(pick([0, 255, 256, 65535, 65536, -1, Int(Int32.min), Int(Int32.max), 1 << 31, .max, .min]))
        case 3: return .int(Int(bitPattern: UInt(next())))
        default:
            let raw = (0..<pick([9, 13, 26, 126, 263])).map { _ in UInt8(truncatingIfNeeded: next()) }
            return .integer(LargeInt(twosComplementLittleEndian: raw))
        }
    }

    mutating func float() -> Value {
        if below(10) < 4 {
            return .float(pick([0.0, -0.0, .nan, .infinity, -.infinity, 1e308, .leastNonzeroMagnitude, -.leastNonzeroMagnitude, 0.1]))
        }
        let d = Double(bitPattern: next())
        return .float(d.isNaN ? .nan : d)
    }

    mutating func key(_ depth: Int) -> Value {
        switch below(4) {
        case 1: return int()
        case 2 where depth > 0: return .tuple((0..<below(4)).map { _ in key(depth - 1) })
        default: return .str(text())
        }
    }

    mutating func scalar() -> Value {
        switch below(11) {
        case 0: return .none
        case 1: return .bool(below(2) == 0)
        case 2, 3: return int()
        case 4: return float()
        case 5, 6: return .str(text())
        case 7: return .bytes(bytes())
        case 8:
            let id = pick([0, 1, UInt32.max, UInt32(truncatingIfNeeded: next())])
            return .context(id: id, name: below(2) == 0 ? nil : text())
        case 9:
            return .sender(contextID: UInt32(truncatingIfNeeded: next()), handle: UInt32(1 + below(Int(UInt32.max))))
        default:
            switch below(3) {
            case 0: return .callError(text())
            case 1: return .blob(bytes())
            default: return .secret(text())
            }
        }
    }

    mutating func value(_ depth: Int) -> Value {
        if depth <= 0 || below(100) < 35 { return scalar() }
        let n = pick([0, 1, 2, 3, 4, 7])
        switch below(8) {
        case 0, 1: return .list((0..<n).map { _ in value(depth - 1) })
        case 2, 3: return .tuple((0..<n).map { _ in value(depth - 1) })
        case 4, 5:
            var d = PyDict()
            for _ in 0..<n { d[key(2)] = value(depth - 1) }
            return .dict(d)
        case 6:
            var d = PyDict()
            for _ in 0..<n { d[.str(text())] = value(depth - 1) }
            return .kwargs(d)
        default:
            var seen = Set<Value>()
            var members: [Value] = []
            for _ in 0..<n {
                let m = below(2) == 0 ? int() : .str(text())
                if seen.insert(m).inserted { members.append(m) }
            }
            return below(2) == 0 ? .set(members) : .frozenset(members)
        }
    }

    mutating func top() -> Value {
        let roll = below(100)
        if roll < 3 {
            var v = scalar()
            for _ in 0..<(50 + below(250)) {
                switch below(3) {
                case 0: v = .list([v])
                case 1: v = .tuple([v])
                default: v = .dict(["k": v])
                }
            }
            return v
        }
        if roll < 5 { return .list((0..<(1000 + below(1600))).map { _ in scalar() }) }
        return value(pick([1, 2, 4, 6]))
    }
}
