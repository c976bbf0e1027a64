import CMitogenSys
import Glibc
import MitogenCore
import MitogenSys
import MitogenWire

/// The machine-level builtins: `socket.gethostname`, `platform.*`,
/// `shutil.disk_usage` and `pwd.getpwuid`. None uses NSS or `getaddrinfo`,
/// which a static binary cannot rely on (DESIGN §5).
enum BuiltinSystem {
    static func register() {
        Functions.register("socket.gethostname", signature: "() -> str", summary: "Host name (uname nodename).") { args, kwargs, _ in
            _ = try BuiltinArguments("socket.gethostname", args, kwargs, parameters: [])
            return .str(try uname().node)
        }
        Functions.register("platform.uname", signature: "() -> tuple[str, str, str, str, str]", summary: "(system, node, release, version, machine).") { args, kwargs, _ in
            _ = try BuiltinArguments("platform.uname", args, kwargs, parameters: [])
            let u = try uname()
            return .tuple([.str(u.system), .str(u.node), .str(u.release), .str(u.version), .str(u.machine)])
        }
        Functions.register("platform.system", signature: "() -> str", summary: "Kernel name, e.g. 'Linux'.") { args, kwargs, _ in
            _ = try BuiltinArguments("platform.system", args, kwargs, parameters: [])
            return .str(try uname().system)
        }
        Functions.register("platform.machine", signature: "() -> str", summary: "Hardware name, e.g. 'x86_64'.") { args, kwargs, _ in
            _ = try BuiltinArguments("platform.machine", args, kwargs, parameters: [])
            return .str(try uname().machine)
        }
        Functions.register("shutil.disk_usage", signature: "(path: str) -> tuple[int, int, int]", summary: "(total, used, free) bytes of the file system holding path.") { args, kwargs, _ in
            let path = try BuiltinArguments("shutil.disk_usage", args, kwargs, parameters: ["path"]).path("path")
            let u = try diskUsage(path)
            return .tuple([.int(u.total), .int(u.used), .int(u.free)])
        }
        Functions.register("pwd.getpwuid", signature: "(uid: int) -> tuple", summary: "(pw_name, pw_passwd, pw_uid, pw_gid, pw_gecos, pw_dir, pw_shell) from /etc/passwd.") { args, kwargs, _ in
            let uid = try BuiltinArguments("pwd.getpwuid", args, kwargs, parameters: ["uid"]).int("uid")
            guard let entry = try passwdEntry(uid: uid) else {
                throw PyException("KeyError", "'getpwuid(): uid not found: \(uid)'")
            }
            return .tuple(entry)
        }
    }

    /// `uname(2)` fields.
    static func uname() throws(PyException) -> (system: String, node: String, release: String, version: String, machine: String) {
        var u = utsname()
        _ = try pythonOSCall { Glibc.uname(&u) }
        func text<T>(_ field: T) -> String {
            withUnsafeBytes(of: field) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        }
        return (text(u.sysname), text(u.nodename), text(u.release), text(u.version), text(u.machine))
    }

    /// `shutil.disk_usage` from `statvfs`: total = blocks × frsize, used =
    /// (blocks − bfree) × frsize, free = bavail × frsize (what an unprivileged
    /// user may still use).
    static func diskUsage(_ path: String) throws(PyException) -> (total: Int, used: Int, free: Int) {
        var s = statvfs()
        _ = try pythonOSCall(path: path) { statvfs(path, &s) }
        let size = Int(s.f_frsize)
        return (Int(s.f_blocks) * size, (Int(s.f_blocks) - Int(s.f_bfree)) * size, Int(s.f_bavail) * size)
    }

    /// The first `/etc/passwd` line with `uid`, as Python's struct_passwd
    /// fields; nil when there is none.
    static func passwdEntry(uid: Int, file: String = "/etc/passwd") throws(PyException) -> [Value]? {
        _ = try BuiltinFiles.readWhole(file)  // Python's errors when the file cannot be read
        if let e = PasswdFile.entries(path: file).first(where: { Int($0.uid) == uid }) {
            return [.str(e.name), .str(e.password), .int(Int(e.uid)), .int(Int(e.gid)), .str(e.gecos), .str(e.home), .str(e.shell)]
        }
        return nil
    }
}
