import CMitogenSys
import Glibc
import MitogenCalls
import MitogenCore
import MitogenMaster
import MitogenSys
import MitogenWire

/// The `ssh` replacement `FakeSSH.run` puts on a program's PATH:
/// `mitogen-child --mitogen-fakessh SOCKET ARGS...`. It hands its argv to the
/// master over the unix socket, copies its stdin there, and plays back the
/// command's stdout, stderr and exit status (protocol in `FakeSSH`).
enum FakeSSHRelay {
    static func run(socketPath: String, args: [String]) -> Never {
        let sock = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        var addr = sockaddr_un()
        addr.sun_family = sa_family_t(AF_UNIX)
        let path = Array(socketPath.utf8)
        withUnsafeMutableBytes(of: &addr.sun_path) { raw in
            for (i, b) in path.prefix(raw.count - 1).enumerated() { raw[i] = b }
        }
        let ok = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(sock, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        guard sock >= 0, ok == 0 else {
            FakeSSH.writeAll(2, Array("mitogen fakessh: cannot connect to \(socketPath): \(SystemError("connect", errno: errno))\n".utf8))
            exit(255)
        }
        var header: [UInt8] = []
        func u32(_ v: Int) { header += [UInt8(v & 0xff), UInt8(v >> 8 & 0xff), UInt8(v >> 16 & 0xff), UInt8(v >> 24 & 0xff)] }
        u32(args.count)
        for a in args {
            u32(a.utf8.count)
            header += Array(a.utf8)
        }
        FakeSSH.writeAll(sock, header)

        signal(SIGPIPE, SIG_IGN)
        var stdinOpen = true
        let chunkSize = FileDescriptor.pipeChunkSize
        while true {
            var fds = [pollfd(fd: sock, events: Int16(POLLIN), revents: 0), pollfd(fd: 0, events: Int16(POLLIN), revents: 0)]
            if poll(&fds, stdinOpen ? 2 : 1, -1) < 0 { continue }
            if stdinOpen && fds[1].revents != 0 {
                let chunk = (try? FileDescriptor.standardInput.read(upTo: chunkSize)) ?? []
                if !chunk.isEmpty {
                    FakeSSH.writeAll(sock, chunk)
                } else {
                    stdinOpen = false
                    shutdown(sock, Int32(SHUT_WR))
                }
            }
            if fds[0].revents != 0 {
                guard let kind = FakeSSH.readExactly(sock, 1), let len = FakeSSH.readU32(sock),
                    let body = FakeSSH.readExactly(sock, Int(len))
                else {
                    FakeSSH.writeAll(2, Array("mitogen fakessh: connection to the master lost\n".utf8))
                    exit(255)
                }
                switch kind[0] {
                case 1: FakeSSH.writeAll(1, body)
                case 2: FakeSSH.writeAll(2, body)
                default:
                    let status = body.count == 4
                        ? Int32(bitPattern: UInt32(body[0]) | UInt32(body[1]) << 8 | UInt32(body[2]) << 16 | UInt32(body[3]) << 24)
                        : 255
                    exit(status)
                }
            }
        }
    }
}
