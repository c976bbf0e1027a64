import Glibc
import MitogenSys

/// The package's root directory (where Package.swift is).
public let packageRoot: String = {
    var path = #filePath
    for _ in 0..<3 { path = String(path[..<(path.lastIndex(of: "/") ?? path.startIndex)]) }
    return path
}()

/// The Python with mitogen 0.3.54 (the test oracle): `$MITOGEN_PYTHON`, else
/// `<package root>/.venv/bin/python` that scripts/setup-test-env.sh makes;
/// nil when neither exists.
public func oraclePython() -> String? {
    if let python = environmentValue("MITOGEN_PYTHON"), !python.isEmpty { return python }
    let venv = packageRoot + "/.venv/bin/python"
    return access(venv, X_OK) == 0 ? venv : nil
}

/// The `python3` on `PATH` (CPython for texts that need no Mitogen), if any.
public func systemPython() -> String? {
    try? resolveExecutable("python3", environment: nil)
}

/// A fresh temporary directory.
public func makeTempDirectory(_ prefix: String = "mitogen-test") -> String {
    makeTemporaryDirectory(prefix: prefix)
}
