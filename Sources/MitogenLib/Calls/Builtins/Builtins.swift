import MitogenCore
import MitogenSys
import MitogenWire
/// The builtin catalog every `mitogen-child` offers: Python-flavoured names
/// (`os.getpid`, `subprocess.check_output`, `files.write`, ...) whose results
/// and error texts follow CPython, so Mitogen users feel at home (DESIGN §5).
///
/// The bodies run on the child's call thread and block freely. Arguments
/// bind positionally or by keyword as in Python; a mismatch raises
/// `TypeError` with Python's wording; OS failures raise the `OSError`
/// subclass CPython would (`FileNotFoundError: [Errno 2] No such file or
/// directory: '/x'`).
///
/// ```swift
/// Builtins.registerAll()
/// let pid = try Functions.lookup("os.getpid")!.body([], PyDict(), context)
/// ```
public enum Builtins {
    /// Registers every builtin in `Functions` (replacing same-named ones).
    /// Idempotent; call before registering your own overrides.
    public static func registerAll() {
        BuiltinOS.register()
        BuiltinSubprocess.register()
        BuiltinTime.register()
        BuiltinSystem.register()
        BuiltinFiles.register()
        BuiltinMitogen.register()
    }
}
