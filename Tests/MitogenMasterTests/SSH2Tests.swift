import Glibc
import MitogenLib
import Testing
import TestSupport

@testable import MitogenCore
@testable import MitogenMaster
@testable import MitogenSys

/// The in-process libssh2 transport against the private loopback sshd: the
/// same logins, host key policies and errors as the OpenSSH path, a dead
/// peer noticed, a silent peer timed out at the stage it was in.
@Suite(.serialized, .enabled(if: TestHosts.available, "needs root and scripts/setup-test-hosts.sh"))
struct SSH2Tests {
    init() { LibSSH2Transport.register() }

    private func sshd() throws -> TestHosts.SSHD { try #require(TestHosts.sshd, "the private sshd did not start") }

    /// libssh2 ssh to the private sshd as `user`, with the test key unless `key` is nil.
    private func ssh(
        _ router: Router, _ user: String, password: String? = nil, key: String? = TestHosts.key,
        checkHostKeys: SSHMethod.HostKeyPolicy = .enforce, args: [String]? = nil, timeout: Double = 20,
        keepaliveInterval: Int = 15, keepaliveCount: Int = 3, prompt: (@Sendable (String) -> String?)? = nil
    ) throws -> Context {
        let server = try sshd()
        var options = ConnectionOptions()
        options.promptCallback = prompt
        return try router.ssh(
            hostname: "127.0.0.1", username: user, sshArgs: args ?? TestHosts.trustArgs(server), port: server.port,
            checkHostKeys: checkHostKeys, password: password, identityFile: key, keepaliveCount: keepaliveCount,
            keepaliveInterval: keepaliveInterval, transport: .libssh2, connectTimeout: timeout, options: options)
    }

    private func uid(_ name: String) -> Int? {
        PasswdFile.entries().first { $0.name == name }.map { Int($0.uid) }
    }

    /// Runs `body`, which must throw a `StreamError` of `kind` within `seconds`; returns its text.
    @discardableResult
    private func expectFailure(_ kind: StreamError.Kind, within seconds: Double, _ body: () throws -> Void) -> String {
        let start = monotonicNow()
        defer { #expect(monotonicNow() - start < seconds) }
        do {
            try body()
            Issue.record("expected a \(kind) error, got a context")
        } catch let error as StreamError {
            #expect(error.kind == kind, "\(error)")
            return error.message
        } catch {
            Issue.record("expected StreamError(\(kind)), got \(error)")
        }
        return ""
    }

    @Test func aKeyThenTheCacheHits() throws {
        try withTestRouter { router in
            let first = try ssh(router, "mitogen-key")
            #expect(try first.callValue("os.getuid", timeout: 10).intValue == uid("mitogen-key"))
            let second = try ssh(router, "mitogen-key")
            #expect(try second.callValue("os.getuid", timeout: 10).intValue == uid("mitogen-key"))
            let info = router.observer.contexts.first { $0.id == second.contextID }
            #expect(info?.uploadedBytes == 0, "the second connection uploaded the child again")
        }
    }
}
