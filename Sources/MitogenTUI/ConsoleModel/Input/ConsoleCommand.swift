package import MitogenLib

/// The commands of the `:` command line.
package enum ConsoleCommandName: String, CaseIterable, Sendable {
    case open, call, shutdown, cancel, inflight, theme, filter, inventory, mark, timeout, help, quit

    package var usage: String {
        switch self {
        case .open: "open CHAIN|PATTERN|@GROUP"
        case .call: "call EXPR"
        case .shutdown: "shutdown [subtree]"
        case .cancel: "cancel [HANDLE]"
        case .inflight: "inflight"
        case .theme: "theme NAME"
        case .filter: "filter TEXT"
        case .inventory: "inventory FILE"
        case .mark: "mark [none]"
        case .help: "help"
        case .quit: "quit"
        case .timeout: "timeout SECONDS|off"
        }
    }

    package var summary: String {
        switch self {
        case .open:
            "Connect a chain: hops method[:target][?key=value&...] joined by ->, nearest first. A chain that does not start with `local` or a remote method starts under the selected context. Host patterns (web[01-20], {a,b}), @group and chains joined by ';' open many, shared hops once."
        case .call: "Call a function on the selected context, e.g. `os.getpid()`; the result goes to the results pane. With contexts marked, on all of them: the results table."
        case .shutdown: "Shut down the selected context (or its subtree), after confirmation."
        case .cancel: "Cancel the selected pending call (or the one with HANDLE): the context stops the work; its waiter gets a CancelledError."
        case .inflight: "Ask the selected context what it is running (`mitogen.inflight`)."
        case .theme: "Switch to themes/NAME.theme."
        case .filter: "Filter the context tree by name, method or state."
        case .inventory: "Load an inventory (Ansible INI or YAML, or chains under [group] headers) for @group."
        case .mark: "Mark the contexts the tree filter matches (none: unmark all); :call then runs on every marked one."
        case .help: "Show the keys."
        case .quit: "Quit (asks first while contexts are connected)."
        case .timeout: "Give calls to the selected context a deadline (it travels with each call and cancels it there), or none."
        }
    }

    /// True if the command changes something (refused under `--read-only`).
    package var mutates: Bool { self == .open || self == .call || self == .shutdown || self == .cancel }
}

/// A parsed command line.
package enum ParsedCommand: Equatable, Sendable {
    case open(ChainSpec, underSelected: Bool)
    /// Many targets: a pattern, `@group` or chains joined by `;`.
    case openMany(String)
    case inventory(String)
    /// Mark the tree filter's matches (true) or unmark everything (false).
    case mark(Bool)
    case call(CallExpression, text: String)
    case shutdown(subtree: Bool)
    case cancel(handle: UInt32?)
    case inflight
    case theme(String)
    case filter(String)
    case help
    case quit
    /// A default deadline for the selected context's calls; nil: none.
    case timeout(Double?)
}

/// A command line the console cannot run, with the reason.
package struct CommandError: Error, Equatable, Sendable, CustomStringConvertible {
    package var description: String
}

package enum CommandParser {
    /// Methods that start from the master's own machine or reach another
    /// machine: a chain starting with one of them is opened from the master;
    /// others (sudo, su, docker, ...) act on an existing context and hang
    /// under the selected one.
    static let rootMethods: Set<String> = ["local", "fork", "ssh"]

    /// Parses one command line (without the leading `:`).
    /// - Throws: `CommandError` naming the unknown command, the missing
    ///   argument, or what is wrong with the chain or the call expression.
    package static func parse(_ line: String) throws(CommandError) -> ParsedCommand {
        let text = line.trimmingSpaces
        let word = String(text.prefix { $0 != " " })
        let rest = String(text.dropFirst(word.count)).trimmingSpaces
        guard let name = ConsoleCommandName(rawValue: word) ?? ConsoleCommandName.allCases.first(where: {
            !word.isEmpty && $0.rawValue.hasPrefix(word)
        }) else {
            throw CommandError(
                description: "unknown command '\(word)'; commands: \(ConsoleCommandName.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        switch name {
        case .open:
            guard !rest.isEmpty else { throw CommandError(description: "open needs a chain, e.g. :open local -> local") }
            if FleetOpen.namesMany(rest) {
                // Patterns are checked now; groups once the inventory is asked.
                let texts = rest.split(separator: ";").map(String.init).filter { !$0.trimmingSpaces.hasPrefix("@") }
                do {
                    _ = try FleetSpec.expand(texts)
                } catch {
                    throw CommandError(description: "bad targets: \(error)")
                }
                return .openMany(rest)
            }
            let spec: ChainSpec
            do {
                spec = try ChainSpec.parse(rest)
            } catch {
                throw CommandError(description: "bad chain: \(error)")  // never echo the chain itself
            }
            return .open(spec, underSelected: !rootMethods.contains(spec.hops[0].method))
        case .call:
            guard !rest.isEmpty else { throw CommandError(description: "call needs an expression, e.g. :call os.getpid()") }
            do {
                return .call(try PythonLiteralParser.parse(rest), text: rest)
            } catch {
                throw CommandError(description: "bad call expression: \(error)")
            }
        case .shutdown:
            guard rest.isEmpty || rest == "subtree" else {
                throw CommandError(description: "shutdown takes nothing or 'subtree', not '\(rest)'")
            }
            return .shutdown(subtree: rest == "subtree")
        case .cancel:
            if rest.isEmpty { return .cancel(handle: nil) }
            guard let h = UInt32(rest) else { throw CommandError(description: "cancel takes a call handle number, not '\(rest)'") }
            return .cancel(handle: h)
        case .inflight: return .inflight
        case .theme:
            guard !rest.isEmpty else { throw CommandError(description: "theme needs a name, e.g. :theme light") }
            return .theme(rest)
        case .filter: return .filter(rest)
        case .inventory:
            guard !rest.isEmpty else { throw CommandError(description: "inventory needs a file, e.g. :inventory hosts.ini") }
            return .inventory(rest)
        case .mark:
            guard rest.isEmpty || rest == "none" else { throw CommandError(description: "mark takes nothing or 'none', not '\(rest)'") }
            return .mark(rest.isEmpty)
        case .help: return .help
        case .quit: return .quit
        case .timeout:
            if rest == "off" { return .timeout(nil) }
            guard let seconds = Double(rest), seconds.isFinite, seconds > 0, seconds < 1e9 else {
                throw CommandError(description: "timeout takes a number of seconds above 0, or 'off', not '\(rest)'")
            }
            return .timeout(seconds)
        }
    }
}
