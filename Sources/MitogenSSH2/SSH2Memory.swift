import Glibc
import MitogenSys

/// libssh2's allocator for our sessions, to keep an idle host cheap.
///
/// libssh2 1.10 allocates each session as one 54,840-byte struct that embeds
/// its packet buffers (16 KiB in, 35,000 bytes out) and `memset`s all of it,
/// so every page is resident from the start: about 54 KiB per host before a
/// byte moves. Here large blocks get their own anonymous mapping, and after
/// `libssh2_session_init_ex` the pages that are still all zero are handed
/// back (`madvise(MADV_DONTNEED)`: a private anonymous page then reads as
/// zeros again, so the contents do not change). The buffers' pages come back
/// only as far as packets use them. Measured: see the README's fan-out row.
///
/// Small blocks are plain `malloc`; what libssh2 frees that we allocated
/// (keyboard-interactive answers) is `malloc`ed too, so `free` tells the two
/// apart by the registry of mapped blocks.
enum SSH2Memory {
    /// Blocks at least this large are mapped on their own.
    static let mappedThreshold = 32 << 10
    private static let mapped = Lock<[UInt: Int]>([:])

    static func allocate(_ count: Int) -> UnsafeMutableRawPointer? {
        guard count >= mappedThreshold else { return malloc(count) }
        guard let p = mmap(nil, count, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0), p != MAP_FAILED else {
            return nil
        }
        mapped.withLock { $0[UInt(bitPattern: p)] = count }
        return p
    }

    static func release(_ pointer: UnsafeMutableRawPointer?) {
        guard let pointer else { return }
        if let size = mapped.withLock({ $0.removeValue(forKey: UInt(bitPattern: pointer)) }) {
            munmap(pointer, size)
        } else {
            free(pointer)
        }
    }

    static func reallocate(_ pointer: UnsafeMutableRawPointer?, _ count: Int) -> UnsafeMutableRawPointer? {
        guard let pointer, let size = mapped.withLock({ $0[UInt(bitPattern: pointer)] }) else {
            return realloc(pointer, count)
        }
        guard let fresh = allocate(count) else { return nil }
        fresh.copyMemory(from: pointer, byteCount: min(size, count))
        release(pointer)
        return fresh
    }

    /// Gives back the all-zero pages of the mapped block at `pointer` (a no-op for others).
    static func dropZeroPages(_ pointer: UnsafeMutableRawPointer) {
        guard let size = mapped.withLock({ $0[UInt(bitPattern: pointer)] }) else { return }
        let page = Int(sysconf(Int32(_SC_PAGESIZE)))
        var offset = 0
        while offset + page <= size {
            let bytes = UnsafeRawBufferPointer(start: pointer + offset, count: page)
            if !bytes.contains(where: { $0 != 0 }) { madvise(pointer + offset, page, MADV_DONTNEED) }
            offset += page
        }
    }
}

/// The C entry points libssh2 calls (`LIBSSH2_ALLOC_FUNC` and friends).
let ssh2Allocate: @convention(c) (Int, UnsafeMutablePointer<UnsafeMutableRawPointer?>?) -> UnsafeMutableRawPointer? = {
    count, _ in SSH2Memory.allocate(count)
}
let ssh2Free: @convention(c) (UnsafeMutableRawPointer?, UnsafeMutablePointer<UnsafeMutableRawPointer?>?) -> Void = {
    pointer, _ in SSH2Memory.release(pointer)
}
let ssh2Reallocate:
    @convention(c) (UnsafeMutableRawPointer?, Int, UnsafeMutablePointer<UnsafeMutableRawPointer?>?) -> UnsafeMutableRawPointer? = {
        pointer, count, _ in SSH2Memory.reallocate(pointer, count)
    }
