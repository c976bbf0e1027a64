import Glibc
import MitogenLib
import ConsoleModel

/// The frame-render benchmark (`mitogen-tui --bench-render`, or
/// `RenderBenchmark.run()`): renders frames of a synthetic snapshot with
/// 1000 contexts, 10 000 log lines and 200 pending calls, and estimates the
/// CPU share of a console taking 10 000 log lines a second at 15 frames a
/// second. No terminal is involved: this is the pure render cost.
package enum RenderBenchmark {
    package struct Report {
        var contexts: Int
        var logLines: Int
        var frames: Int
        var frameMeanMs: [String: Double]
        var frameP99Ms: [String: Double]
        var ingest10kMs: Double
        /// CPU fraction of one core for one second of 10k logs/s at 15 fps.
        var busyCPUFraction: Double

        package var json: String {
            func obj(_ d: [String: Double]) -> String {
                "{" + d.sorted { $0.key < $1.key }.map { "\"\($0.key)\":\(round3($0.value))" }.joined(separator: ",") + "}"
            }
            return "{\"contexts\":\(contexts),\"log_lines\":\(logLines),\"frames\":\(frames),"
                + "\"frame_mean_ms\":\(obj(frameMeanMs)),\"frame_p99_ms\":\(obj(frameP99Ms)),"
                + "\"ingest_10k_logs_ms\":\(round3(ingest10kMs)),\"cpu_fraction_10k_logs_per_s_15fps\":\(round3(busyCPUFraction))}"
        }
    }

    static func round3(_ v: Double) -> Double { (v * 1000).rounded() / 1000 }

    /// A forest of `count` contexts: 10 roots, 9 children each, the rest grandchildren.
    static func syntheticSnapshot(contexts count: Int = 1000, pending: Int = 200, now: Double = 10_000) -> ConsoleSnapshot {
        var s = ConsoleSnapshot(time: now)
        for i in 0..<count {
            let id = UInt32(i + 1)
            let parent: UInt32 = i < 10 ? 0 : i < 100 ? UInt32(i % 10 + 1) : UInt32(i % 90 + 11)
            let state: ContextState = i % 97 == 0 ? .failed("connection refused by host\(i)") : i % 53 == 0 ? .connecting : .connected
            s.contexts.append(
                ContextItem(
                    id: id, name: "host\(i).example.net", method: i < 10 ? "ssh" : "sudo", parentID: parent,
                    pid: Int32(10_000 + i), state: state, since: now - Double(i)))
            if parent == 0 {
                s.streams.append(
                    StreamItem(
                        contextID: id, name: "ssh.host\(i)", bytesIn: UInt64(i) * 1_000_000, bytesOut: UInt64(i) * 500_000,
                        messagesIn: UInt64(i) * 100, messagesOut: UInt64(i) * 90, queuedBytes: 0, isDisconnected: false))
            }
        }
        for j in 0..<pending {
            s.pending.append(
                PendingItem(
                    handle: UInt32(1000 + j), contextID: UInt32(j % count + 1), contextName: "host\(j)",
                    function: "time.sleep", arguments: "\(j)", since: now - Double(j)))
        }
        return s
    }

    static func syntheticLog(_ i: Int) -> LogItem {
        LogItem(
            contextID: UInt32(i % 1000 + 1), contextName: "host\(i % 1000)", logger: "mitogen",
            level: [10, 20, 20, 30, 40][i % 5], message: "line \(i): something happened while doing the work", time: 1.7e9 + Double(i))
    }

    package static func run(frames: Int = 200) -> Report {
        let snapshot = syntheticSnapshot()
        var logs = LogStore(capacity: 10_000)
        for i in 0..<10_000 { logs.append(syntheticLog(i)) }
        var rates = RateTracker()
        rates.sample(snapshot.streams, time: 0)
        rates.sample(snapshot.streams.map { var s = $0; s.bytesIn += 5000; return s }, time: 1)
        var state = ViewState()
        state.selectedID = 500

        var means: [String: Double] = [:]
        var p99s: [String: Double] = [:]
        for (w, h) in [(80, 24), (200, 60)] {
            for pane in [ViewScope.logs, .pending, .streams] {
                state.bottom = pane
                var times: [Double] = []
                for _ in 0..<frames {
                    let t0 = cpuNow()
                    let input = FrameInput(
                        snapshot: snapshot, logs: logs, rates: rates, results: ResultStore(), state: state,
                        layout: Layout(width: w, height: h))
                    let (frame, _) = FrameRenderer.render(input)
                    precondition(frame.lines.count == h, "frame has \(frame.lines.count) rows, expected \(h)")
                    times.append((cpuNow() - t0) * 1000)
                }
                times.sort()
                let key = "\(w)x\(h)_\(pane.rawValue)"
                means[key] = times.reduce(0, +) / Double(times.count)
                p99s[key] = times[min(times.count - 1, times.count * 99 / 100)]
            }
        }

        // One second of a busy console: 10k lines arrive, 15 frames drawn.
        state.bottom = .logs
        let t0 = cpuNow()
        for i in 0..<10_000 { logs.append(syntheticLog(20_000 + i)) }
        let ingest = (cpuNow() - t0) * 1000
        for _ in 0..<15 {
            _ = FrameRenderer.render(
                FrameInput(
                    snapshot: snapshot, logs: logs, rates: rates, results: ResultStore(), state: state,
                    layout: Layout(width: 200, height: 60)))
        }
        let busy = cpuNow() - t0
        return Report(
            contexts: snapshot.contexts.count, logLines: logs.count, frames: frames, frameMeanMs: means,
            frameP99Ms: p99s, ingest10kMs: ingest, busyCPUFraction: busy)
    }

    /// CPU time of this thread, in seconds.
    static func cpuNow() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
    }
}
