import Foundation
import Testing
import MitogenLib
@testable import MitogenSys
@testable import MitogenWire
@testable import MitogenCore
@testable import MitogenCalls
@testable import MitogenMaster
@testable import MitogenChild

/// The handshake fed scripted target output, in every chunking that matters.
@Suite struct BootstrapHandshakeTests {
    let fixture: Fixture

    init() throws { fixture = try Fixture() }

    /// `MITO002` at every split point of the input: the frames that follow come
    /// back as `ready(leftover:)` plus whatever is fed after.
    @Test func hitAtEverySplitPoint() {
        let input = Array("Last login: yesterday\r\nMITO002\nFRAMES".utf8)
        for split in 0...input.count {
            var handshake = BootstrapHandshake(child: fixture.child, preferCompression: true)
            var actions = handshake.feed(Array(input[..<split]))
            var frames: [UInt8] = []
            if case .ready(let leftover)? = actions.last {
                frames = leftover + input[split...]
            } else {
                actions += handshake.feed(Array(input[split...]))
                if case .ready(let leftover)? = actions.last { frames = leftover }
            }
            #expect(actions.first == .log("Last login: yesterday"), "split \(split)")
            #expect(handshake.phase == .ready, "split \(split)")
            #expect(frames == Array("FRAMES".utf8), "split \(split)")
            #expect(handshake.uploadedFormat == nil)
        }
    }

    @Test func missSendsRawWhenCompressionIsNotPreferred() throws {
        var handshake = BootstrapHandshake(child: fixture.child, preferCompression: false, chunkSize: 1000)
        let actions = handshake.feed(fixture.missLine("xz,zstd,gzip,raw"))
        let upload = try Upload(actions)
        #expect(upload.header == "raw \(fixture.child.size)\n")
        #expect(upload.payload == (try fixture.child.form(.raw)))
        #expect(upload.progress.last == fixture.child.size)
        #expect(upload.progress == upload.progress.sorted())
        #expect(upload.progress.count == (fixture.child.size + 999) / 1000)
        #expect(handshake.phase == .awaitingReady)
        #expect(handshake.feed(Array("MITO002\n".utf8)) == [.ready(leftover: [])])
    }

    @Test(arguments: [
        ("xz,zstd,gzip,raw", ChildBinary.Format.xz),
        ("zstd,gzip,raw", .zstd),
        ("gzip,raw", .gzip),
        ("raw", .raw),
        ("lz4,raw", .raw),
    ])
    func compressionFollowsPreferenceAmongOffered(offered: String, expected: ChildBinary.Format) throws {
        var handshake = BootstrapHandshake(child: fixture.child, preferCompression: true)
        let upload = try Upload(handshake.feed(fixture.missLine(offered)))
        #expect(handshake.uploadedFormat == expected)
        #expect(upload.header == "\(expected.rawValue) \(upload.payload.count)\n")
        #expect(upload.payload == (try fixture.child.form(expected)))
    }

    @Test func otherPlatformIsAborted() {
        var handshake = BootstrapHandshake(child: fixture.child, preferCompression: true)
        let here = ChildBinary.Platform.current
        let actions = handshake.feed(Array("MITOGEN0 MISS FreeBSD amd64 xz,raw\n".utf8))
        let reason = "target is FreeBSD/amd64 but this master's mitogen-child is built for \(here)"
        #expect(actions == [.send(Array("ABORT \(reason)\n".utf8)), .failed(reason)])
        #expect(handshake.phase == .failed)
        #expect(handshake.feed(Array("MITO002\n".utf8)).isEmpty, "finished handshakes ignore input")
        #expect(handshake.eof().isEmpty)
    }

    @Test func errorLineFails() {
        var handshake = BootstrapHandshake(child: fixture.child, preferCompression: true)
        let actions = handshake.feed(Array("MITOGEN0 WARN cache directory /x has mode 0777, refusing it\nMITOGEN0 ERROR no /proc on box: the static child needs /proc mounted\n".utf8))
        #expect(actions == [
            .log("first stage: cache directory /x has mode 0777, refusing it"),
            .failed("no /proc on box: the static child needs /proc mounted"),
        ])
    }

    @Test func secondMissIsAProtocolError() throws {
        var handshake = BootstrapHandshake(child: fixture.child, preferCompression: false)
        _ = handshake.feed(fixture.missLine("raw"))
        #expect(handshake.feed(fixture.missLine("raw")) == [.failed("protocol error: the first stage asked for the child twice")])
    }

    /// EOF quotes the last 100 lines of stdout and stderr, the partial line included.
    @Test func eofQuotesTheLastHundredLines() {
        var handshake = BootstrapHandshake(child: fixture.child, preferCompression: true)
        let lines = (1...150).map { "line \($0)\n" }.joined()
        _ = handshake.feed(Array(lines.utf8))
        #expect(handshake.feedDiagnostics(Array("ssh: connect refused\npartial-err".utf8)) == [.log("ssh: connect refused")])
        _ = handshake.feed(Array("partial-out".utf8))
        let actions = handshake.eof()
        let expected = (54...150).map { "line \($0)" } + ["ssh: connect refused", "partial-out", "partial-err"]
        #expect(actions == [.failed("EOF on stream; last 100 lines received:\n" + expected.joined(separator: "\n"))])
        #expect(handshake.phase == .failed)
    }

    /// A target that prints megabytes without a newline does not grow the buffer:
    /// the line is cut at the cap and the protocol still works afterwards.
    @Test func longLinesAreCapped() {
        var handshake = BootstrapHandshake(child: fixture.child, preferCompression: true)
        let spew = [UInt8](repeating: UInt8(ascii: "x"), count: 1 << 16)
        for _ in 0..<32 { #expect(handshake.feed(spew).isEmpty) }
        let actions = handshake.feed(Array("\nMITO002\n".utf8))
        #expect(actions.count == 2)
        guard case .log(let line)? = actions.first else {
            Issue.record("expected the long line to be logged, got \(actions)")
            return
        }
        #expect(line.utf8.count <= BootstrapHandshake.maxLineLength + 20)
        #expect(line.hasSuffix("[line truncated]"))
        #expect(actions.last == .ready(leftover: []))
    }

    @Test func unknownFirstStageLinesAreLogged() {
        var handshake = BootstrapHandshake(child: fixture.child, preferCompression: true)
        #expect(handshake.feed(Array("MITOGEN0 HELLO there\n".utf8)) == [.log("MITOGEN0 HELLO there")])
        #expect(handshake.phase == .awaitingStage)
    }
}

/// Reading, hashing, locating and compressing the child executable.
@Suite struct ChildBinaryTests {
    let fixture: Fixture

    init() throws { fixture = try Fixture() }

    @Test func hashIsTheFileSha256() throws {
        let bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: fixture.child.path)))
        #expect(fixture.child.hash == SHA256.hexDigest(of: bytes))
        #expect(fixture.child.size == bytes.count)
        #expect(try fixture.child.form(.raw) == bytes)
    }

    /// Each compressed form decompresses, with the system tool, to the original.
    @Test(arguments: [ChildBinary.Format.xz, .zstd, .gzip])
    func formsRoundTrip(format: ChildBinary.Format) throws {
        let compressed = try fixture.child.form(format)
        #expect(compressed.count < fixture.child.size)
        let cached = "\(fixture.formDirectory)/\(fixture.child.hash).\(format.rawValue)"
        #expect(try [UInt8](Data(contentsOf: URL(fileURLWithPath: cached))) == compressed)
        let file = fixture.root + "/roundtrip." + format.rawValue
        try Data(compressed).write(to: URL(fileURLWithPath: file))
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = [format.rawValue, "-dc", file]
        let output = Pipe()
        process.standardOutput = output
        try process.run()
        let decompressed = [UInt8](output.fileHandleForReading.readDataToEndOfFile())
        process.waitUntilExit()
        #expect(decompressed == (try fixture.child.form(.raw)))
    }

    /// A new process (here: a new instance) takes the form from the disk cache
    /// instead of compressing again.
    @Test func formsAreReusedFromDisk() throws {
        _ = try fixture.child.form(.gzip)
        let cached = "\(fixture.formDirectory)/\(fixture.child.hash).gzip"
        try Data("marker".utf8).write(to: URL(fileURLWithPath: cached))
        let again = try ChildBinary(path: fixture.child.path, formCacheDirectory: fixture.formDirectory)
        #expect(try again.form(.gzip) == Array("marker".utf8))
    }

    @Test func formsWorkWithoutACacheDirectory() throws {
        let child = try ChildBinary(path: fixture.child.path, formCacheDirectory: nil)
        #expect(try child.form(.gzip) == (try fixture.child.form(.gzip)))
    }

    @Test func missingFileIsAClearError() {
        #expect {
            try ChildBinary(path: fixture.root + "/nope")
        } throws: { error in
            (error as? ChildBinaryError)?.description == "cannot open \(fixture.root)/nope: No such file or directory"
        }
    }

    /// `swift build --build-tests` builds mitogen-child next to the test bundle.
    @Test func locateFindsTheBuiltChild() throws {
        let path = try ChildBinary.locate()
        #expect(path.hasSuffix("/mitogen-child"))
        #expect(FileManager.default.isExecutableFile(atPath: path))
    }
}

/// A small child file with enough repetition to compress.
struct Fixture {
    let root: String
    let formDirectory: String
    let child: ChildBinary
    private let cleanup: RemoveOnDeinit

    init() throws {
        root = NSTemporaryDirectory() + "mitogen-handshake-test-" + UUID().uuidString
        cleanup = RemoveOnDeinit(root)
        formDirectory = root + "/forms"
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        var bytes: [UInt8] = []
        for index in 0..<20_000 { bytes += Array("block \(index % 97) of the fake child\n".utf8) }
        let path = root + "/child"
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        child = try ChildBinary(path: path, formCacheDirectory: formDirectory)
    }

    func missLine(_ formats: String) -> [UInt8] {
        let here = ChildBinary.Platform.current
        return Array("MITOGEN0 MISS \(here.os) \(here.arch) \(formats)\n".utf8)
    }
}

/// The header line, payload and progress figures of one upload.
struct Upload {
    var header = ""
    var payload: [UInt8] = []
    var progress: [Int] = []

    init(_ actions: [BootstrapHandshake.Action]) throws {
        var sends = 0
        for action in actions {
            switch action {
            case .send(let bytes):
                if sends == 0 { header = String(decoding: bytes, as: UTF8.self) } else { payload += bytes }
                sends += 1
            case .progress(let sent, let total):
                #expect(sent == payload.count)
                #expect(total >= sent)
                progress.append(sent)
            case .failed(let reason):
                Issue.record("unexpected failure: \(reason)")
            case .log, .ready:
                break
            }
        }
        try #require(sends >= 2, "no upload in \(actions.count) actions")
    }
}
