package import MitogenCore
package import MitogenWire

/// One thing the connection loop must do for the ``PromptEngine``.
package enum PromptAction: Sendable, Equatable, CustomStringConvertible {
    /// Write these bytes to the tool (its PTY, or stdin): a password or an
    /// answer followed by `\n`, or `yes\n`. May hold a secret: never log it.
    case send([UInt8])
    /// The tool asked something that is not the password (a one-time code, a
    /// key passphrase): ask the caller's callback, then call
    /// ``PromptEngine/answer(_:)``. The text is sanitised and secret-free.
    case ask(prompt: String)
    /// Stop: kill the tool and raise `failure.streamError`.
    case fail(PromptFailure)
    /// The first stage is running: from here on the channel carries the
    /// bootstrap protocol. `passthrough` starts at the first marker
    /// (`MITOGEN0 ` or `MITO002`) and holds every byte fed after it; give it,
    /// and everything read later, to the bootstrap handshake.
    case finished(passthrough: [UInt8])

    /// Never shows sent bytes, which may be a password.
    package var description: String {
        switch self {
        case .send(let bytes): "send(\(bytes.count) bytes)"
        case .ask(let prompt): "ask(\(prompt))"
        case .fail(let failure): "fail(\(failure.kind): \(failure.message))"
        case .finished(let bytes): "finished(passthrough: \(bytes.count) bytes)"
        }
    }
}

/// Why the tool did not get through. `message` is Mitogen's text where
/// Mitogen has one; it never contains a secret.
package struct PromptFailure: Error, Sendable, Equatable, CustomStringConvertible {
    /// Which of the seed's errors this is.
    package enum Kind: Sendable, Equatable {
        /// The seed's `PasswordError`.
        case password
        /// The seed's `HostKeyError`.
        case hostKey
        /// A plain `StreamError`; the message ends with the tool's last output.
        case stream
    }

    package var kind: Kind
    package var message: String

    package init(_ kind: Kind, _ message: String) {
        self.kind = kind
        self.message = message
    }

    package var description: String { message }

    /// The error to raise: a `StreamError` of kind `.password`, `.hostKey` or `.stream`.
    package var streamError: StreamError {
        switch kind {
        case .password: StreamError(message, kind: .password)
        case .hostKey: StreamError(message, kind: .hostKey)
        case .stream: StreamError(message, kind: .stream)
        }
    }
}

/// Talks to a connection tool (`ssh`, `sudo`, `su`, `doas`, a container tool)
/// until the first stage runs: types the password once, answers host key
/// questions, hands other questions to the caller, and recognises failure.
///
/// A pure state machine: feed it every chunk the tool prints on the channel
/// where it prompts (the PTY, or stderr/merged stdout), in any chunking, and
/// perform the returned actions in order.
///
/// ```swift
/// var engine = method.makePromptEngine(canAsk: callback != nil)
/// for action in engine.feed(chunk) {
///     switch action {
///     case .send(let bytes): writeToTool(bytes)
///     case .ask(let prompt): let reply = callback?(prompt); handle(engine.answer(reply))
///     case .fail(let failure): kill(); throw failure.streamError
///     case .finished(let rest): handshake.feed(rest)  // and stop feeding the engine
///     }
/// }
/// ```
///
/// Rules (Mitogen 0.3.54's, per ``PromptDialect``): complete lines are
/// tested against the failure patterns, the unterminated tail against the
/// prompt patterns each time it grows. Each prompt line is answered at most
/// once; the password is typed at most once per connection, and a second
/// password prompt fails at once with the tool's "password is incorrect".
///
/// **Done.** When the first stage's output shares this channel
/// (`markersInBand`: `su`'s full PTY, merged stderr) the engine finishes at
/// the first `MITOGEN0 ` or `MITO002` in the output, even mid-line (su may
/// not end its prompt line). Otherwise the caller calls ``stageReached()``
/// when the bootstrap handshake hears from the first stage on stdout; after
/// that, text on the prompt channel is the target's and must not be answered.
///
/// Secrets (the password, answers) are never part of a message: the output
/// kept for errors (``recentOutput``, the last ~300 bytes) shows each as
/// `[secret]`. After `.fail` the engine ignores input.
package struct PromptEngine: Sendable {
    /// Where the conversation stands.
    package enum State: Sendable, Equatable {
        /// Watching the tool's output.
        case prompting
        /// An `.ask` is outstanding; waiting for ``answer(_:)``.
        case awaitingAnswer
        /// The first stage runs; the engine is done.
        case finished
        /// The connection failed.
        case failed(PromptFailure)
    }

    /// Longest unterminated line kept; beyond it the oldest bytes are dropped.
    static let maxLineLength = 16 << 10

    package let dialect: PromptDialect
    package let markersInBand: Bool
    package let canAsk: Bool
    package private(set) var state = State.prompting
    /// Whether the password has been typed.
    package private(set) var passwordSent = false

    private let password: Secret?
    private var answers: [[UInt8]] = []
    private var line: [UInt8] = []
    /// A prompt rule already fired on the current line.
    private var lineAnswered = false
    private var tail = OutputTail()

    /// - Parameters:
    ///   - dialect: The tool's prompts and messages.
    ///   - password: Typed at the first password prompt; nil fails it with the
    ///     tool's "password is required".
    ///   - markersInBand: The first stage's lines arrive on this channel.
    ///   - canAsk: Other questions go to the caller (`.ask`) instead of failing.
    package init(dialect: PromptDialect, password: Secret?, markersInBand: Bool, canAsk: Bool = false) {
        self.dialect = dialect
        self.password = password
        self.markersInBand = markersInBand
        self.canAsk = canAsk
    }

    /// Whether the first stage has been reached.
    package var isFinished: Bool { state == .finished }

    /// The tool's last output (about 300 bytes), sanitised, secrets masked:
    /// for the end-of-file error when the tool exits.
    package var recentOutput: String { tail.render(masking: secrets) }

    private var secrets: [[UInt8]] { (password.map { [Array($0.value.utf8)] } ?? []) + answers }

    /// Consumes one chunk of the tool's output.
    /// - Returns: The actions to perform, in order. After `.finished`, each
    ///   further chunk comes back whole as `.finished(passthrough:)`; after
    ///   `.fail`, nothing.
    package mutating func feed(_ bytes: [UInt8]) -> [PromptAction] {
        switch state {
        case .finished: return [.finished(passthrough: bytes)]
        case .failed: return []
        case .prompting, .awaitingAnswer: break
        }
        var actions: [PromptAction] = []
        var start = 0
        while start < bytes.count {
            let newline = bytes[start...].firstIndex(of: 0x0a)
            let segment = bytes[start..<(newline ?? bytes.count)]
            let searchFrom = max(0, line.count - 8)
            line += segment
            if markersInBand, let marker = Self.markerOffset(in: line, from: searchFrom) {
                let before = marker - (line.count - segment.count)
                if before > 0 { tail.append(segment.prefix(before)) }
                state = .finished
                let rest = newline.map { bytes[$0...] } ?? []
                actions.append(.finished(passthrough: Array(line[marker...]) + rest))
                return actions
            }
            tail.append(segment)
            if let newline {
                tail.append(CollectionOfOne(0x0a))
                // PTYs end lines in "\r\n" (ssh even "\r\r\n") and prompts may start with "\r".
                var complete = line[...]
                while complete.last == 0x0d { complete = complete.dropLast() }
                while complete.first == 0x0d { complete = complete.dropFirst() }
                if let event = dialect.lineEvent(complete, passwordSent: passwordSent, hasPassword: password != nil) {
                    handle(event, line: complete, into: &actions)
                }
                line.removeAll(keepingCapacity: true)
                lineAnswered = false
                start = newline + 1
            } else {
                if line.count > Self.maxLineLength { line.removeFirst(line.count - Self.maxLineLength) }
                var partial = line[...]
                while partial.first == 0x0d { partial = partial.dropFirst() }
                if !lineAnswered, let event = dialect.partialEvent(partial) {
                    lineAnswered = true
                    handle(event, line: partial, into: &actions)
                }
                start = bytes.count
            }
            if case .failed = state { return actions }
        }
        return actions
    }

    /// Answers the outstanding `.ask`. A nil reply (the callback declined)
    /// fails the connection.
    package mutating func answer(_ reply: Secret?) -> [PromptAction] {
        guard state == .awaitingAnswer else { return [] }
        guard let reply else {
            return [fail(.password, "\(dialect.tool) asked a question and the prompt callback gave no answer")]
        }
        state = .prompting
        let bytes = Array(reply.value.utf8)
        answers.append(bytes)
        return [.send(bytes + [0x0a])]
    }

    /// The first stage was heard from on another channel (stdout): stop
    /// answering. Later ``feed(_:)`` calls return their bytes as passthrough.
    package mutating func stageReached() {
        switch state {
        case .prompting, .awaitingAnswer: state = .finished
        case .finished, .failed: break
        }
    }

    // MARK: - Internals

    private mutating func handle(_ event: PromptEvent, line: ArraySlice<UInt8>, into actions: inout [PromptAction]) {
        switch event {
        case .passwordPrompt:
            guard let password else {
                actions.append(fail(.password, dialect.requiredMessage))
                return
            }
            guard !passwordSent else {
                actions.append(fail(.password, dialect.incorrectMessage))
                return
            }
            passwordSent = true
            actions.append(.send(Array(password.value.utf8) + [0x0a]))
        case .hostKeyQuestion:
            if case .ssh(acceptHostKeys: true) = dialect {
                actions.append(.send(Array("yes\n".utf8)))
            } else {
                actions.append(fail(.hostKey, PromptDialect.sshHostKeyConfig))
            }
        case .question:
            let prompt = Self.promptText(line, masking: secrets)
            if canAsk, state == .prompting {
                state = .awaitingAnswer
                actions.append(.ask(prompt: prompt))
            } else if !canAsk {
                actions.append(
                    fail(.password, "\(dialect.tool) asked \"\(prompt)\", which only a prompt callback can answer"))
            }
        case .incorrect:
            actions.append(fail(.password, dialect.incorrectMessage))
        case .required:
            actions.append(fail(.password, dialect.requiredMessage))
        case .fail(let kind, let message):
            actions.append(fail(kind, message))
        case .toolFailure:
            let text = Self.promptText(line, masking: secrets)
            actions.append(fail(.stream, "\(dialect.tool) failed: \(text)"))
        }
    }

    /// Records and returns a failure; stream failures end with the recent output.
    private mutating func fail(_ kind: PromptFailure.Kind, _ message: String) -> PromptAction {
        var text = message
        if kind == .stream, !tail.isEmpty { text += "; last output received:\n" + recentOutput }
        let failure = PromptFailure(kind, text)
        state = .failed(failure)
        return .fail(failure)
    }

    /// A line of tool output as one short line of text for a message.
    private static func promptText(_ line: ArraySlice<UInt8>, masking secrets: [[UInt8]]) -> String {
        var text = OutputTail.render(line, masking: secrets, limit: 200)
        while let last = text.unicodeScalars.last, last == " " || last == "\n" { text.unicodeScalars.removeLast() }
        while let first = text.unicodeScalars.first, first == " " { text.unicodeScalars.removeFirst() }
        return text
    }

    /// The offset of the first `MITOGEN0 ` or `MITO002` in `line` at or after `from`.
    private static func markerOffset(in line: [UInt8], from: Int) -> Int? {
        let a = Bytes.firstRange(of: Array(BootstrapMarker.linePrefix.utf8), in: line[from...])
        let b = Bytes.firstRange(of: Array(BootstrapMarker.readyMarker.utf8), in: line[from...])
        switch (a, b) {
        case (let x?, let y?): return min(x, y)
        case (let x?, nil): return x
        case (nil, let y?): return y
        case (nil, nil): return nil
        }
    }
}
