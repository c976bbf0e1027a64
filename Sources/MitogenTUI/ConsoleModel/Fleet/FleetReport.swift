package import MitogenLib
import MitogenWire

/// The lines `mitogen-tui call` prints for a fan-out: pure, so the exact
/// output is unit-tested and the console folds results the same way.
///
/// Hosts that succeeded come first in host order, then the failed ones (a
/// connection that failed or any call that failed) with their errors. With
/// one call a line is `label: result`; with several, `label: EXPR: result`.
/// Results print as Python literals, errors as `error: MESSAGE`.
package enum FleetReport {
    /// One line per host and call, failed hosts last.
    package static func lines(_ results: [FleetHostResult], expressions: [String]) -> [String] {
        let ok = results.filter(\.succeeded)
        let failed = results.filter { !$0.succeeded }
        return (ok + failed).flatMap { outcomeTexts($0, expressions: expressions).map { "\($0.0): \($0.1)" } }
    }

    /// Hosts whose every outcome is the same fold into one line
    /// (`web[01-18,20]: 0`), as ClusterShell's `-b` does; groups in order of
    /// their first host, failed groups last.
    package static func gathered(_ results: [FleetHostResult], expressions: [String]) -> [String] {
        var order: [[String]] = []
        var labels: [[String]: [String]] = [:]
        var failedKeys = Set<[String]>()
        for result in results {
            let texts = outcomeTexts(result, expressions: expressions)
            let key = texts.map { "\($0.0.dropFirst(result.label.count))\u{0}\($0.1)" }
            if labels[key] == nil { order.append(key) }
            labels[key, default: []].append(result.label)
            if !result.succeeded { failedKeys.insert(key) }
        }
        let sorted = order.filter { !failedKeys.contains($0) } + order.filter { failedKeys.contains($0) }
        return sorted.flatMap { key in
            let folded = HostPattern.fold(labels[key] ?? [])
            return key.map { entry in
                let parts = entry.split(separator: "\u{0}", maxSplits: 1, omittingEmptySubsequences: false)
                return "\(folded)\(parts[0]): \(parts.count > 1 ? parts[1] : "")"
            }
        }
    }

    /// One JSON object per host and call: host, chain, function, result or
    /// error, elapsed_us; failed hosts last. A host that did not connect has
    /// `"stage":"connect"` in each of its objects.
    package static func json(_ results: [FleetHostResult], targets: [FleetTarget], calls: [FleetCall]) -> [String] {
        let ok = results.filter(\.succeeded)
        let failed = results.filter { !$0.succeeded }
        var out: [String] = []
        for result in ok + failed {
            let chain = result.target < targets.count ? targets[result.target].chain.description : ""
            for (c, call) in calls.enumerated() {
                var fields = [
                    "\"host\":" + Value.str(result.label).jsonText, "\"chain\":" + Value.str(chain).jsonText,
                    "\"function\":" + Value.str(call.function).jsonText,
                ]
                if let error = result.connectError {
                    fields += ["\"stage\":\"connect\"", "\"error\":" + Value.str(error).jsonText, "\"elapsed_us\":\(micros(result.elapsed))"]
                } else if c < result.calls.count {
                    switch result.calls[c].outcome {
                    case .ok(let value): fields.append("\"result\":" + value.jsonText)
                    case .failed(let message): fields.append("\"error\":" + Value.str(message).jsonText)
                    }
                    fields.append("\"elapsed_us\":\(micros(result.calls[c].elapsed))")
                }
                out.append("{" + fields.joined(separator: ",") + "}")
            }
        }
        return out
    }

    /// "22 hosts: 20 ok, 2 failed".
    package static func summary(_ results: [FleetHostResult]) -> String {
        let failed = results.filter { !$0.succeeded }.count
        return "\(results.count) host\(results.count == 1 ? "" : "s"): \(results.count - failed) ok, \(failed) failed"
    }

    /// (label with the expression when there are several calls, outcome text) per call.
    private static func outcomeTexts(_ result: FleetHostResult, expressions: [String]) -> [(String, String)] {
        if let error = result.connectError { return [(result.label, "error: " + oneLine(error))] }
        return result.calls.enumerated().map { c, call in
            let label = expressions.count > 1 && c < expressions.count ? "\(result.label): \(expressions[c])" : result.label
            switch call.outcome {
            case .ok(let value): return (label, value.pythonRepr)
            case .failed(let message): return (label, "error: " + oneLine(message))
            }
        }
    }

    /// An error on one line: a tool's several lines joined by " | ".
    private static func oneLine(_ text: String) -> String {
        text.split(whereSeparator: \.isNewline).joined(separator: " | ")
    }

    private static func micros(_ seconds: Double) -> Int { Int((seconds * 1e6).rounded()) }
}
