import Glibc
import MitogenCore
import MitogenSys

/// One resolved address of the target.
struct SocketAddress: @unchecked Sendable {
    // @unchecked: plain bytes (a sockaddr_storage), copied by value.
    var storage = sockaddr_storage()
    var length: socklen_t = 0
    var family: Int32 = 0
}

/// The TCP half of a session: name resolution and a non-blocking connect.
enum TCPConnect {
    /// Resolves `host` (getaddrinfo: may block, so the caller's thread, never
    /// the broker's).
    /// - Throws: `StreamError` with ssh's wording for an unknown host.
    static func resolve(_ host: String, port: Int) throws(StreamError) -> [SocketAddress] {
        var hints = addrinfo()
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        hints.ai_flags = AI_ADDRCONFIG
        var list: UnsafeMutablePointer<addrinfo>?
        let rc = getaddrinfo(host, String(port), &hints, &list)
        guard rc == 0, let list else {
            throw StreamError("ssh: Could not resolve hostname \(host): \(String(cString: gai_strerror(rc)))")
        }
        defer { freeaddrinfo(list) }
        var out: [SocketAddress] = []
        var p: UnsafeMutablePointer<addrinfo>? = list
        while let info = p {
            if let addr = info.pointee.ai_addr, Int(info.pointee.ai_addrlen) <= MemoryLayout<sockaddr_storage>.size {
                var a = SocketAddress()
                withUnsafeMutableBytes(of: &a.storage) { dst in
                    dst.copyMemory(from: UnsafeRawBufferPointer(start: addr, count: Int(info.pointee.ai_addrlen)))
                }
                a.length = info.pointee.ai_addrlen
                a.family = info.pointee.ai_family
                out.append(a)
            }
            p = info.pointee.ai_next
        }
        if out.isEmpty { throw StreamError("ssh: Could not resolve hostname \(host): no address") }
        return out
    }

    /// A non-blocking, close-on-exec TCP socket with `TCP_NODELAY` set
    /// before the first byte (no Nagle wait behind a delayed ACK), its
    /// connect started. The connect's result comes with writability.
    static func start(_ address: SocketAddress) throws(StreamError) -> Int32 {
        let fd = socket(address.family, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw StreamError("ssh: socket: \(Errno.current)") }
        var one: Int32 = 1
        setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
        var storage = address.storage
        let rc = withUnsafePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, address.length) }
        }
        if rc != 0 && errno != EINPROGRESS {
            let e = Errno.current
            close(fd)
            throw StreamError("ssh: connect: \(e)")
        }
        return fd
    }

    /// The connect's outcome once the socket is writable: 0 or an errno.
    static func result(_ fd: Int32) -> Int32 {
        var error: Int32 = 0
        var length = socklen_t(MemoryLayout<Int32>.size)
        if getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &length) != 0 { return errno }
        return error
    }
}
