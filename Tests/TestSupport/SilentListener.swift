import Glibc

/// A TCP socket listening on a free loopback port that nobody accepts on:
/// the kernel completes the connect, then the peer never says a word (an
/// SSH server that hangs before its banner). Close `fd` when done.
public struct SilentListener {
    public let fd: Int32
    public let port: Int

    public init() throws {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let ok = withUnsafeMutablePointer(to: &address) { p in
            p.withMemoryRebound(to: sockaddr.self, capacity: 1) { a in
                bind(fd, a, length) == 0 && listen(fd, 8) == 0 && getsockname(fd, a, &length) == 0
            }
        }
        guard fd >= 0, ok else {
            if fd >= 0 { close(fd) }
            throw SilentListenerError()
        }
        self.fd = fd
        self.port = Int(UInt16(bigEndian: address.sin_port))
    }
}

public struct SilentListenerError: Error, CustomStringConvertible {
    public var description: String { "cannot listen on a loopback port" }
}
