package import MitogenLib

/// The detail pane of one pending call: what the context running it says
/// it is stuck on (`mitogen.inflight_detail`), refreshed while the pane is
/// open. Pure data and formatting; the app fetches, the renderer draws.
package struct CallDetail: Equatable, Sendable {
    /// The pending call shown (its reply handle).
    package var handle: UInt32
    package var contextID: UInt32
    /// Lines to show, from the last answer; empty before the first.
    package var lines: [DetailLine] = []
    /// Monotonic time of the last answer (or error).
    package var fetchedAt: Double?
    /// A question is out (do not ask again until it answers).
    package var asking = false

    /// Seconds between refreshes while the pane is open.
    package static let refreshInterval = 1.0

    package init(handle: UInt32, contextID: UInt32) {
        self.handle = handle
        self.contextID = contextID
    }

    /// True when a new question should go out at `now`.
    package func isDue(at now: Double) -> Bool {
        !asking && (fetchedAt.map { now - $0 >= Self.refreshInterval } ?? true)
    }

    /// One line of the pane and how it should look.
    package struct DetailLine: Equatable, Sendable {
        package enum Kind: Sendable { case heading, text, process, warning, dim }
        package var text: String
        package var kind: Kind
        package init(_ text: String, _ kind: Kind = .text) {
            self.text = text
            self.kind = kind
        }
    }

    /// The lines for call `handle` of caller `callerID` from a
    /// `mitogen.inflight_detail` answer. Every field is optional: a context
    /// that answers something else gets a line saying so, never a crash.
    package static func lines(from answer: Value, handle: UInt32, callerID: UInt32) -> [DetailLine] {
        guard let d = answer.dictValue else { return [DetailLine("unexpected answer: \(answer.displayText)", .warning)] }
        var out: [DetailLine] = []
        let calls = d["calls"]?.sequenceValue ?? []
        let mine = calls.first { c in
            c.dictValue?["handle"]?.intValue == Int(handle) && c.dictValue?["caller"]?.intValue == Int(callerID)
        }?.dictValue
        if let c = mine {
            out += callLines(c)
        } else {
            out.append(DetailLine("the context does not list this call (finished, or not started there yet)", .warning))
        }
        if let q = d["queue"]?.dictValue, let waiting = q["waiting"]?.intValue {
            var text = "queue: \(waiting) waiting"
            if let age = seconds(q["oldest_age"]) { text += ", oldest \(formatted(age))" }
            out.append(DetailLine(text, waiting > 0 ? .warning : .dim))
        }
        let others = calls.filter { $0.dictValue?["handle"]?.intValue != Int(handle) }.compactMap(\.dictValue)
        for o in others.prefix(5) {
            let running = o["running"] == .bool(true) ? "running" : "queued"
            out.append(DetailLine("  other: \(o["function"]?.stringValue ?? "?")(\(o["args"]?.stringValue ?? ""))  \(running)", .dim))
        }
        let contexts = d["contexts"]?.sequenceValue?.compactMap(\.dictValue) ?? []
        if !contexts.isEmpty {
            out.append(DetailLine("contexts started from there:", .heading))
            for c in contexts.prefix(8) {
                out.append(DetailLine("  \(c["name"]?.stringValue ?? "?") (\(c["method"]?.stringValue ?? "?")): \(c["state"]?.stringValue ?? "?")"))
            }
        }
        let log = d["log"]?.sequenceValue?.compactMap(\.stringValue) ?? []
        if !log.isEmpty {
            out.append(DetailLine("log tail:", .heading))
            for l in log.suffix(6) { out.append(DetailLine("  " + l, .dim)) }
        }
        return out
    }

    private static func callLines(_ c: PyDict) -> [DetailLine] {
        var out: [DetailLine] = []
        let function = c["function"]?.stringValue ?? "?"
        var state = c["running"] == .bool(true) ? "running" : "queued"
        if let t = seconds(c["running_for"]) { state += " for \(formatted(t))" } else if let a = seconds(c["age"]) { state += " for \(formatted(a))" }
        if let left = seconds(c["deadline_in"]) {
            state += left >= 0 ? ", deadline in \(formatted(left))" : ", deadline passed \(formatted(-left)) ago"
        } else {
            state += ", no deadline"
        }
        out.append(DetailLine("\(function)(\(c["args"]?.stringValue ?? ""))  \(state)", .heading))
        if let by = c["cancelled_by"]?.stringValue {
            out.append(DetailLine("cancelled by \(by)\(seconds(c["cancelled_ago"]).map { " \(formatted($0)) ago" } ?? ""); waiting for it to stop", .warning))
        }
        let waits = c["waits"]?.sequenceValue?.compactMap(\.dictValue) ?? []
        if waits.isEmpty { out.append(DetailLine("waits on: nothing it reported (a computation, or a wait it does not describe)", .dim)) }
        for w in waits {
            if w["what"]?.stringValue == "process" {
                out += processLines(w, depth: 0)
            } else {
                var text = "waits on fd \(w["fd"]?.intValue.map(String.init) ?? "?") (\(w["what"]?.stringValue ?? "?")): "
                text += "\(w["kind"]?.stringValue ?? "?") \(w["target"]?.stringValue ?? "")"
                if let peer = w["peer"]?.stringValue { text += " peer \(peer)" }
                out.append(DetailLine(text, .process))
            }
        }
        return out
    }

    private static func processLines(_ p: PyDict, depth: Int) -> [DetailLine] {
        let indent = String(repeating: "  ", count: depth + 1)
        let pid = p["pid"]?.intValue.map(String.init) ?? "?"
        let state = p["state"]?.stringValue ?? "?"
        let name = p["state_name"]?.stringValue ?? ""
        let wchan = p["wchan"]?.stringValue ?? "?"
        let cmd = (p["cmdline"]?.sequenceValue?.compactMap(\.stringValue) ?? []).joined(separator: " ")
        var out = [DetailLine("\(indent)\(depth == 0 ? "process" : "└ child") pid \(pid) \(name) (\(state)) wchan \(wchan): \(cmd)", .process)]
        for child in (p["children"]?.sequenceValue?.compactMap(\.dictValue) ?? []).prefix(8) {
            out += processLines(child, depth: depth + 1)
        }
        return out
    }

    /// A number of seconds from the context's answer; nil for anything
    /// else, or for a value no clock shows (the answer is not trusted).
    private static func seconds(_ v: Value?) -> Double? {
        let s: Double
        switch v {
        case .float(let f)?: s = f
        case .int(let i)?: s = Double(i)
        default: return nil
        }
        return s.isFinite && abs(s) < 1e12 ? s : nil
    }

    private static func formatted(_ s: Double) -> String {
        let tenths = Int((s * 10).rounded())
        return "\(tenths / 10).\(abs(tenths % 10))s"
    }
}
