import ArgumentParser
import Glibc
import ConsoleModel
import Inventory
import MitogenLib

/// `mitogen-tui call TARGETS EXPR...` over many targets: expand the patterns,
/// groups and chains, connect and call `--forks` at a time, print in host
/// order with failed hosts last (FleetReport), exit 1 when any failed.
extension CallCommand {
    /// The targets when TARGETS names a fleet (a pattern, `@group`, several
    /// chains, or `--gather`/`--inventory` given); nil for one plain chain,
    /// which keeps the one-context output.
    func fleetTargets() throws -> [FleetTarget]? {
        let texts = chain.split(separator: ";").map(String.init).filter { !$0.allSatisfy(\.isWhitespace) }
        let loaded: MitogenInventory?
        if let inventory {
            do {
                loaded = try MitogenInventory.load(path: inventory)
            } catch {
                throw ValidationError("bad inventory: \(error)")
            }
        } else {
            loaded = nil
        }
        let targets: [FleetTarget]
        do {
            targets = try FleetSpec.expand(texts, groups: { loaded?.targets(group: $0) })
        } catch {
            let hint = error.message.hasPrefix("no group named") && loaded == nil ? " (give --inventory FILE)" : ""
            throw ValidationError("bad targets: \(error)\(hint)")  // never echo the text: it may hold a password
        }
        // One chain that expanded to itself (no pattern, no group).
        let plain = texts.count == 1 && targets.count == 1 && (try? ChainSpec.parse(texts[0])) == targets[0].chain
        return plain && !gather && inventory == nil ? nil : targets
    }

    func runFleet(_ targets: [FleetTarget]) throws {
        guard forks >= 1 else { throw ValidationError("--forks must be at least 1") }
        let parsed = try parsedCalls()
        let calls = parsed.map { FleetCall(function: $0.function, args: $0.args, kwargs: $0.kwargs) }
        let options = FleetOptions(
            forks: forks, callTimeout: timeout ?? 60, connectTimeout: connectTimeout,
            askPassword: { label in
                // getpass(3): /dev/tty with echo off. One question per method and
                // user serves every host (FleetOptions.askPassword).
                getpass("password for \(label) (every host): ").map { String(cString: $0) }
            })
        let tree = FleetTree(targets: targets)
        let results = try runWithRouter { router in router.fanOut(tree, calls: calls, options: options) }
        let lines =
            json
            ? FleetReport.json(results, targets: targets, calls: calls)
            : gather ? FleetReport.gathered(results, expressions: expressions) : FleetReport.lines(results, expressions: expressions)
        if !lines.isEmpty { print(lines.joined(separator: "\n")) }
        fflush(nil)  // every stream: the results reach stdout before the summary reaches stderr
        printError(FleetReport.summary(results))
        if results.contains(where: { !$0.succeeded }) { throw ExitCode(1) }
    }
}
