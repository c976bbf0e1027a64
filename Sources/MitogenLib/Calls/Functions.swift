import Synchronization
import MitogenCore
import MitogenSys
public import MitogenWire

/// A function a context can run by name, at the `Value` level.
public typealias RawFunction = @Sendable (_ args: [Value], _ kwargs: PyDict, _ context: CallContext) throws -> Value

/// The registry of named functions a context can run: Python's "call any
/// function" becomes "call any registered name" (DESIGN §5).
///
/// `mitogen-child` registers the builtin catalog at start; a Swift program
/// that builds its own child registers more before calling `Mitogen.main`.
public enum Functions {
    /// One registered function and how to describe it.
    public struct Entry: Sendable {
        public let name: String
        /// Python-flavoured signature for `mitogen.functions`, e.g. `"(path: str) -> list[str]"`.
        public let signature: String
        public let summary: String
        /// Runs on the broker thread instead of waiting its turn behind the
        /// call in progress: for quick, non-blocking introspection such as
        /// `mitogen.inflight`, which must answer while a call hangs.
        public let immediate: Bool
        public let body: RawFunction
    }

    private static let table = Lock<[String: Entry]>([:])

    /// Registers (or replaces) `name`.
    public static func register(
        _ name: String, signature: String = "(...)", summary: String = "", immediate: Bool = false,
        _ body: @escaping RawFunction
    ) {
        let entry = Entry(name: name, signature: signature, summary: summary, immediate: immediate, body: body)
        table.withLock { $0[name] = entry }
    }

    /// Registers a typed function: its argument and result are any `Codable`
    /// types (DESIGN §9).
    ///
    /// The argument is decoded from the call's single positional argument,
    /// from its keyword arguments when there is no positional one (so
    /// `f(path="/")` fills a struct's `path`), or from the tuple of positional
    /// arguments when there are several. A decoding failure is the caller's
    /// `TypeError`, naming the key path.
    ///
    /// ```swift
    /// Functions.register("myapp.report") { (a: ReportArgs, ctx) throws -> DiskReport in ... }
    /// ```
    public static func register<A: Decodable & SendableMetatype, R: Encodable & SendableMetatype>(
        _ name: String, signature: String = "(...)", summary: String = "", immediate: Bool = false,
        _ body: @escaping @Sendable (A, CallContext) throws -> R
    ) {
        register(name, signature: signature, summary: summary, immediate: immediate) { args, kwargs, ctx in
            let input: Value
            switch args.count {
            case 0: input = .dict(kwargs)
            case 1 where kwargs.isEmpty: input = args[0]
            default: input = .tuple(args)
            }
            let argument: A
            do {
                argument = try ValueDecoder().decode(A.self, from: input)
            } catch {
                throw PyException("TypeError", "\(name)() arguments do not fit: \(error)")
            }
            return try ValueEncoder().encode(try body(argument, ctx))
        }
    }

    /// Registers an `async` typed function. It runs in a `Task` while the
    /// dispatcher's thread waits for it; a cancelled call cancels that task,
    /// so the function sees `Task.isCancelled` (and `CancellationError` from
    /// `Task.sleep` and friends) as well as `context.isCancelled`.
    public static func register<A: Decodable & Sendable & SendableMetatype, R: Encodable & SendableMetatype>(
        _ name: String, signature: String = "(...)", summary: String = "",
        _ body: @escaping @Sendable (A, CallContext) async throws -> R
    ) {
        register(name, signature: signature, summary: summary) { (argument: A, ctx: CallContext) throws -> Value in
            let done = Latch<Result<Value, any Error>>()
            let task = Task {
                let outcome: Result<Value, any Error>
                do {
                    outcome = .success(try ValueEncoder().encode(try await body(argument, ctx)))
                } catch {
                    outcome = .failure(error)
                }
                try? done.put(outcome)
            }
            ctx.onCancel { task.cancel() }
            switch try done.get() {
            case .success(let value): return value
            case .failure(let error as CancellationError): throw PyException("mitogen.core.CancelledError", "\(error)")
            case .failure(let error): throw error
            }
        }
    }

    public static func lookup(_ name: String) -> Entry? { table.withLock { $0[name] } }

    /// Every registered function, sorted by name.
    public static var all: [Entry] { table.withLock { $0.values.sorted { $0.name < $1.name } } }
}

/// A Python-style exception raised by a function: the caller sees it as a
/// `CallError` whose text is `"<module>.<type>: <message>"`, as Mitogen formats it
/// (`builtins.FileNotFoundError: [Errno 2] No such file or directory: '/x'`).
public struct PyException: Error, Sendable, CustomStringConvertible {
    /// Qualified Python type, e.g. `"builtins.FileNotFoundError"`.
    public var type: String
    public var message: String

    public init(_ type: String, _ message: String) {
        self.type = type.contains(".") ? type : "builtins." + type
        self.message = message
    }

    public var description: String { "\(type): \(message)" }
}
