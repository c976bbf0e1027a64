import Glibc
import Testing
import TestSupport
import MitogenLib
@testable import MitogenSys
@testable import MitogenMaster

/// The setns method against a real "container": a process that `unshare`
/// put in new UTS, IPC, network, mount and PID namespaces. The container
/// tool that names its leader is a stub checking Mitogen's argv; entering
/// the namespaces is real (the tests run as root).
@Suite(.serialized) struct SetnsTests {
    static let stubs = packageRoot + "/Tests/MitogenMasterTests/Fixtures/stubs"

    /// Starts the namespaced process; returns the `unshare` pid and the leader
    /// (its forked child, which set the host name and sleeps).
    func startContainer() throws -> (unshare: pid_t, leader: pid_t) {
        let devnull = try FileDescriptor.open("/dev/null", flags: O_RDWR)
        defer { devnull.close() }
        let unshare = try spawnProcess(SpawnRequest(
            executable: "unshare",
            argv: ["unshare", "--uts", "--ipc", "--net", "--mount", "--pid", "--fork", "--mount-proc",
                   "sh", "-c", "hostname mitogen-ns && exec sleep 600"],
            stdin: devnull, stdout: devnull, stderr: devnull))
        var leader: pid_t = 0
        let up = waitUntil(timeout: 10) {
            let children = (try? readWholeFile("/proc/\(unshare)/task/\(unshare)/children")).map { String(decoding: $0, as: UTF8.self) } ?? ""
            guard let pid = children.split(separator: " ").first.flatMap({ pid_t($0) }) else { return false }
            leader = pid
            let comm = (try? readWholeFile("/proc/\(pid)/comm")).map { String(decoding: $0, as: UTF8.self) } ?? ""
            return comm == "sleep\n"
        }
        try #require(up, "the namespaced sleep did not start")
        return (unshare, leader)
    }

    func stop(_ container: (unshare: pid_t, leader: pid_t)) {
        kill(container.leader, SIGKILL)
        kill(container.unshare, SIGKILL)
        _ = try? waitProcess(container.unshare, block: true)
    }

    func link(_ path: String) -> String {
        var buffer = [CChar](repeating: 0, count: 256)
        let n = readlink(path, &buffer, 255)
        return n > 0 ? String(decoding: buffer[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self) : ""
    }

    @Test func entersTheNamespacesOfARealProcessAsTheUserAsked() throws {
        let container = try startContainer()
        defer { stop(container) }
        let expectFile = makeTempDirectory() + "/expect"
        try createPrivateFile(expectFile).writeAll(Array("docker\ninspect\n--format={{.State.Pid}}\nweb\n".utf8))
        try withTestRouter { router in
            router.setChildEnvironment("MITOGEN_STUB_EXPECT", expectFile)
            router.setChildEnvironment("MITOGEN_STUB_REPLY", String(container.leader))
            let ctx = try router.setns(container: "web", kind: .docker, dockerPath: Self.stubs + "/docker", connectTimeout: 20)
            #expect(ctx.name == "setns.web")
            #expect(try ctx.callValue("socket.gethostname", timeout: 10) == "mitogen-ns")
            let net = try ctx.callValue("subprocess.check_output", args: [["readlink", "/proc/self/ns/net"]], timeout: 10)
            #expect(String(decoding: net.bytesValue ?? [], as: UTF8.self) == link("/proc/\(container.leader)/ns/net") + "\n")
            #expect(link("/proc/\(container.leader)/ns/net") != link("/proc/self/ns/net"))
            let pid = try #require(try ctx.callValue("os.getpid", timeout: 10).intValue)
            #expect(pid < 100, "pid \(pid) is not from the new PID namespace")
            #expect(try ctx.callValue("os.getuid", timeout: 10) == 0)

            let alice = try #require(PasswdFile.entries().first { $0.name == "mitogen-alice" })
            let asAlice = try router.setns(
                container: "web", kind: .docker, username: "mitogen-alice", dockerPath: Self.stubs + "/docker",
                connectTimeout: 20)
            #expect(try asAlice.callValue("os.getuid", timeout: 10).intValue == Int(alice.uid))
            #expect(try asAlice.callValue("os.getgid", timeout: 10).intValue == Int(alice.gid))
            let env: [String: String] = try asAlice.call("os.environ")
            #expect(env["USER"] == "mitogen-alice" && env["LOGNAME"] == "mitogen-alice" && env["HOME"] == alice.home)
            #expect(try asAlice.callValue("socket.gethostname", timeout: 10) == "mitogen-ns")

            #expect {
                _ = try router.setns(container: "web", kind: .docker, username: "nobody-here", dockerPath: Self.stubs + "/docker", connectTimeout: 20)
            } throws: { error in
                "\(error)".contains("cannot log in as 'nobody-here' in web: no such user")
            }
        }
    }

    @Test func aLeaderLookupThatFailsSaysSoInMitogensWords() throws {
        let expectFile = makeTempDirectory() + "/expect"
        // The stub refuses this argv (exit 97) and says why.
        try createPrivateFile(expectFile).writeAll(Array("docker\nsomething-else\n".utf8))
        try withTestRouter { router in
            router.setChildEnvironment("MITOGEN_STUB_EXPECT", expectFile)
            #expect {
                _ = try router.setns(container: "web", kind: .docker, dockerPath: Self.stubs + "/docker", connectTimeout: 20)
            } throws: { error in
                let text = "\(error)"
                return text.contains("docker inspect --format={{.State.Pid}} web exitted with status 97")
                    && text.contains("argv mismatch")
            }
            // A lookup that prints no PID.
            _ = unlink(expectFile)
            try createPrivateFile(expectFile).writeAll(Array("docker\ninspect\n--format={{.State.Pid}}\nweb\n".utf8))
            router.setChildEnvironment("MITOGEN_STUB_REPLY", "not-a-pid")
            #expect {
                _ = try router.setns(container: "web", kind: .docker, dockerPath: Self.stubs + "/docker", connectTimeout: 20)
            } throws: { error in
                "\(error)".hasPrefix("could not find PID from docker output.\nnot-a-pid")
            }
        }
    }
}
