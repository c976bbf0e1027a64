import Glibc
import Testing
@testable import MitogenLib

/// A real child process: start, call, errors, shutdown.
@Suite(.serialized) struct LocalContextTests {
    @Test func callsGetpidInARealChild() throws {
        let router = Router()
        defer { router.shutdown(); try? router.join(timeout: 10) }
        let t0 = monotonicNow()
        let child = try router.local()
        print("local() took", monotonicNow() - t0)
        let pid: Int = try child.call("os.getpid")
        #expect(pid != Int(getpid()))
        #expect(pid > 0)
        // The process is real and shows mitogen:<name> in ps.
        let cmdline = try readWholeFile("/proc/\(pid)/cmdline")
        let text = String(decoding: cmdline.prefix { $0 != 0 }, as: UTF8.self)
        #expect(text.hasPrefix("mitogen:"))
    }
}
