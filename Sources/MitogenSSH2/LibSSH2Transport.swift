import CLibSSH2
import Glibc
public import MitogenCore
import MitogenMaster
import MitogenSys

/// The in-process SSH transport over libssh2 (DESIGN §6): `ssh` contexts
/// with no `ssh` process and no PTY per target, every socket driven by the
/// master's broker. The choice for wide fan-out.
///
/// A master program registers it once, then asks for it per connection or
/// makes it the default:
///
/// ```swift
/// import MitogenLib
///
/// LibSSH2Transport.register()
/// let web = try router.ssh(hostname: "web1", transport: .libssh2)
/// // or, for every ssh hop that names no transport:
/// SSHTransport.programDefault = .libssh2
/// ```
///
/// On a chain: `ssh:deploy@web1?transport=libssh2 -> sudo:root`. Only the
/// master has it (the static child never links libssh2), so a libssh2 hop
/// is the first of its chain. See ``SSH2Session`` for the connection's
/// stages and ``SSH2Algorithms`` for the algorithm choices.
public enum LibSSH2Transport {
    /// Registers the transport for this process (idempotent).
    public static func register() {
        initialise
        InProcessSSHRegistry.register(Opener())
    }

    /// Registers the transport and sets ``SSHTransport/programDefault`` from
    /// `name` (`openssh` or `libssh2`), else from `MITOGEN_SSH_TRANSPORT`.
    /// For programs with a setting, like the console's `--ssh-transport`.
    /// - Throws: `StreamError` for any other name.
    public static func register(defaultName name: String?) throws(StreamError) {
        register()
        guard let text = name ?? environmentValue("MITOGEN_SSH_TRANSPORT"), !text.isEmpty else { return }
        guard let kind = SSHTransport(rawValue: text) else {
            throw StreamError("ssh transport \"\(text)\": must be openssh or libssh2")
        }
        SSHTransport.programDefault = kind
    }

    /// libssh2_init is not thread-safe: Swift runs this once, under its lock.
    private static let initialise: Void = {
        _ = libssh2_init(0)
    }()

    private struct Opener: InProcessSSHTransport {
        func open(_ request: InProcessSSHRequest) throws(StreamError) -> InProcessSSHChannel {
            guard !request.broker.isOnBrokerThread else {
                throw StreamError("ssh transport=libssh2: cannot connect from the broker thread (it drives the socket)")
            }
            let options = try SSH2Options(request.method)
            let addresses = try TCPConnect.resolve(options.host, port: options.port)
            let session = SSH2Session(request: request, options: options, addresses: addresses)
            request.broker.defer { session.start() }
            // The session's own deadline timer answers first; this bound is
            // only for a broker that stopped running.
            let bound = max(0, request.deadline - monotonicNow()) + 5
            let result: Result<InProcessSSHChannel, StreamError>
            do {
                result = try session.outcome.get(timeout: bound)
            } catch {
                request.broker.defer { session.fail(StreamError("abandoned")) }
                throw StreamError(
                    "Connection timed out. (after \(request.timeout) s, while \(session.stage))", kind: .timeout)
            }
            return try result.get()
        }
    }
}
