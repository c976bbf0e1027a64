import MitogenCore
import MitogenSys
import MitogenWire

/// One connection's conversation with its tool (ssh, sudo, su, doas) before
/// the first stage runs: feeds the tool's output to the `PromptEngine` and
/// carries out what it decides. Lives on the broker thread.
///
/// Where the tool prompts on a channel of its own (stderr, or the PTY of a
/// hybrid PTY), `DiagnosticsReader` feeds it and the stage's first output on
/// stdout ends it (`stageReached`). Where everything shares one channel (su's
/// full PTY) `UploadHandshake` feeds it until the engine finds the first
/// stage's marker and hands the rest to the bootstrap.
final class PromptSession: @unchecked Sendable {
    // @unchecked: every method runs on the broker thread; the prompt callback
    // runs on its own thread and comes back through `broker.defer`.
    private var engine: PromptEngine
    /// Where `.send` writes: the PTY master (nil: the tool has no terminal
    /// and cannot be answered; a prompt then fails the connection).
    private let replies: FileDescriptor?
    private let broker: Broker
    private let ask: (@Sendable (String) -> String?)?
    private let fail: (StreamError) -> Void
    /// Publishes the connect stage (authenticating, bootstrapping) for the console.
    private let publish: (ContextState) -> Void
    /// What the engine is waiting in, for the connect timeout's message.
    private(set) var stage = "connecting"

    init(
        engine: PromptEngine, replies: FileDescriptor?, broker: Broker, ask: (@Sendable (String) -> String?)?,
        fail: @escaping (StreamError) -> Void, publish: @escaping (ContextState) -> Void = { _ in }
    ) {
        self.publish = publish
        self.engine = engine
        self.replies = replies
        self.broker = broker
        self.ask = ask
        self.fail = fail
    }

    var isFinished: Bool { engine.isFinished }

    /// Feeds tool output. Returns, once the first stage speaks, the bytes
    /// that belong to the bootstrap (from its first marker on).
    func feed(_ bytes: [UInt8]) -> [UInt8]? {
        perform(engine.feed(bytes))
    }

    /// The first stage spoke on stdout: the tool got through.
    func stageReached() {
        engine.stageReached()
        stage = "bootstrapping"
        publish(.bootstrapping)
    }

    @discardableResult
    private func perform(_ actions: [PromptAction]) -> [UInt8]? {
        var passthrough: [UInt8]?
        for action in actions {
            switch action {
            case .send(let bytes):
                stage = "authenticating"
                publish(.authenticating)
                guard let replies else {
                    fail(StreamError("the tool prompted, but it has no terminal to answer on"))
                    return nil
                }
                try? replies.writeAll(bytes)
            case .ask(let prompt):
                stage = "waiting for an answer to \"\(prompt)\""
                askCaller(prompt)
            case .fail(let failure):
                fail(failure.streamError)
            case .finished(let rest):
                stage = "bootstrapping"
                publish(.bootstrapping)
                passthrough = rest
            }
        }
        return passthrough
    }

    /// Runs the caller's prompt callback on a thread of its own (it may wait
    /// for an operator) and feeds the answer back on the broker thread.
    private func askCaller(_ prompt: String) {
        guard let ask else { return }
        startThread(name: "mitogen.prompt") { [self] in
            let reply = ask(prompt).map(Secret.init)
            broker.defer { [self] in perform(engine.answer(reply)) }
        }
    }
}
