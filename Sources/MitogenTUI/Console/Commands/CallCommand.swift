import ArgumentParser
import Glibc
import MitogenLib
import MitogenSys
import ConsoleModel

/// `mitogen-tui call [--json] [--timeout S] CHAIN EXPR...`: connect a chain,
/// run each call expression in its last context, print each result as a
/// Python literal (or one JSON object per call), exit non-zero on the first
/// failed call. With a pattern, `@group` or several chains it fans out
/// (CallCommand+Fleet.swift).
struct CallCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "call",
        abstract: "Connect CHAIN and evaluate each call expression in its last context.",
        discussion: """
            Each EXPR is a Python call with literal arguments, e.g.
              mitogen-tui call local 'os.getpid()' 'os.listdir("/tmp")' 'subprocess.check_output(["id", "-u"])'
            Results print as Python literals that ast.literal_eval reads back.
            TARGETS may name many hosts: a host pattern in any hop
            ('ssh:web[01-20,25].example.com -> sudo:root', '{a,b}'), '@group' of
            an --inventory, or several chains separated by ';'. Then every
            target is called, --forks at a time, each line is 'host: result',
            and failed hosts come last with their error.
            """
    )

    @Flag(help: "Print one JSON object per call: context, function, result or error, elapsed_us.")
    var json = false

    @Option(help: "Seconds to wait for each call (default: no limit for one chain, 60 for many).")
    var timeout: Double?

    @Option(help: "ssh hops without transport=: openssh or libssh2 (default: $MITOGEN_SSH_TRANSPORT, else openssh).")
    var sshTransport: String?

    @Option(help: "Connections and calls in flight at once, for many targets.")
    var forks = 50

    @Option(help: "Seconds each connection may take (default: the hop's connect_timeout, else 30).")
    var connectTimeout: Double?

    @Option(help: "Inventory for @group: Ansible INI or YAML, or a file of chains under [group] headers.")
    var inventory: String?

    @Flag(help: "Fold hosts with identical results into one line: web[01-18,20]: 0.")
    var gather = false

    @Argument(help: "The chain of hops to connect, e.g. 'local' or 'local -> local'; or many targets: a pattern, @group, chains joined by ';'.")
    var chain: String

    @Argument(help: "Call expressions to evaluate in order.")
    var expressions: [String] = []

    func run() throws {
        try LibSSH2Transport.register(defaultName: sshTransport)
        if let fleet = try fleetTargets() {
            try runFleet(fleet)
            return
        }
        let spec: ChainSpec
        do {
            spec = try ChainSpec.parse(chain)
        } catch {
            throw ValidationError("bad chain: \(error)")  // never echo the chain: it may hold a password
        }
        let calls = try parsedCalls()
        let failed = try runWithRouter { router -> Bool in
            let context = try router.connect(chain: spec, askPassword: { number, hop in
                // getpass(3): reads /dev/tty with echo off, prompting there.
                let label = "password for hop \(number) (\(hop.method)\(hop.target.map { ":" + $0 } ?? "")): "
                return getpass(label).map { String(cString: $0) }
            })
            for (text, call) in zip(expressions, calls) {
                let start = monotonicNow()
                do {
                    let result = try context.callValue(call.function, args: call.args, kwargs: call.kwargs, timeout: timeout)
                    let micros = Int((monotonicNow() - start) * 1e6)
                    if json {
                        print(jsonLine(context, call, result: result, error: nil, micros: micros))
                    } else {
                        print(result.pythonRepr)
                    }
                    fflush(nil)  // each result as it comes, into a pipe too
                } catch {
                    let micros = Int((monotonicNow() - start) * 1e6)
                    if json {
                        print(jsonLine(context, call, result: nil, error: "\(error)", micros: micros))
                    } else {
                        printError("\(text): \(error)")
                    }
                    return true
                }
            }
            return false
        }
        if failed { throw ExitCode(1) }
    }

    func parsedCalls() throws -> [CallExpression] {
        var calls: [CallExpression] = []
        for text in expressions {
            do {
                calls.append(try PythonLiteralParser.parse(text))
            } catch {
                throw ValidationError("bad call expression '\(text)': \(error)")
            }
        }
        return calls
    }

    private func jsonLine(_ context: Context, _ call: CallExpression, result: Value?, error: String?, micros: Int) -> String {
        var fields: [String] = [
            "\"context\":" + Value.str(context.name ?? String(context.contextID)).jsonText,
            "\"function\":" + Value.str(call.function).jsonText,
        ]
        if let result { fields.append("\"result\":" + result.jsonText) }
        if let error { fields.append("\"error\":" + Value.str(error).jsonText) }
        fields.append("\"elapsed_us\":\(micros)")
        return "{" + fields.joined(separator: ",") + "}"
    }
}

func printError(_ text: String) {
    let line = text + "\n"
    _ = line.withCString { write(2, $0, strlen($0)) }
}
