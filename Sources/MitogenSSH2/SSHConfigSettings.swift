import MitogenCore

/// The ssh_config(5) options the libssh2 transport honours, collected the
/// way ssh collects them: the command line first (what the method's
/// parameters become, then `ssh_args`), then the config files, and for
/// every option the first value obtained wins (``IdentityFile`` adds up).
///
/// Honoured: `HostName`, `User`, `Port`, `IdentityFile`, `IdentitiesOnly`,
/// `IdentityAgent`, `UserKnownHostsFile`, `GlobalKnownHostsFile`,
/// `HashKnownHosts`, `StrictHostKeyChecking` (parsed; `check_host_keys`
/// always comes first, as on the OpenSSH path), `ConnectTimeout`,
/// `ServerAliveInterval`, `ServerAliveCountMax`. `ProxyJump` and
/// `ProxyCommand` would reach the host another way, so they are refused
/// (unless `none`). Every other option is ignored with a debug log naming
/// it.
struct SSHConfigSettings: Sendable, Equatable {
    var hostName: String?
    var user: String?
    var port: Int?
    /// Every `IdentityFile` in order (unexpanded: `~` and `%` tokens are
    /// resolved once the user and host are known).
    var identityFiles: [String] = []
    var identitiesOnly: Bool?
    var identityAgent: String?
    var userKnownHostsFiles: [String]?
    var globalKnownHostsFiles: [String]?
    var hashKnownHosts: Bool?
    var strictHostKeyChecking: String?
    var connectTimeout: Int?
    var serverAliveInterval: Int?
    var serverAliveCountMax: Int?
    /// The first `ProxyJump`/`ProxyCommand` and where it came from.
    var proxy: String?

    /// Options logged as ignored (name and origin), for tests and the debug log.
    var ignored: [String] = []

    /// Applies `key args…` from `origin` ("ssh_args", "FILE line N").
    /// - Throws: `StreamError` for a value ssh would refuse too (a bad port or number, a bad yes/no).
    mutating func apply(key: String, args: [String], origin: String) throws(StreamError) {
        let name = key.lowercased()
        func first() throws(StreamError) -> String {
            guard let value = args.first else { throw StreamError("\(origin): \(key) needs a value") }
            return value
        }
        switch name {
        case "hostname": if hostName == nil { hostName = try first() }
        case "user": if user == nil { user = try first() }
        case "port":
            let text = try first()
            guard let value = Int(text), (1...65535).contains(value) else {
                throw StreamError("\(origin): Bad port \"\(text)\" (1-65535)")
            }
            if port == nil { port = value }
        case "identityfile":
            let file = try first()
            if identityFiles.count < 100 { identityFiles.append(file) }
        case "identitiesonly": if let value = try Self.flag(try first(), key, origin), identitiesOnly == nil { identitiesOnly = value }
        case "hashknownhosts": if let value = try Self.flag(try first(), key, origin), hashKnownHosts == nil { hashKnownHosts = value }
        case "identityagent": if identityAgent == nil { identityAgent = try first() }
        case "userknownhostsfile":
            if userKnownHostsFiles == nil { userKnownHostsFiles = try first() == "none" ? [] : args }
        case "globalknownhostsfile":
            if globalKnownHostsFiles == nil { globalKnownHostsFiles = try first() == "none" ? [] : args }
        case "stricthostkeychecking":
            let value = try first().lowercased()
            guard ["yes", "no", "ask", "accept-new", "off", "true", "false"].contains(value) else {
                throw StreamError("\(origin): unsupported StrictHostKeyChecking \"\(value)\"")
            }
            if strictHostKeyChecking == nil { strictHostKeyChecking = value }
        case "connecttimeout":
            let text = try first()
            let value = text == "none" ? 0 : try Self.seconds(text, key, origin)
            if connectTimeout == nil { connectTimeout = value }
        case "serveraliveinterval":
            let value = try Self.seconds(try first(), key, origin)
            if serverAliveInterval == nil { serverAliveInterval = value }
        case "serveralivecountmax":
            let text = try first()
            guard let value = Int(text), value >= 0 else { throw StreamError("\(origin): bad ServerAliveCountMax \"\(text)\"") }
            if serverAliveCountMax == nil { serverAliveCountMax = value }
        case "proxyjump", "proxycommand":
            if proxy == nil { proxy = args.first == "none" ? "" : "\(key) \(args.joined(separator: " ")) (\(origin))" }
        default:
            ignored.append("\(key) (\(origin))")
            logDebug("ssh transport=libssh2: ignoring the ssh_config option \(key) (\(origin)): the libssh2 transport does not implement it")
        }
    }

    /// ssh's yes/no (also true/false), nil never: a bad word is an error.
    private static func flag(_ text: String, _ key: String, _ origin: String) throws(StreamError) -> Bool? {
        switch text.lowercased() {
        case "yes", "true": true
        case "no", "false": false
        default: throw StreamError("\(origin): \(key) must be yes or no, not \"\(text)\"")
        }
    }

    /// ssh's time format (sshd_config(5) TIME FORMATS): `30`, `30s`, `2m`, `1h30m`.
    static func seconds(_ text: String, _ key: String, _ origin: String) throws(StreamError) -> Int {
        var total = 0
        var number = 0
        var digits = 0
        for c in text.lowercased() {
            if let d = c.wholeNumberValue, c.isASCII {
                number = number * 10 + d
                digits += 1
                guard number < 1_000_000_000 else { break }
                continue
            }
            let unit: Int? =
                switch c {
                case "s": 1
                case "m": 60
                case "h": 3600
                case "d": 86400
                case "w": 604800
                default: nil
                }
            guard let unit, digits > 0 else { throw StreamError("\(origin): \(key) \"\(text)\" is not a time") }
            total += number * unit
            number = 0
            digits = 0
        }
        guard !text.isEmpty, total + number < 1_000_000_000 else { throw StreamError("\(origin): \(key) \"\(text)\" is not a time") }
        return total + number
    }
}
