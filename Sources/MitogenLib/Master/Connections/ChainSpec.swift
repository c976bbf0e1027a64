import MitogenCalls
import MitogenCore
import MitogenSys
import MitogenWire
/// A chain of connection hops as written on the command line (DESIGN §10),
/// nearest first:
///
/// ```
/// local
/// ssh:deploy@web1:2222?identity_file=~/.ssh/k&check_host_keys=accept -> sudo:root
/// su:app -> sudo:root?password=env:SUDO_PW
/// ```
///
/// A hop is `method[:target][?key=value&...]`; hops are joined by `->`
/// (spaces around it optional). The target is what the method connects to:
/// `[user@]host[:port]` for ssh (`[v6addr]` in brackets), the user for sudo,
/// su and doas, the container (pod for kubectl, jail for jail) for the
/// container methods; `local` and `fork` take none. Keys are the seed's
/// parameter names of that method (`knownParameters`). Targets and values are
/// percent-decoded, so `%26` is `&`, `%3D` is `=`, `%3F` is `?`, `%25` is `%`.
///
/// A password is never written on a command line, where `ps` and shell
/// history would show it: `password=` accepts only `env:NAME` (read from the
/// environment) or `ask` (prompt without echo).
///
/// `description` prints the canonical text, which parses back to an equal
/// chain.
public struct ChainSpec: Sendable, Equatable, CustomStringConvertible {
    public var hops: [Hop]

    public init(hops: [Hop]) { self.hops = hops }

    /// Parses and validates a chain.
    ///
    /// - Throws: `ChainSpecError` naming the hop (by position and
    ///   `method:target`, never its option values) and what is wrong: an
    ///   empty hop, an unknown method or parameter, a repeated parameter, a
    ///   malformed target, port or percent escape, a literal password.
    public static func parse(_ text: String) throws(ChainSpecError) -> ChainSpec {
        let pieces = text.split(separator: "->", omittingEmptySubsequences: false)
        guard !(pieces.count == 1 && pieces[0].allSatisfy(\.isWhitespace)) else {
            throw ChainSpecError(hop: nil, message: "the chain is empty; write at least one hop such as local")
        }
        var hops: [Hop] = []
        for (i, piece) in pieces.enumerated() {
            hops.append(try Hop.parse(piece, number: i + 1))
        }
        return ChainSpec(hops: hops)
    }

    /// The canonical text: hops joined by ` -> `.
    public var description: String { hops.map(\.description).joined(separator: " -> ") }

    /// The connection methods, in the seed's order.
    public static let knownMethods: [String] = [
        "local", "fork", "ssh", "sudo", "su", "doas", "docker", "podman", "buildah", "kubectl", "lxc", "lxd",
        "incus", "jail", "setns",
    ]

    /// Parameters every method accepts.
    public static let commonParameters: [String] = [
        "name", "remote_name", "connect_timeout", "debug", "profiling", "unidirectional", "python_path",
    ]

    /// Every parameter each method accepts (its own, then the common ones),
    /// by method name: for validation and the console's completion.
    public static let knownParameters: [String: [String]] = {
        let own: [String: [String]] = [
            "local": [],
            "fork": [],
            "ssh": [
                "username", "ssh_path", "ssh_args", "port", "check_host_keys", "password", "identity_file",
                "identities_only", "compression", "ssh_debug_level", "keepalive", "transport",
            ],
            "sudo": [
                "username", "sudo_path", "password", "preserve_env", "set_home", "sudo_args", "login",
                "selinux_type", "selinux_role",
            ],
            "su": ["username", "password", "su_path", "password_prompt", "incorrect_prompts"],
            "doas": ["username", "password", "doas_path", "password_prompt", "incorrect_prompts"],
            "docker": ["container", "image", "username", "docker_path"],
            "podman": ["container", "username", "podman_path"],
            "buildah": ["container", "username", "buildah_path"],
            "kubectl": ["pod", "kubectl_path", "kubectl_args", "container"],
            "lxc": ["container", "lxc_attach_path"],
            "lxd": ["container", "lxc_path"],
            "incus": ["container", "incus_path"],
            "jail": ["container", "username", "jexec_path"],
            "setns": ["container", "kind", "username", "docker_path", "lxc_path", "lxc_info_path", "machinectl_path"],
        ]
        return own.mapValues { $0 + commonParameters }
    }()
}

/// Where a hop's password comes from: never the command line itself.
public enum PasswordSource: Sendable, Equatable {
    /// `env:NAME`: the value of environment variable NAME.
    case environment(String)
    /// `ask`: prompt the operator without echo.
    case ask
}

/// One `key=value` of a hop, in the order written.
public struct HopOption: Sendable, Equatable {
    public var key: String
    public var value: String

    public init(key: String, value: String) {
        self.key = key
        self.value = value
    }
}

/// One connection of a chain: `method[:target][?key=value&...]`.
public struct Hop: Sendable, Equatable, CustomStringConvertible {
    /// One of `ChainSpec.knownMethods`.
    public var method: String
    /// What the method connects to, percent-decoded; nil when not written.
    public var target: String?
    /// The options in the order written, percent-decoded.
    public var options: [HopOption]

    public init(method: String, target: String? = nil, options: [HopOption] = []) {
        self.method = method
        self.target = target
        self.options = options
    }

    /// The value of option `key`, if given.
    public func option(_ key: String) -> String? { options.first { $0.key == key }?.value }

    /// The user to connect as: for ssh the `user@` of the target, for sudo,
    /// su and doas the target; else (or when the target has none) the
    /// `username` option.
    public var user: String? {
        switch method {
        case "ssh": SSHTarget(target ?? "").flatMap(\.user) ?? option("username")
        case "sudo", "su", "doas": target ?? option("username")
        default: option("username")
        }
    }

    /// The host of an ssh hop (brackets of an IPv6 address removed); nil for
    /// other methods.
    public var host: String? {
        guard method == "ssh", let target else { return nil }
        return SSHTarget(target)?.host
    }

    /// The port of an ssh hop, from the target or the `port` option; nil when
    /// neither gives one (ssh's default applies) or for other methods.
    public var port: Int? {
        guard method == "ssh" else { return nil }
        if let target, let port = SSHTarget(target)?.port { return port }
        return option("port").flatMap { Int($0) }
    }

    /// The container (pod for kubectl, jail for jail) of a container hop: the
    /// target or the `container`/`pod` option.
    public var container: String? {
        switch method {
        case "local", "fork", "ssh", "sudo", "su", "doas": nil
        case "kubectl": target ?? option("pod")
        default: target ?? option("container")
        }
    }

    /// Where the password comes from, when the hop has a `password` option.
    public var password: PasswordSource? { option("password").flatMap(Self.passwordSource) }

    /// The canonical text, percent-encoding what would not parse back.
    public var description: String {
        var text = method
        if let target { text += ":" + Self.percentEncode(target) }
        if !options.isEmpty {
            text += "?" + options.map { "\($0.key)=\(Self.percentEncode($0.value))" }.joined(separator: "&")
        }
        return text
    }
}

/// A chain that does not parse or validate.
public struct ChainSpecError: Error, Sendable, Equatable, CustomStringConvertible {
    /// 1-based position of the hop at fault; nil for the chain as a whole.
    public var hop: Int?
    /// What is wrong, naming the hop by method and target.
    public var message: String

    public var description: String { message }
}

// MARK: - Parsing one hop

extension Hop {
    static func parse(_ raw: Substring, number: Int) throws(ChainSpecError) -> Hop {
        let text = raw.trimmingWhitespace()
        guard !text.isEmpty else {
            throw ChainSpecError(hop: number, message: "hop \(number) is empty: two '->' with nothing between them, or one at an end")
        }
        let head: Substring
        let query: Substring?
        if let q = text.firstIndex(of: "?") {
            head = text[..<q]
            query = text[text.index(after: q)...]
        } else {
            head = text
            query = nil
        }
        var hop = Hop(method: "")
        let rawTarget: Substring?
        if let colon = head.firstIndex(of: ":") {
            hop.method = String(head[..<colon].trimmingWhitespace())
            rawTarget = head[head.index(after: colon)...].trimmingWhitespace()
        } else {
            hop.method = String(head.trimmingWhitespace())
            rawTarget = nil
        }
        let label = "hop \(number) (\(head.trimmingWhitespace()))"
        func fail(_ message: String) -> ChainSpecError { ChainSpecError(hop: number, message: "\(label): \(message)") }

        guard let allowed = ChainSpec.knownParameters[hop.method] else {
            throw fail(
                "unknown method \"\(hop.method)\"; known methods: \(ChainSpec.knownMethods.joined(separator: ", "))"
            )
        }
        if let rawTarget {
            guard !rawTarget.isEmpty else { throw fail("nothing after ':'; write \(hop.method):TARGET or leave out the ':'") }
            guard let decoded = percentDecode(rawTarget) else { throw fail("bad percent escape in the target") }
            hop.target = decoded
        }

        for item in query?.split(separator: "&", omittingEmptySubsequences: false) ?? [] {
            guard !item.allSatisfy(\.isWhitespace) else {
                throw fail("an option is empty: nothing between '?' or '&' and the next '&' or the end")
            }
            guard let eq = item.firstIndex(of: "=") else {
                throw fail("option \"\(item.trimmingWhitespace())\" needs a value: write key=value")
            }
            let key = String(item[..<eq].trimmingWhitespace())
            guard !key.isEmpty else { throw fail("an option has no name before '='") }
            guard allowed.contains(key) else {
                throw fail("unknown parameter \"\(key)\" for \(hop.method); it accepts: \(allowed.joined(separator: ", "))")
            }
            guard hop.option(key) == nil else { throw fail("parameter \"\(key)\" is given twice") }
            guard let value = percentDecode(item[item.index(after: eq)...]) else {
                throw fail("bad percent escape in the value of \(key)")
            }
            hop.options.append(HopOption(key: key, value: value))
        }
        try hop.validate(fail)
        return hop
    }

    /// Checks what the method makes of the target and options.
    private func validate(_ fail: (String) -> ChainSpecError) throws(ChainSpecError) {
        if let value = option("password"), Self.passwordSource(value) == nil {
            // Never echo the value: it is very likely a real password.
            throw fail(
                "password= must be env:NAME (read from environment variable NAME) or ask (prompt without echo); "
                    + "a password written on the command line would be visible in ps and shell history"
            )
        }
        switch method {
        case "local", "fork":
            if let target { throw fail("\(method) takes no target, but \"\(target)\" was given") }
        case "ssh":
            guard let target else { throw fail("ssh needs a host: ssh:[user@]host[:port]") }
            guard let parsed = SSHTarget(target) else {
                throw fail("\"\(target)\" is not [user@]host[:port] (port 1-65535, IPv6 addresses in brackets)")
            }
            if parsed.user != nil, option("username") != nil { throw fail("the user is given twice: user@ and username=") }
            if let text = option("port") {
                guard let port = Int(text), (1...65535).contains(port) else {
                    throw fail("port=\(text) is not a port number 1-65535")
                }
                if parsed.port != nil { throw fail("the port is given twice: :port and port=") }
            }
            if let mode = option("check_host_keys"), !["accept", "enforce", "ignore"].contains(mode) {
                throw fail("check_host_keys= must be accept, enforce or ignore, not \"\(mode)\"")
            }
            if let kind = option("transport"), SSHTransport(rawValue: kind) == nil {
                throw fail("transport= must be openssh or libssh2, not \"\(kind)\"")
            }
        case "sudo", "su", "doas":
            if target != nil, option("username") != nil { throw fail("the user is given twice: target and username=") }
        case "kubectl":
            if target != nil, option("pod") != nil { throw fail("the pod is given twice: target and pod=") }
            if container == nil { throw fail("kubectl needs a pod: kubectl:POD") }
        default:
            if target != nil, option("container") != nil {
                throw fail("the container is given twice: target and container=")
            }
            if container == nil, !(method == "docker" && option("image") != nil) {
                throw fail("\(method) needs a container: \(method):CONTAINER")
            }
        }
    }

    /// `env:NAME` or `ask`; nil for anything else.
    static func passwordSource(_ value: String) -> PasswordSource? {
        if value == "ask" { return .ask }
        guard value.hasPrefix("env:") else { return nil }
        let name = value.dropFirst(4)
        guard let first = name.unicodeScalars.first, first == "_" || isASCIILetter(first),
            name.unicodeScalars.allSatisfy({ $0 == "_" || isASCIILetter($0) || ("0"..."9").contains($0) })
        else { return nil }
        return .environment(String(name))
    }

    private static func isASCIILetter(_ c: Unicode.Scalar) -> Bool { ("a"..."z").contains(c) || ("A"..."Z").contains(c) }

    /// Decodes `%XX` escapes (UTF-8); nil for a malformed escape or invalid UTF-8.
    static func percentDecode(_ text: Substring) -> String? {
        guard text.contains("%") else { return String(text) }
        var bytes: [UInt8] = []
        var utf8 = text.utf8[...]
        while let b = utf8.popFirst() {
            guard b == UInt8(ascii: "%") else {
                bytes.append(b)
                continue
            }
            guard let h = utf8.popFirst().flatMap(hexValue), let l = utf8.popFirst().flatMap(hexValue) else { return nil }
            bytes.append(h << 4 | l)
        }
        return String(validating: bytes, as: UTF8.self)
    }

    private static func hexValue(_ b: UInt8) -> UInt8? {
        switch b {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): b - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): b - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): b - UInt8(ascii: "A") + 10
        default: nil
        }
    }

    /// Escapes what the parser treats specially (`%`, `&`, `=`, `?`, `>` so
    /// no `->` appears) and whitespace or control characters.
    static func percentEncode(_ text: String) -> String {
        var out = ""
        for scalar in text.unicodeScalars {
            if "%&=?>".unicodeScalars.contains(scalar) || scalar.value <= 0x20 || scalar.value == 0x7f
                || scalar.properties.isWhitespace
            {
                for b in String(scalar).utf8 {
                    let digits = String(b, radix: 16, uppercase: true)
                    out += "%" + (digits.count == 1 ? "0" : "") + digits
                }
            } else {
                out.unicodeScalars.append(scalar)
            }
        }
        return out
    }
}

/// An ssh target `[user@]host[:port]`, with `[addr]` for IPv6 hosts (a bare
/// IPv6 address with several ':' is taken whole, without port).
struct SSHTarget: Equatable {
    var user: String?
    var host: String
    var port: Int?

    init?(_ text: String) {
        var rest = Substring(text)
        if let at = rest.lastIndex(of: "@") {
            user = String(rest[..<at])
            rest = rest[rest.index(after: at)...]
            guard !(user ?? "").isEmpty else { return nil }
        }
        var portText: Substring?
        if rest.hasPrefix("[") {
            guard let close = rest.firstIndex(of: "]") else { return nil }
            host = String(rest[rest.index(after: rest.startIndex)..<close])
            let after = rest[rest.index(after: close)...]
            if !after.isEmpty {
                guard after.hasPrefix(":") else { return nil }
                portText = after.dropFirst()
            }
        } else if rest.filter({ $0 == ":" }).count == 1, let colon = rest.firstIndex(of: ":") {
            host = String(rest[..<colon])
            portText = rest[rest.index(after: colon)...]
        } else {
            host = String(rest)
        }
        guard !host.isEmpty, !host.contains(where: \.isWhitespace) else { return nil }
        if let portText {
            guard let port = Int(portText), (1...65535).contains(port) else { return nil }
            self.port = port
        }
    }
}

extension Substring {
    fileprivate func trimmingWhitespace() -> Substring {
        var s = self
        while s.first?.isWhitespace == true { s = s.dropFirst() }
        while s.last?.isWhitespace == true { s = s.dropLast() }
        return s
    }
}
