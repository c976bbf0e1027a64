package import MitogenCore
package import MitogenWire

/// How a spawned tool's standard streams are wired, as in Mitogen 0.3.54
/// (notes/mitogen-wire.md §8, "stdio" column).
public enum MethodStdio: Sendable, Equatable {
    /// stdin/stdout on a socketpair, stderr on its own pipe (diagnostics and,
    /// for `ssh`, its error lines). Mitogen's `create_child(stderr_pipe=True)`.
    case pipes
    /// stdin/stdout on a socketpair; stderr and the controlling terminal on a
    /// new PTY, where the tool prompts. Mitogen's `hybrid_tty_create_child`.
    case hybridPTY
    /// stdin, stdout and stderr all on one PTY (raw mode, echo off); prompts
    /// and the first stage share it. Mitogen's `tty_create_child` (`su`).
    case fullPTY
    /// stdin/stdout on a socketpair and stderr merged into stdout. Mitogen's
    /// `create_child(merge_stdio=True)` (the container tools).
    case mergedStderr

    /// Whether a PTY must be allocated.
    public var needsPTY: Bool { self == .hybridPTY || self == .fullPTY }

    /// Whether the first stage's marker lines arrive on the same channel as
    /// the tool's prompts and messages, so the ``PromptEngine`` must find them.
    public var markersInBand: Bool { self == .fullPTY || self == .mergedStderr }
}

/// A connection method that spawns a local tool (`ssh`, `sudo`, `docker`, ...)
/// and may talk to it before the first stage runs.
///
/// Beyond ``ConnectionMethod`` it says how to wire the tool's stdio, which
/// prompts it answers, and the secret it may type. The secret is never part
/// of ``ConnectionMethod/command(stageArgv:stageCommand:)``,
/// ``ConnectionMethod/hopOptions`` or `description`: a caller that rebuilds
/// the method on an intermediary passes it separately.
package protocol SpawnedMethod: ConnectionMethod, CustomStringConvertible {
    /// How the tool's stdio is wired.
    var stdio: MethodStdio { get }
    /// The password to type when the tool asks, if any.
    var password: Secret? { get }
    /// What the tool's prompts and failure messages look like.
    var promptDialect: PromptDialect { get }
    /// Text appended (after a blank line) to the end-of-file error, as
    /// Mitogen's `eof_error_hint`; nil for none.
    var eofErrorHint: String? { get }
}

extension SpawnedMethod {
    public var password: Secret? { nil }
    package var promptDialect: PromptDialect { .none }
    public var eofErrorHint: String? { nil }

    /// Whether a PTY must be allocated (Mitogen's stdio choice).
    public var needsPTY: Bool { stdio.needsPTY }

    /// A fresh prompt engine for one connection attempt with this method.
    ///
    /// - Parameter canAsk: The caller has a callback for prompts that are not
    ///   the password (one-time codes, key passphrases); without one such a
    ///   prompt fails the connection at once.
    package func makePromptEngine(canAsk: Bool = false) -> PromptEngine {
        PromptEngine(dialect: promptDialect, password: password, markersInBand: stdio.markersInBand, canAsk: canAsk)
    }

    /// The chain-syntax text of this hop (`method[:target][?k=v&...]`), never
    /// with a password. For display: values are not percent-encoded.
    public var description: String {
        var text = methodName
        if let hopTarget { text += ":" + hopTarget }
        let options = hopOptions
        if !options.isEmpty { text += "?" + options.map { "\($0.key)=\($0.value)" }.joined(separator: "&") }
        return text
    }
}

/// The spawned methods by their seed names, for rebuilding a method from a
/// chain hop (the console's command line, or an intermediary's `via=`).
package enum SpawnedMethods {
    /// Method names this file knows, in the seed's order.
    package static let names = [
        "ssh", "sudo", "su", "doas", "docker", "podman", "buildah", "kubectl", "lxc", "lxd", "incus", "jail", "setns",
    ]

    /// The method `name` built from a hop's target and options.
    /// - Parameter password: The resolved password for methods that type one
    ///   (ssh, sudo, su, doas); ignored by the others.
    /// - Throws: `StreamError` naming the method and parameter at fault, or
    ///   an unknown method.
    package static func method(
        named name: String, target: String?, options: [HopOption], password: Secret? = nil
    ) throws(StreamError) -> any SpawnedMethod {
        switch name {
        case "ssh": try SSHMethod(hop: target, options: options, password: password)
        case "sudo": try SudoMethod(hop: target, options: options, password: password)
        case "su": try SuMethod(hop: target, options: options, password: password)
        case "doas": try DoasMethod(hop: target, options: options, password: password)
        case "docker": try DockerMethod(hop: target, options: options)
        case "podman": try PodmanMethod(hop: target, options: options)
        case "buildah": try BuildahMethod(hop: target, options: options)
        case "kubectl": try KubectlMethod(hop: target, options: options)
        case "lxc": try LXCMethod(hop: target, options: options)
        case "lxd": try LXDMethod(hop: target, options: options)
        case "incus": try IncusMethod(hop: target, options: options)
        case "jail": try JailMethod(hop: target, options: options)
        case "setns": try SetnsMethod(hop: target, options: options)
        default: throw StreamError("unknown connection method \"\(name)\"; known: \(names.joined(separator: ", "))")
        }
    }
}

/// Reads a chain hop's options for one method: each key at most once, known
/// keys only, values converted with errors that name the method and key.
///
/// The common parameters every method accepts (`name`, `remote_name`,
/// `connect_timeout`, `debug`, `profiling`, `unidirectional`, `python_path`)
/// belong to `ConnectionOptions` and are skipped here, as is `password`
/// (its value is `env:NAME` or `ask`, which the caller resolves).
struct HopReader {
    static let commonKeys: Set<String> = [
        "name", "remote_name", "connect_timeout", "debug", "profiling", "unidirectional", "python_path",
    ]

    let method: String
    private var values: [String: String] = [:]

    /// - Parameter keys: The method's own keys (the seed's parameter names).
    /// - Throws: `StreamError` for an unknown or repeated key.
    init(method: String, options: [HopOption], keys: [String]) throws(StreamError) {
        self.method = method
        for option in options {
            if Self.commonKeys.contains(option.key) || option.key == "password" && keys.contains("password") {
                continue
            }
            guard keys.contains(option.key) else {
                let accepted = keys.filter { $0 != "password" }.joined(separator: ", ")
                throw StreamError("\(method): unknown parameter \"\(option.key)\"; it accepts: \(accepted)")
            }
            guard values[option.key] == nil else { throw StreamError("\(method): parameter \"\(option.key)\" is given twice") }
            values[option.key] = option.value
        }
    }

    func fail(_ message: String) -> StreamError { StreamError("\(method): \(message)") }

    /// The text of `key`, if given.
    func string(_ key: String) -> String? { values[key] }

    /// `key` as a boolean: `1/true/yes/on` or `0/false/no/off`, any case.
    func bool(_ key: String) throws(StreamError) -> Bool? {
        guard let text = values[key] else { return nil }
        switch text.lowercased() {
        case "1", "true", "yes", "on": return true
        case "0", "false", "no", "off": return false
        default: throw fail("\(key)=\(text) is not a boolean (use true or false)")
        }
    }

    /// `key` as a decimal integer within `range`.
    func int(_ key: String, in range: ClosedRange<Int>) throws(StreamError) -> Int? {
        guard let text = values[key] else { return nil }
        guard let value = Int(text) else { throw fail("\(key)=\(text) is not a whole number") }
        guard range.contains(value) else {
            throw fail("\(key)=\(text) is out of range \(range.lowerBound)-\(range.upperBound)")
        }
        return value
    }

    /// `key` as a shell-like word list (``ShellQuote/split(_:)``).
    func words(_ key: String) throws(StreamError) -> [String]? {
        guard let text = values[key] else { return nil }
        do {
            return try ShellQuote.split(text)
        } catch {
            throw fail("\(key)= is not a list of shell words: \(error)")
        }
    }

    /// The hop's target, or the option `key` naming the same thing; not both.
    func target(_ target: String?, or key: String, what: String) throws(StreamError) -> String? {
        if target != nil, values[key] != nil { throw fail("the \(what) is given twice: as the target and as \(key)=") }
        return target ?? values[key]
    }
}

/// Builders of `HopOption`s in the form ``HopReader`` reads back.
enum HopValue {
    static func bool(_ key: String, _ value: Bool) -> HopOption { HopOption(key: key, value: value ? "true" : "false") }
    static func int(_ key: String, _ value: Int) -> HopOption { HopOption(key: key, value: String(value)) }
    static func words(_ key: String, _ words: [String]) -> HopOption {
        HopOption(key: key, value: words.map(ShellQuote.quote).joined(separator: " "))
    }
}
