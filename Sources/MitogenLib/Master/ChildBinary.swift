import CMitogenSys
import Glibc
import Synchronization
import MitogenCalls
import MitogenCore
import MitogenSys
import MitogenWire

/// The `mitogen-child` executable the master uploads: its bytes, content hash
/// and compressed forms.
///
/// A master process makes one `ChildBinary` and shares it between all
/// connections. The hash names the cached copy on every target
/// (``FirstStage``); the forms are what ``BootstrapHandshake`` sends on a miss.
///
/// Compressed forms are computed at most once per process by running the
/// local `xz -9e -T1`, `zstd -19` or `gzip -9 -n`, and kept on disk at
/// `<formCacheDirectory>/<hash>.<format>` so the next master process reuses
/// them (xz takes seconds on 7 MiB). The first request for a form blocks for
/// that long: call ``form(_:)`` off the broker thread (for instance right after
/// `init`) if latency matters.
package final class ChildBinary: Sendable {
    /// How the child is encoded for the upload; the raw value is the word the
    /// first stage reads and reports (`MITOGEN0 MISS ... xz,gzip,raw`).
    package enum Format: String, Sendable, CaseIterable {
        case raw, gzip, zstd, xz

        /// The order a slow link prefers: smallest first.
        package static let compressionPreference: [Format] = [.xz, .zstd, .gzip, .raw]

        /// The local command that writes this form of stdin to stdout.
        var compressorArgv: [String]? {
            switch self {
            case .raw: nil
            case .gzip: ["gzip", "-9", "-n", "-c"]
            case .zstd: ["zstd", "-19", "-q", "-c"]
            case .xz: ["xz", "-9e", "-T1", "-c"]
            }
        }
    }

    /// An operating system and machine architecture as `uname -s` / `uname -m` print them.
    package struct Platform: Sendable, Hashable, CustomStringConvertible {
        package var os: String
        package var arch: String

        package init(os: String, arch: String) {
            self.os = os
            self.arch = arch
        }

        /// The platform this process runs on, from `uname(2)`.
        package static let current: Platform = {
            var names = utsname()
            guard uname(&names) == 0 else { return Platform(os: "Linux", arch: "unknown") }
            func field<T>(_ value: inout T) -> String {
                withUnsafeBytes(of: &value) { raw in
                    String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
                }
            }
            return Platform(os: field(&names.sysname), arch: field(&names.machine))
        }()

        /// `os/arch`, as in error messages.
        package var description: String { "\(os)/\(arch)" }
    }

    /// Where the executable was read from.
    package let path: String
    /// SHA-256 of the executable as 64 lowercase hex digits.
    package let hash: String
    /// What the executable runs on: the master's own platform unless told otherwise.
    package let platform: Platform
    /// Where compressed forms are kept between master processes; nil keeps them in memory only.
    package let formCacheDirectory: String?

    private let raw: [UInt8]
    /// Compressed forms computed so far. The lock is held while a compressor
    /// runs, so concurrent callers wait for one computation instead of repeating it.
    private let forms = Lock<[Format: [UInt8]]>([:])

    /// Size of the uncompressed executable in bytes.
    package var size: Int { raw.count }

    /// Reads and hashes the executable at `path` (the hash comes from
    /// ``ChildHashCache`` when this very file was hashed before).
    ///
    /// - Parameters:
    ///   - path: The `mitogen-child` executable (see ``locate()``).
    ///   - platform: What it is built for; defaults to the master's platform, as
    ///     the child is built together with the master.
    ///   - formCacheDirectory: Where to keep compressed forms; defaults to
    ///     `${XDG_CACHE_HOME:-$HOME/.cache}/mitogen/forms`.
    /// - Throws: ``ChildBinaryError`` when the file cannot be read.
    package init(
        path: String, platform: Platform = .current,
        formCacheDirectory: String? = ChildBinary.defaultFormCacheDirectory()
    ) throws(ChildBinaryError) {
        self.path = path
        self.platform = platform
        self.formCacheDirectory = formCacheDirectory
        let file: (bytes: [UInt8], version: FileVersion)
        do { file = try readWholeFileAndVersion(path) } catch { throw ChildBinaryError(reading: path, error) }
        self.raw = file.bytes
        self.hash = ChildHashCache.hash(of: file.bytes, version: file.version, directory: formCacheDirectory)
    }

    /// Reads the executable at `path` whose hash is already known (an
    /// intermediary context serving its own executable: its master told it
    /// the hash, so it does not spend ~50 ms hashing 10 MB again).
    package init(path: String, knownHash: String, platform: Platform = .current) throws(ChildBinaryError) {
        self.path = path
        self.platform = platform
        self.formCacheDirectory = ChildBinary.defaultFormCacheDirectory()
        self.raw = try readBinary(path)
        self.hash = knownHash
    }

    /// `${XDG_CACHE_HOME:-$HOME/.cache}/mitogen/forms`, or nil when neither variable is set.
    package static func defaultFormCacheDirectory() -> String? {
        if let xdg = environmentValue("XDG_CACHE_HOME"), xdg.hasPrefix("/") { return xdg + "/mitogen/forms" }
        if let home = environmentValue("HOME"), !home.isEmpty { return home + "/.cache/mitogen/forms" }
        return nil
    }

    /// Finds the `mitogen-child` executable this master uploads.
    ///
    /// Looks, in order, next to the current executable (via `/proc/self/exe`),
    /// at `$MITOGEN_CHILD`, then in each directory of `$PATH`.
    /// - Returns: The first path that is an executable regular file.
    /// - Throws: ``ChildBinaryError`` listing every place looked at.
    package static func locate() throws(ChildBinaryError) -> String {
        var looked: [String] = []
        func usable(_ candidate: String) -> Bool {
            looked.append(candidate)
            var info = stat()
            return stat(candidate, &info) == 0 && (info.st_mode & S_IFMT) == S_IFREG && access(candidate, X_OK) == 0
        }
        if let exe = ownExecutablePath(), let slash = exe.lastIndex(of: "/") {
            let sibling = String(exe[..<slash]) + "/mitogen-child"
            if usable(sibling) { return sibling }
        } else {
            looked.append("next to the current executable (/proc/self/exe is unreadable)")
        }
        if let fromEnvironment = environmentValue("MITOGEN_CHILD"), !fromEnvironment.isEmpty {
            if usable(fromEnvironment) { return fromEnvironment }
        } else {
            looked.append("$MITOGEN_CHILD (unset)")
        }
        for directory in (environmentValue("PATH") ?? "").split(separator: ":") where !directory.isEmpty {
            let candidate = String(directory) + "/mitogen-child"
            if usable(candidate) { return candidate }
        }
        throw ChildBinaryError(
            .notFound,
            "cannot find the mitogen-child executable; looked at: " + looked.joined(separator: ", ")
                + ". Build it with `swift build --product mitogen-child` (add `-c release` for a small child)"
                + " and put it next to this program, or set MITOGEN_CHILD to its path")
    }

    /// The executable encoded as `format`.
    ///
    /// `.raw` returns the bytes read at init. A compressed form comes from this
    /// process's memory, else from `<formCacheDirectory>/<hash>.<format>`, else
    /// from running the local compressor (then stored in both places, the file
    /// written to a temporary name and renamed). Thread-safe.
    /// - Throws: ``ChildBinaryError`` when the compressor is missing or fails.
    package func form(_ format: Format) throws(ChildBinaryError) -> [UInt8] {
        guard let argv = format.compressorArgv else { return raw }
        let result: Result<[UInt8], ChildBinaryError> = forms.withLock { cache in
            if let done = cache[format] { return .success(done) }
            let computed = Result { () throws(ChildBinaryError) in try loadOrCompress(format, argv: argv) }
            if case .success(let bytes) = computed { cache[format] = bytes }
            return computed
        }
        return try result.get()
    }

    private func loadOrCompress(_ format: Format, argv: [String]) throws(ChildBinaryError) -> [UInt8] {
        let name = "\(hash).\(format.rawValue)"
        if let directory = formCacheDirectory, let cached = try? readBinary(directory + "/" + name),
            !cached.isEmpty
        {
            return cached
        }
        if let directory = formCacheDirectory, makeDirectories(directory) {
            let temporary = "\(directory)/.\(name).\(getpid())"
            try runCompressor(argv, input: path, output: temporary)
            defer { unlink(temporary) }
            let bytes = try readBinary(temporary)
            // A failed rename only costs the next process a recompression.
            _ = rename(temporary, directory + "/" + name)
            return bytes
        }
        var template = Array("/tmp/mitogen-form-XXXXXX".utf8CString)
        let fd = template.withUnsafeMutableBufferPointer { mkstemp($0.baseAddress!) }
        guard fd >= 0 else {
            throw ChildBinaryError(.compressionFailed, "cannot create a temporary file for the \(format) form", errno: errno)
        }
        close(fd)
        let temporary = String(decoding: template.dropLast().map { UInt8(bitPattern: $0) }, as: UTF8.self)
        defer { unlink(temporary) }
        try runCompressor(argv, input: path, output: temporary)
        return try readBinary(temporary)
    }
}

/// A failure to find, read or compress the child executable.
package struct ChildBinaryError: Error, CustomStringConvertible, Sendable {
    /// What kind of failure; a struct so codes can be added.
    package struct Code: Hashable, Sendable {
        enum Kind: Hashable, Sendable { case notFound, unreadable, compressionFailed }
        let kind: Kind
        /// No executable where ``ChildBinary/locate()`` looked.
        package static let notFound = Code(kind: .notFound)
        /// The executable could not be opened or read.
        package static let unreadable = Code(kind: .unreadable)
        /// A local compressor was missing or failed.
        package static let compressionFailed = Code(kind: .compressionFailed)
    }

    package let code: Code
    /// The sentence naming the operation, its argument and the reason.
    package let message: String
    /// The C `errno` behind the failure, if any.
    package let errno: Int32?

    init(_ code: Code, _ message: String, errno: Int32? = nil) {
        self.code = code
        self.message = message
        self.errno = errno
    }

    package var description: String {
        guard let errno else { return message }
        return "\(message): \(String(cString: strerror(errno)))"
    }
}

// MARK: - Reading and compressing, through MitogenSys.

/// `readWholeFile` with the failure as a `ChildBinaryError`.
private func readBinary(_ path: String) throws(ChildBinaryError) -> [UInt8] {
    do {
        return try readWholeFile(path)
    } catch {
        throw ChildBinaryError(reading: path, error)
    }
}

extension ChildBinaryError {
    /// `cannot open|read PATH: reason`.
    init(reading path: String, _ error: SystemError) {
        let step = error.operation.hasPrefix("open") ? "open" : "read"
        self.init(.unreadable, "cannot \(step) \(path)", errno: error.errno)
    }
}

/// Runs `argv` (looked up on PATH) with stdin from `input`, stdout to `output`
/// (created 0600, never through a symlink) and stderr to /dev/null, and
/// waits for it.
private func runCompressor(_ argv: [String], input: String, output: String) throws(ChildBinaryError) {
    let command = argv.joined(separator: " ")
    do {
        let source = try FileDescriptor.open(input, flags: O_RDONLY)
        defer { source.close() }
        let sink = try FileDescriptor.open(output, flags: O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW, mode: 0o600)
        defer { sink.close() }
        let null = try FileDescriptor.open("/dev/null", flags: O_WRONLY)
        defer { null.close() }
        let pid = try spawnProcess(SpawnRequest(executable: argv[0], argv: argv, stdin: source, stdout: sink, stderr: null))
        switch try waitProcess(pid, block: true) {
        case .exited(0): return
        case .exited(let code):
            throw ChildBinaryError(.compressionFailed, "`\(command) < \(input)` exited with status \(code)")
        case .signaled(let signal):
            throw ChildBinaryError(.compressionFailed, "`\(command) < \(input)` was killed by signal \(signal)")
        case nil:
            throw ChildBinaryError(.compressionFailed, "`\(command)` did not finish")
        }
    } catch let error as SystemError {
        throw ChildBinaryError(.compressionFailed, "cannot run `\(command)` to compress \(input): \(error)")
    } catch let error as ChildBinaryError {
        throw error
    } catch {
        throw ChildBinaryError(.compressionFailed, "cannot run `\(command)`: \(error)")
    }
}
