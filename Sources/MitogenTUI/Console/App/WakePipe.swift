import Glibc
import MitogenLib
import Synchronization
import ConsoleModel

/// The UI thread's only cross-thread entry: a non-blocking self-pipe that
/// `poll` watches, plus a queue of events from worker threads.
///
/// `wake()` writes at most one byte until the UI drains it (an atomic flag
/// coalesces wake-ups), so 10 000 router changes a second cost one write per
/// frame, not one per change.
final class WakePipe: Sendable {
    let readFD: Int32
    let writeFD: Int32
    private let armed = Atomic<Bool>(false)
    private let events = Mutex<[AppEvent]>([])

    /// - Throws: `ConsoleError` if the pipe cannot be created.
    init() throws(ConsoleError) {
        var fds: [Int32] = [0, 0]
        guard pipe(&fds) == 0 else {
            throw ConsoleError("cannot create the wake-up pipe: \(String(cString: strerror(errno)))")
        }
        for fd in fds {
            _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
            _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
        }
        readFD = fds[0]
        writeFD = fds[1]
    }

    deinit {
        close(readFD)
        close(writeFD)
    }

    /// Makes the UI's `poll` return soon. Safe from any thread.
    func wake() {
        guard !armed.exchange(true, ordering: .acquiringAndReleasing) else { return }
        var byte: UInt8 = 1
        _ = write(writeFD, &byte, 1)
    }

    /// Queues `event` for the UI thread and wakes it.
    func post(_ event: AppEvent) {
        events.withLock { $0.append(event) }
        wake()
    }

    /// Empties the pipe and re-arms `wake`; returns the queued events.
    func drain() -> [AppEvent] {
        var buffer = [UInt8](repeating: 0, count: 256)
        while read(readFD, &buffer, buffer.count) > 0 {}
        armed.store(false, ordering: .releasing)
        return events.withLock { q in
            defer { q.removeAll() }
            return q
        }
    }
}

/// What worker threads tell the UI.
enum AppEvent: Sendable {
    case opened(chain: String, contextID: UInt32, name: String)
    case openFailed(chain: String, error: String)
    case callDone(serial: Int, outcome: CallResult.Outcome)
    /// A context's function catalog (`mitogen.functions`), for completion.
    case functionsListed([String])
    case shutdownDone(name: String, forced: Bool, note: String?)
    case status(String, isError: Bool)
    /// A connection tool asks `prompt`; the answer (nil: declined) goes into `answer`.
    case toolQuestion(prompt: String, answer: Latch<String?>)
    /// Lines for the detail pane of pending call `handle`.
    case callDetail(handle: UInt32, lines: [CallDetail.DetailLine])
    /// Fleets (App+Fleet.swift): a call on many contexts or an open of many targets progressed.
    case fleet(FleetUpdate)
}

extension WakePipe {
    /// Asks the operator `prompt` without echo, from a worker thread: the UI
    /// thread shows it and puts the answer. nil when declined, or after five
    /// minutes with nobody answering.
    func askOperator(_ prompt: String) -> String? {
        let answer = Latch<String?>()
        post(.toolQuestion(prompt: prompt, answer: answer))
        return (try? answer.get(timeout: 300)) ?? nil
    }
}

/// A failure of the console itself (not of a context), with the reason.
struct ConsoleError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// Runs `body` on a new detached thread with SIGWINCH blocked (so curses'
/// resize signal always lands on the UI thread, tui-anchors §6).
func runDetached(_ body: @escaping @Sendable () -> Void) {
    final class Box: @unchecked Sendable {  // handed to exactly one thread, then released
        let body: @Sendable () -> Void
        init(_ body: @escaping @Sendable () -> Void) { self.body = body }
    }
    let box = Unmanaged.passRetained(Box(body)).toOpaque()
    var thread = pthread_t()
    let rc = pthread_create(
        &thread, nil,
        { raw in
            var set = sigset_t()
            sigemptyset(&set)
            sigaddset(&set, SIGWINCH)
            pthread_sigmask(SIG_BLOCK, &set, nil)
            let box = Unmanaged<Box>.fromOpaque(raw!).takeRetainedValue()
            box.body()
            return nil
        }, box)
    if rc == 0 {
        pthread_detach(thread)
    } else {
        Unmanaged<Box>.fromOpaque(box).release()
        body()  // no thread to be had: run it here rather than drop the work
    }
}
