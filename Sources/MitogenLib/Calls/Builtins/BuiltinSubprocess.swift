import CMitogenSys
import Glibc
import MitogenCore
import MitogenSys
import MitogenWire

/// The `subprocess` builtins: `check_output`, `call` and `run`, with
/// CPython's results and exception texts (`CalledProcessError`,
/// `TimeoutExpired`, `FileNotFoundError` naming the program).
///
/// Differences from CPython, on purpose: stdin is `/dev/null` unless `input`
/// is given (a context's stdin is never handed to a program), only
/// None/PIPE/STDOUT/DEVNULL are accepted for stdout and stderr, and the
/// program always starts a new session (`start_new_session=True`), so that
/// on `timeout` its whole process group is ended (SIGTERM, then SIGKILL after
/// ``SubprocessRunner/terminationGrace``), not only the program: a shell
/// pipeline such as `sh -c "sleep 600 | cat"` leaves nothing running.
enum BuiltinSubprocess {
    static func register() {
        Functions.register(
            "subprocess.check_output",
            signature: "(args: list[str] | str, input: bytes | None = None, cwd: str | None = None, env: dict | None = None, stderr=None, shell: bool = False, timeout: float | None = None) -> bytes",
            summary: "Run a program and return its stdout; raise CalledProcessError if it fails."
        ) { args, kwargs, ctx in
            let a = try BuiltinArguments("subprocess.check_output", args, kwargs, parameters: ["args", "input", "cwd", "env", "stderr", "shell", "timeout"])
            let command = try Command(a)
            var runner = try command.runner(a, ctx)
            runner.input = try input(a)
            runner.stdout = .capture
            runner.stderr = try .from(a.value("stderr"), function: a.function, name: "stderr")
            let outcome = try command.run(runner)
            try command.check(outcome.status)
            return .bytes(outcome.stdout ?? [])
        }

        Functions.register(
            "subprocess.call",
            signature: "(args: list[str] | str, cwd=None, env=None, shell: bool = False, timeout=None, stdout=None, stderr=None) -> int",
            summary: "Run a program and return its returncode (negative: killed by that signal)."
        ) { args, kwargs, ctx in
            let a = try BuiltinArguments("subprocess.call", args, kwargs, parameters: ["args", "cwd", "env", "shell", "timeout", "stdout", "stderr"])
            let command = try Command(a)
            var runner = try command.runner(a, ctx)
            runner.stdout = try .from(a.value("stdout"), function: a.function, name: "stdout")
            runner.stderr = try .from(a.value("stderr"), function: a.function, name: "stderr")
            return .int(try command.run(runner).status.returnCode)
        }

        Functions.register(
            "subprocess.run",
            signature: "(args: list[str] | str, input=None, capture_output: bool = False, check: bool = False, timeout=None, shell: bool = False, cwd=None, env=None, stdout=None, stderr=None) -> dict",
            summary: "Run a program; returns {args, returncode, stdout, stderr} like CompletedProcess."
        ) { args, kwargs, ctx in
            let a = try BuiltinArguments("subprocess.run", args, kwargs, parameters: ["args", "input", "capture_output", "check", "timeout", "shell", "cwd", "env", "stdout", "stderr"])
            let command = try Command(a)
            var runner = try command.runner(a, ctx)
            runner.input = try input(a)
            runner.stdout = try .from(a.value("stdout"), function: a.function, name: "stdout")
            runner.stderr = try .from(a.value("stderr"), function: a.function, name: "stderr")
            if a.bool("capture_output", default: false) {
                guard runner.stdout == .inherit && runner.stderr == .inherit else {
                    throw PythonErrors.valueError("stdout and stderr arguments may not be used with capture_output.")
                }
                runner.stdout = .capture
                runner.stderr = .capture
            }
            let outcome = try command.run(runner)
            if a.bool("check", default: false) { try command.check(outcome.status) }
            return .dict(PyDict([
                ("args", command.original), ("returncode", .int(outcome.status.returnCode)),
                ("stdout", outcome.stdout.map { .bytes($0) } ?? .none),
                ("stderr", outcome.stderr.map { .bytes($0) } ?? .none),
            ]))
        }
    }

    /// `input=`: bytes, str (UTF-8) or None.
    private static func input(_ a: BuiltinArguments) throws(PyException) -> [UInt8]? {
        a.optional("input") == nil ? nil : try a.data("input")
    }

    /// One command as the caller gave it and as it will be executed.
    struct Command {
        /// `args` as given: what `CalledProcessError.cmd` and `run()["args"]` show.
        let original: Value
        let argv: [String]
        /// The program Python names in `FileNotFoundError` (`/bin/sh` for shell=True).
        let program: String
        let timeout: Value?

        init(_ a: BuiltinArguments) throws(PyException) {
            original = try a.required("args")
            let shell = a.bool("shell", default: false)
            var items: [String]
            switch original {
            case .str(let s): items = [s]
            case .bytes(let b): items = [String(decoding: b, as: UTF8.self)]
            case .list(let values), .tuple(let values):
                items = []
                for v in values {
                    switch v {
                    case .str(let s): items.append(s)
                    case .bytes(let b): items.append(String(decoding: b, as: UTF8.self))
                    default: throw PythonErrors.typeError("expected str, bytes or os.PathLike object, not \(v.typeName)")
                    }
                }
            default: throw a.mismatch("args", expected: "list or str", got: original)
            }
            if shell { items = ["/bin/sh", "-c"] + items }
            guard let first = items.first else { throw PyException("IndexError", "list index out of range") }
            argv = items
            program = first
            timeout = a.optional("timeout")
        }

        /// A runner with the common options: cwd, env, timeout.
        func runner(_ a: BuiltinArguments, _ call: CallContext) throws(PyException) -> SubprocessRunner {
            var environment: [String]?
            if let env = a.optional("env") {
                guard let pairs = env.dictValue else { throw a.mismatch("env", expected: "dict", got: env) }
                environment = []
                for (k, v) in pairs {
                    guard let key = k.stringValue, let value = v.stringValue else {
                        throw PythonErrors.typeError("expected str, bytes or os.PathLike object, not \((k.stringValue == nil ? k : v).typeName)")
                    }
                    environment?.append("\(key)=\(value)")
                }
            }
            return SubprocessRunner(
                argv: argv, environment: environment, workingDirectory: try a.optionalPath("cwd"),
                timeout: try a.seconds("timeout"), call: call)
        }

        /// Runs and turns Sys errors into CPython's exceptions.
        func run(_ runner: SubprocessRunner) throws(PyException) -> SubprocessRunner.Outcome {
            do {
                return try runner.run()
            } catch let error as SystemError {
                if error.operation.hasPrefix("exec ") { throw PythonErrors.osError(errno: error.errno, path: program) }
                throw PythonErrors.from(error)
            } catch is SubprocessRunner.Cancelled {
                throw PyException("mitogen.core.CancelledError", "\(program) cancelled; its process group was ended")
            } catch is SubprocessRunner.TimedOut {
                let after = timeout.map { $0.stringValue ?? $0.repr(.python) } ?? "?"
                throw PyException("subprocess.TimeoutExpired", "Command '\(original.stringValue ?? original.repr(.python))' timed out after \(after) seconds")
            } catch {
                throw PyException("OSError", "\(error)")
            }
        }

        /// Raises `CalledProcessError` unless the program exited 0.
        func check(_ status: ProcessStatus) throws(PyException) {
            let cmd = original.stringValue ?? original.repr(.python)
            switch status {
            case .exited(0): return
            case .exited(let code):
                throw PyException("subprocess.CalledProcessError", "Command '\(cmd)' returned non-zero exit status \(code).")
            case .signaled(let signal):
                let how = SignalNames.pythonRepr(signal).map { "died with \($0)." } ?? "died with unknown signal \(signal)."
                throw PyException("subprocess.CalledProcessError", "Command '\(cmd)' \(how)")
            }
        }
    }
}

/// Linux signal names as Python's `signal.Signals` shows them.
enum SignalNames {
    private static let names: [Int32: String] = [
        1: "SIGHUP", 2: "SIGINT", 3: "SIGQUIT", 4: "SIGILL", 5: "SIGTRAP", 6: "SIGABRT", 7: "SIGBUS",
        8: "SIGFPE", 9: "SIGKILL", 10: "SIGUSR1", 11: "SIGSEGV", 12: "SIGUSR2", 13: "SIGPIPE",
        14: "SIGALRM", 15: "SIGTERM", 16: "SIGSTKFLT", 17: "SIGCHLD", 18: "SIGCONT", 19: "SIGSTOP",
        20: "SIGTSTP", 21: "SIGTTIN", 22: "SIGTTOU", 23: "SIGURG", 24: "SIGXCPU", 25: "SIGXFSZ",
        26: "SIGVTALRM", 27: "SIGPROF", 28: "SIGWINCH", 29: "SIGIO", 30: "SIGPWR", 31: "SIGSYS",
        34: "SIGRTMIN", 64: "SIGRTMAX",
    ]

    /// `<Signals.SIGKILL: 9>`, or nil for a number Python has no name for.
    static func pythonRepr(_ signal: Int32) -> String? {
        names[signal].map { "<Signals.\($0): \(signal)>" }
    }
}
