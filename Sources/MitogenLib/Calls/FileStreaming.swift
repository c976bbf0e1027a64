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
            return .int(try streamFile(path, to: sender, limit: limit))
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
            let peer = router.context(byID: cid)
            let receiver = try Receiver(router: router, respondent: peer)
            defer { receiver.close() }
            Sender(context: peer, handle: handle).send(.sender(contextID: router.contextID, handle: receiver.handle))
            return .int(try receiveFile(path, from: receiver, mode: mode_t(mode)))
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
    static func streamFile(_ path: String, to sender: Sender, limit: Int?) throws -> Int {
        let fd: FileDescriptor
        do { fd = try FileDescriptor.open(path, flags: O_RDONLY) } catch { throw PythonErrors.osError(errno: error.errno, path: path) }
        defer { fd.close() }
        var total = 0
        while limit.map({ total < $0 }) ?? true {
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

    /// Writes Blobs arriving on `receiver` into `path` (atomically, via a
    /// temporary file) until `None`. Returns the byte count.
    static func receiveFile(_ path: String, from receiver: Receiver, mode: mode_t) throws -> Int {
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
                let value = try receiver.get().unpickle()
                guard let bytes = value.bytesValue else {
                    if value.isNone { break }
                    throw PyException("TypeError", "files.put: expected a Blob chunk or None, got \(value.typeName)")
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
    /// Copies the file at `remotePath` in this context to `localPath` here,
    /// streamed (constant memory). Returns the byte count.
    @discardableResult
    public func getFile(_ remotePath: String, to localPath: String) throws -> Int {
        let receiver = try Receiver(router: router, respondent: self)
        defer { receiver.close() }
        let call = try callAsyncValue("files.get", args: [.str(remotePath), .sender(contextID: router.contextID, handle: receiver.handle)])
        let written = try FileStreaming.receiveFile(localPath, from: receiver, mode: 0o644)
        let size = try call.get().unpickle()
        guard size.intValue == written else {
            throw StreamError("getFile \(remotePath): received \(written) bytes but the context sent \(size.displayText)")
        }
        return written
    }

    /// Copies the local file `localPath` to `remotePath` in this context,
    /// streamed. Returns the byte count written there.
    @discardableResult
    public func putFile(_ localPath: String, to remotePath: String, mode: Int = 0o644) throws -> Int {
        let reply = try Receiver(router: router, persist: false, respondent: self)
        defer { reply.close() }
        let call = try callAsyncValue(
            "files.put", args: [.str(remotePath), .sender(contextID: router.contextID, handle: reply.handle), .int(mode)])
        guard case .sender(let cid, let handle) = try reply.get().unpickle() else {
            throw StreamError("putFile: the context did not answer with a Sender")
        }
        _ = try FileStreaming.streamFile(localPath, to: Sender(context: router.context(byID: cid), handle: handle), limit: nil)
        return try call.get().unpickle().intValue ?? 0
    }

    /// `callAsync` at the Value level, on the default chain.
    public func callAsyncValue(_ function: String, args: [Value], kwargs: PyDict = PyDict()) throws -> Receiver {
        try defaultCallChain.callAsyncValue(function, args: args, kwargs: kwargs)
    }
}
