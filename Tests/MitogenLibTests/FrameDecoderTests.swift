import Testing
import TestSupport

import MitogenLib
@testable import MitogenSys
@testable import MitogenWire
@testable import MitogenCore
@testable import MitogenCalls
@testable import MitogenMaster
@testable import MitogenChild

/// FrameDecoder turns any chunking of a byte stream into the same messages,
/// and fails for good on corruption or oversize frames.
@Suite struct FrameDecoderTests {
    /// A deterministic stream of messages: every encoding, header fields that
    /// use all 32 bits, and data from empty to over a MiB.
    static func messages(count: Int, seed: UInt64, maxSize: Int) -> [Message] {
        var rng = SplitMix(seed)
        let encodings: [MessageEncoding] = [.raw, .pickled, .binary]
        return (0..<count).map { i in
            let size: Int
            switch i % 7 {
            case 0: size = 0
            case 1: size = 1
            case 2: size = MessageHeader.size
            case 3: size = min(maxSize, WireLimits.chunkSize)
            default: size = rng.below(maxSize + 1)
            }
            return Message(
                encoding: encodings[i % 3], dstID: rng.u32(), srcID: rng.u32(), authID: rng.u32(),
                handle: rng.u32(), replyTo: i % 5 == 0 ? Handle.isDead : rng.u32(),
                data: (0..<size).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ i) })
        }
    }

    static func stream(_ messages: [Message]) throws -> [UInt8] {
        var out: [UInt8] = []
        for message in messages { out += try message.frame() }
        return out
    }

    /// Feeds `bytes` in chunks whose sizes `nextChunk` picks, draining after each.
    static func decode(_ bytes: [UInt8], nextChunk: () -> Int) throws -> [Message] {
        var decoder = FrameDecoder()
        var decoded: [Message] = []
        var at = 0
        while at < bytes.count {
            let end = min(bytes.count, at + max(1, nextChunk()))
            decoder.append(bytes[at..<end])
            at = end
            while let message = try decoder.next() { decoded.append(message) }
        }
        #expect(decoder.bufferedCount == 0)
        return decoded
    }

    static func expectSame(_ got: [Message], _ want: [Message], sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(got.count == want.count, sourceLocation: sourceLocation)
        for (g, w) in zip(got, want) {
            #expect(g.header == w.header, sourceLocation: sourceLocation)
            #expect(g.data == w.data, "data of \(w)", sourceLocation: sourceLocation)
        }
    }

    @Test func randomChunkingsDecodeTheSameMessages() throws {
        let messages = Self.messages(count: 120, seed: 7, maxSize: 1_300_000)
        let bytes = try Self.stream(messages)
        #expect(bytes.count > 10_000_000)
        var rng = SplitMix(99)
        for _ in 0..<8 {
            // Chunk sizes from 1 byte to 1 MiB, spread log-uniformly.
            let decoded = try Self.decode(bytes) { 1 + rng.below(1 << (1 + rng.below(20))) }
            Self.expectSame(decoded, messages)
        }
    }

    @Test func oneByteAtATime() throws {
        let messages = Self.messages(count: 40, seed: 3, maxSize: 3000)
        Self.expectSame(try Self.decode(try Self.stream(messages)) { 1 }, messages)
    }

    @Test func everySplitPointOfTwoFrames() throws {
        let messages = Self.messages(count: 2, seed: 5, maxSize: 100)
        let bytes = try Self.stream(messages)
        for split in 0...bytes.count {
            var decoder = FrameDecoder()
            var decoded: [Message] = []
            decoder.append(bytes[..<split])
            while let m = try decoder.next() { decoded.append(m) }
            decoder.append(bytes[split...])
            while let m = try decoder.next() { decoded.append(m) }
            Self.expectSame(decoded, messages)
        }
    }

    @Test func partialFrameWaits() throws {
        let frame = try Message(encoding: .pickled, handle: 101, data: [1, 2, 3]).frame()
        var decoder = FrameDecoder()
        decoder.append(frame.dropLast())
        #expect(try decoder.next() == nil)
        #expect(decoder.bufferedCount == frame.count - 1 - MessageHeader.size)
        decoder.append(frame.suffix(1))
        #expect(try decoder.next()?.data == [1, 2, 3])
        #expect(try decoder.next() == nil)
    }

    @Test func oversizeFrameIsRefused() throws {
        var decoder = FrameDecoder(maxMessageSize: 1000)
        let ok = try Message(data: [UInt8](repeating: 7, count: 1000)).frame()
        decoder.append(ok)
        #expect(try decoder.next()?.data.count == 1000)
        var header = Message(data: []).header
        header.length = 1001
        var bytes: [UInt8] = []
        header.write(to: &bytes)
        decoder.append(bytes)  // the header alone is enough to refuse
        let error = try #require(throws: FrameError.self) { try decoder.next() }
        #expect(error == .tooLarge(got: 1001, max: 1000))
        #expect(error.description == "Maximum message size exceeded (got 1001, max 1000)")
    }

    @Test func defaultLimitIsMitogens() throws {
        var header = Message(data: []).header
        header.length = UInt32(WireLimits.defaultMaxMessageSize + 1)
        var bytes: [UInt8] = []
        header.write(to: &bytes)
        var decoder = FrameDecoder()
        decoder.append(bytes)
        let error = try #require(throws: FrameError.self) { try decoder.next() }
        #expect(error.description == "Maximum message size exceeded (got 134217729, max 134217728)")
    }

    @Test func badMagicIsCorruption() throws {
        let good = try Message(encoding: .raw, data: Array("hi".utf8)).frame()
        var bad = try Message(encoding: .pickled, data: [UInt8](repeating: 0x41, count: 3000)).frame()
        bad[0] = 0x4d
        bad[1] = 0x4c  // "ML": not a marker
        var decoder = FrameDecoder()
        decoder.append(good + bad)
        #expect(try decoder.next()?.data == Array("hi".utf8))
        let error = try #require(throws: FrameError.self) { try decoder.next() }
        guard case .badMagic(let received) = error else {
            Issue.record("expected badMagic, got \(error)")
            return
        }
        #expect(received == Array(bad.prefix(2048)))
        #expect(error.description.hasPrefix("Corruption detected: frame signature incorrect."))
        #expect(error.description.contains("Received:\n\nb'ML"))
    }

    @Test func errorsStick() throws {
        var decoder = FrameDecoder()
        decoder.append([0, 0] + [UInt8](repeating: 0, count: 24))
        let first = try #require(throws: FrameError.self) { try decoder.next() }
        decoder.append(try Message(data: [1]).frame())
        for _ in 0..<3 {
            let again = try #require(throws: FrameError.self) { try decoder.next() }
            #expect(again == first)
        }
    }

    @Test func frameRefusesOversizeOnWrite() throws {
        let message = Message(data: [UInt8](repeating: 0, count: 11))
        let error = try #require(throws: FrameError.self) { try message.frame(maxMessageSize: 10) }
        #expect(error == .tooLarge(got: 11, max: 10))
        #expect(try message.frame(maxMessageSize: 11).count == MessageHeader.size + 11)
    }
}
