import CMitogenSys
import Glibc
import Logging
public import MitogenCore
import MitogenSys
public import MitogenWire

/// Big files move as a stream of 128 KiB `Blob` messages through a `Sender`,
/// ended by a `None` message, so neither side holds the whole file and flow
/// control bounds memory (a sender blocks while its stream is backed up).
///
/// - `files.get(path, sender, limit=None)` in a context streams the file to
///   `sender` and returns its size; `Context.getFile` is the master's half.
/// - `files.put(path, reply_sender, mode=0o644)` in a context makes a
///   receiver, sends its `Sender` to `reply_sender`, writes what arrives into
///   a temporary file and renames it into place at the end marker;
///   `Context.putFile` is the master's half.
///
/// The receiving side waits at most an idle timeout for each chunk and takes
/// at most a size limit in all (`receiveFile`); the sending side streams
/// only to the context it called (`Context.putFile` refuses a `Sender` for
/// any other context, which could be a sibling's SHUTDOWN handle).
package enum FileStreaming {
    static let chunkSize = WireLimits.chunkSize

    package static func register() {
        Functions.register(
            "files.get", signature: "(path: str, sender: Sender, limit: int | None = None) -> int",
            summary: "Stream a file to sender in 128 KiB Blobs, then None; returns the byte count."
        ) { args, kwargs, ctx in
            let a = try BuiltinArguments("files.get", args, kwargs, parameters: ["path", "sender", "limit"])
            let path = try a.path("path")
            guard case .sender(let cid, let handle)? = a.value("sender"), let router = ctx.routerRef as? Router else {
                throw PyException("TypeError", "files.get() argument 'sender' must be a mitogen.core.Sender")
            }
            let limit = a.optional("limit")?.intValue
            let sender = Sender(context: router.context(byID: cid), handle: handle)
            return .int(try streamFile(path, to: sender, limit: limit, call: ctx))
        }
        Functions.register(
            "files.put", signature: "(path: str, reply: Sender, mode: int = 0o644) -> int",
            summary: "Receive a file streamed by the caller (see Context.putFile); returns the byte count."
        ) { args, kwargs, ctx in
            let a = try BuiltinArguments("files.put", args, kwargs, parameters: ["path", "reply", "mode"])
            let path = try a.path("path")
            guard case .sender(let cid, let handle)? = a.value("reply"), let router = ctx.routerRef as? Router else {
                throw PyException("TypeError", "files.put() argument 'reply' must be a mitogen.core.Sender")
            }
            let mode = a.optional("mode")?.intValue ?? 0o644
            guard let fileMode = mode_t(exactly: mode), fileMode <= 0o7777 else {
                throw PyException("ValueError", "files.put() argument 'mode' must be a file mode (0 to 0o7777)")
            }
            let peer = router.context(byID: cid)
            let receiver = try Receiver(router: router, respondent: peer)
            defer { receiver.close() }
            // A cancel ends the wait for the next chunk; receiveFile then removes its partial file.
            ctx.onCancel { receiver.close() }
            Sender(context: peer, handle: handle).send(.sender(contextID: router.contextID, handle: receiver.handle))
            return .int(
                try receiveFile(
                    path, mode: fileMode, maxBytes: Context.defaultMaxFileBytes, idleTimeout: Context.defaultFileIdleTimeout
                ) { timeout in try receiver.get(timeout: timeout).unpickle() })
        }
        Functions.register(
            "mitogen.log", signature: "(message: str, level: int = 20, logger: str = 'mitogen.user') -> None",
            summary: "Log a message in this context; it drains to the master."
        ) { args, kwargs, _ in
            let a = try BuiltinArguments("mitogen.log", args, kwargs, parameters: ["message", "level", "logger"])
            let text = try a.string("message")
            let level = a.optional("level")?.intValue ?? PythonLogLevel.info
            let label = try a.string("logger", default: "mitogen.user") ?? "mitogen.user"
            Logger(label: label).log(level: Logger.Level(pythonLevel: level), "\(text)")
            return .none
        }
    }

    /// Sends `path` to `sender` in Blobs, then `None`. Returns the byte count.
    /// - Parameter call: the call doing it, if any: a cancel stops it
    ///   between chunks (the receiver then removes its partial file), and
    ///   `mitogen.inflight` shows the descriptor being read.
    static func streamFile(_ path: String, to sender: Sender, limit: Int?, call: CallContext? = nil) throws -> Int {
        let fd: FileDescriptor
        do { fd = try FileDescriptor.open(path, flags: O_RDONLY) } catch { throw PythonErrors.osError(errno: error.errno, path: path) }
        defer { fd.close() }
        call?.noteWaiting(.descriptor(fd: fd.rawValue, reading: true))
        defer { call?.doneWaiting(.descriptor(fd: fd.rawValue, reading: true)) }
        var total = 0
        while limit.map({ total < $0 }) ?? true {
            try call?.checkCancellation()
            let chunk: [UInt8]
            do {
                chunk = try fd.read(upTo: min(chunkSize, (limit ?? Int.max) - total))
            } catch {
                throw PythonErrors.osError(errno: error.errno, path: path)
            }
            if chunk.isEmpty { break }
            sender.send(.blob(chunk))
            total += chunk.count
        }
        sender.send(.none)
        return total
    }

    /// Writes the Blobs `next` yields into `path` (atomically, via a temporary
    /// file that is removed on any failure) until `None`. Returns the byte count.
    /// - Parameters:
    ///   - maxBytes: most bytes taken; more is an error.
    ///   - idleTimeout: seconds `next` may wait for each chunk.
    ///   - next: the next value, waiting at most the given seconds.
    /// - Throws: `TimeoutError` when no chunk came within `idleTimeout`,
    ///   `StreamError` past `maxBytes`, `TypeError` for anything but a Blob
    ///   or `None`, `OSError` for the file, and whatever `next` throws.
    static func receiveFile(
        _ path: String, mode: mode_t, maxBytes: Int, idleTimeout: Double, next: (Double) throws -> Value
    ) throws -> Int {
        // A fresh random name created with O_EXCL | O_NOFOLLOW: a file or
        // symlink planted at a predictable name is never written through.
        let temp = path + ".mitogen-\(String(UInt64.random(in: 0...UInt64.max), radix: 36)).tmp"
        let fd: FileDescriptor
        do {
            fd = try FileDescriptor.open(temp, flags: O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, mode: mode)
        } catch {
            throw PythonErrors.osError(errno: error.errno, path: temp)
        }
        var total = 0
        do {
            defer { fd.close() }
            while true {
                let value: Value
                do {
                    value = try next(idleTimeout)
                } catch is TimeoutError {
                    throw TimeoutError("receiving \(path) (no chunk for \(idleTimeout) s)")
                }
                guard let bytes = value.bytesValue else {
                    if value.isNone { break }
                    throw PyException("TypeError", "receiving \(path): expected a Blob chunk or None, got \(value.typeName)")
                }
                guard bytes.count <= maxBytes - total else {
                    throw StreamError("receiving \(path): more than the limit of \(maxBytes) bytes arrived")
                }
                do { try fd.writeAll(bytes) } catch { throw PythonErrors.osError(errno: error.errno, path: temp) }
                total += bytes.count
            }
        } catch {
            unlink(temp)
            throw error
        }
        guard rename(temp, path) == 0 else {
            let e = errno
            unlink(temp)
            throw PythonErrors.osError(errno: e, path: path)
        }
        return total
    }
}

extension Context {
    /// Default most bytes `getFile` (and `files.put` in a context) takes: 4 GiB.
    public static let defaultMaxFileBytes = 4 << 30
    /// Default seconds a file transfer waits for each chunk (or for the
    /// other side's answer) before it gives up.
    public static let defaultFileIdleTimeout = 60.0

    /// Copies the file at `remotePath` in this context to `localPath` here,
    /// streamed (constant memory) and written atomically (a temporary file
    /// renamed into place; nothing is left behind on failure). Returns the
    /// byte count.
    ///
    /// - Parameters:
    ///   - maxBytes: refuse a file larger than this (the context is asked to
    ///     stop after one byte more).
    ///   - idleTimeout: seconds to wait for each chunk.
    /// - Throws: `CallError` if the context could not read the file,
    ///   `TimeoutError` if it stopped sending, `StreamError` past `maxBytes`
    ///   or on a malformed transfer, `ChannelError` if it disconnected.
    @discardableResult
    public func getFile(
        _ remotePath: String, to localPath: String, maxBytes: Int = Context.defaultMaxFileBytes,
        idleTimeout: Double = Context.defaultFileIdleTimeout
    ) throws -> Int {
        guard maxBytes >= 0 else { throw StreamError("getFile \(remotePath): maxBytes must not be negative (\(maxBytes))") }
        let data = try Receiver(router: router, respondent: self)
        defer { data.close() }
        // An honest context stops one byte past the limit, which is enough to refuse.
        let limit: Value = maxBytes == .max ? .none : .int(maxBytes + 1)
        let call = try callAsyncValue(
            "files.get", args: [.str(remotePath), .sender(contextID: router.contextID, handle: data.handle), limit])
        defer { call.close() }
        // Chunks and the call's reply come in one ordered stream: a reply
        // before the end marker means files.get failed (or misbehaved).
        let select = try Select([data, call], oneshot: false)
        defer { select.close() }
        let written = try FileStreaming.receiveFile(localPath, mode: 0o644, maxBytes: maxBytes, idleTimeout: idleTimeout) { timeout in
            let msg = try select.get(timeout: timeout)
            guard msg.receiver === call else { return try msg.unpickle() }
            let early = try msg.unpickle()
            throw StreamError("getFile \(remotePath): files.get returned \(early.displayText) before the end of the file")
        }
        let size: Value
        do {
            size = try call.get(timeout: idleTimeout).unpickle()
        } catch is TimeoutError {
            throw TimeoutError("getFile \(remotePath) (no answer for \(idleTimeout) s after the last chunk)")
        }
        guard size.intValue == written else {
            throw StreamError("getFile \(remotePath): received \(written) bytes but the context sent \(size.displayText)")
        }
        return written
    }

    /// Copies the local file `localPath` to `remotePath` in this context,
    /// streamed. Returns the byte count written there.
    ///
    /// The context answers the request with the `Sender` to stream to; only a
    /// `Sender` of this context is accepted, so a compromised context cannot
    /// make this process (with its authority) stream the file elsewhere, such
    /// as to a sibling's SHUTDOWN handle.
    /// - Parameter idleTimeout: seconds to wait for the context's answer.
    /// - Throws: `StreamError` if the answer is not a `Sender` of this context
    ///   (nothing is sent then), `CallError` if `files.put` failed there,
    ///   `TimeoutError` if it did not answer.
    @discardableResult
    public func putFile(
        _ localPath: String, to remotePath: String, mode: Int = 0o644, idleTimeout: Double = Context.defaultFileIdleTimeout
    ) throws -> Int {
        let reply = try Receiver(router: router, persist: false, respondent: self)
        defer { reply.close() }
        let call = try callAsyncValue(
            "files.put", args: [.str(remotePath), .sender(contextID: router.contextID, handle: reply.handle), .int(mode)])
        defer { call.close() }
        let select = try Select([reply, call], oneshot: false)
        defer { select.close() }
        let answer: Message
        do {
            answer = try select.get(timeout: idleTimeout)
        } catch is TimeoutError {
            throw TimeoutError("putFile \(remotePath) (no answer for \(idleTimeout) s)")
        }
        guard answer.receiver !== call else {
            let early = try answer.unpickle()
            throw StreamError("putFile \(remotePath): files.put returned \(early.displayText) before asking for the file")
        }
        let sender = try answer.unpickle()
        guard case .sender(let cid, let handle) = sender else {
            throw StreamError("putFile \(remotePath): the context did not answer with a Sender but \(sender.displayText)")
        }
        guard cid == contextID else {
            throw StreamError(
                "putFile \(remotePath): refused to stream to Sender(\(cid), \(handle)): only a Sender of the callee, context \(contextID), may receive the file")
        }
        _ = try FileStreaming.streamFile(localPath, to: Sender(context: self, handle: handle), limit: nil)
        do {
            return try call.get(timeout: idleTimeout).unpickle().intValue ?? 0
        } catch is TimeoutError {
            throw TimeoutError("putFile \(remotePath) (no answer for \(idleTimeout) s after the last chunk)")
        }
    }

    /// `callAsync` at the Value level, on the default chain.
    public func callAsyncValue(_ function: String, args: [Value], kwargs: PyDict = PyDict()) throws -> Receiver {
        try defaultCallChain.callAsyncValue(function, args: args, kwargs: kwargs)
    }
}
