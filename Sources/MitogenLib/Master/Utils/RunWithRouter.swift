import MitogenCalls
public import MitogenCore
import MitogenSys
public import MitogenWire
/// Runs `body` with a temporary master `Router` and always shuts the router
/// and its broker down afterwards, on normal and exceptional return (the
/// seed's `mitogen.utils.run_with_router`).
///
/// ```swift
/// let pid: Int = try runWithRouter { router in try router.local().call("os.getpid") }
/// ```
public func runWithRouter<T>(_ body: (Router) throws -> T) throws -> T {
    try runWithRouter(Router(), body)
}

/// Runs `body` with `router`, then shuts it down and waits for its broker.
private func runWithRouter<T>(_ router: Router, _ body: (Router) throws -> T) throws -> T {
    defer {
        router.shutdown()
        try? router.join(timeout: router.broker.shutdownTimeout + 5)
    }
    return try body(router)
}

/// The async twin of `runWithRouter`.
public func runWithRouter<T>(_ body: (Router) async throws -> T) async throws -> T {
    let router = Router()
    defer {
        router.shutdown()
        try? router.join(timeout: router.broker.shutdownTimeout + 5)
    }
    return try await body(router)
}

/// The seed's `@with_router` decorator: wraps `body` into a function that
/// runs it with a temporary router each time it is called.
///
/// ```swift
/// let doStuff = withRouter { (router: Router, arg: Int) in try router.local().call("mitogen.echo", arg) as Int }
/// let x = try doStuff(123)
/// ```
public func withRouter<A, T>(_ body: @escaping (Router, A) throws -> T) -> (A) throws -> T {
    { arg in try runWithRouter { router in try body(router, arg) } }
}

extension Mitogen {
    /// A program's entry point (the seed's `mitogen.main` decorator): sets
    /// up logging at `logLevel` on stderr, then runs `body` with a router
    /// that is shut down however `body` ends.
    /// - Parameter profiling: the router profiles every call and children
    ///   started from it profile too (see `Router.init(profiling:)`).
    public static func main<T>(logLevel: String = "INFO", profiling: Bool? = nil, _ body: (Router) throws -> T) throws -> T {
        logToFile(level: logLevel)
        return try runWithRouter(Router(profiling: profiling), body)
    }
}

/// The seed's `disable_site_packages` removes `site-packages` from Python's
/// import path. A Swift program has no import path: this does nothing, and
/// exists so the API maps one to one.
public func disableSitePackages() {}

/// Strips custom types from a value the way the seed's `cast` does: dicts
/// and Kwargs become plain dicts, lists and tuples become lists, Blob becomes
/// bytes and Secret becomes str; ints, floats, bools, None, Context, Sender
/// and CallError pass through.
/// - Throws: `PyException("TypeError", "Cannot serialize: ...")` for sets,
///   which Mitogen refuses to send.
public func cast(_ value: Value) throws -> Value {
    switch value {
    case .dict(let d), .kwargs(let d):
        var out = PyDict()
        for (k, v) in d { out[try cast(k)] = try cast(v) }
        return .dict(out)
    case .list(let items), .tuple(let items):
        return .list(try items.map(cast))
    case .blob(let b): return .bytes(b)
    case .secret(let s): return .str(s)
    case .set, .frozenset:
        throw PyException("TypeError", "Cannot serialize: <class '\(value.typeName)'>: \(value.displayText)")
    default:
        return value
    }
}

/// `cast` of any `Encodable` value: its plain wire form.
public func cast<T: Encodable>(_ value: T) throws -> Value {
    try cast(ValueEncoder().encode(value))
}
