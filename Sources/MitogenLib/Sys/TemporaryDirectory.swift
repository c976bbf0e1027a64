import CMitogenSys
import Glibc

/// Creates a fresh private (0700) directory `/tmp/<prefix>.XXXXXX` with
/// `mkdtemp` and returns its path. Traps if /tmp is unusable: every caller
/// (fakessh, the benchmark, tests) cannot go on without one.
package func makeTemporaryDirectory(prefix: String) -> String {
    var template = Array("/tmp/\(prefix).XXXXXX".utf8CString)
    return template.withUnsafeMutableBufferPointer { buf in
        guard let made = mkdtemp(buf.baseAddress!) else {
            preconditionFailure("mkdtemp /tmp/\(prefix).XXXXXX failed: errno \(errno)")
        }
        return String(cString: made)
    }
}
