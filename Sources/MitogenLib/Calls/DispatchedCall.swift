import Synchronization
import MitogenCore
import MitogenSys
import MitogenWire

/// One CALL_FUNCTION the dispatcher took: decoded, with its `CallContext`
/// (deadline, cancellation), queued or running.
package final class DispatchedCall: Sendable {
    let ticket: UInt64
    let message: Message
    /// The registered name, e.g. `"time.sleep"`.
    package let name: String
    let chain: String?
    let args: [Value]
    /// The keyword arguments, without the reserved deadline key.
    let kwargs: PyDict
    package let context: CallContext
    /// The arguments as Python text, secrets hidden.
    package let arguments: String
    private let startedAt = Lock<Double?>(nil)
    private let answered = Atomic<Bool>(false)

    /// Decodes Mitogen's 6-tuple `(chain_id, module, class, function, args, kwargs)`.
    /// - Throws: `PyException` (`TypeError`, `ValueError`) for a malformed call.
    init(_ message: Message, ticket: UInt64, router: Router) throws {
        let value = try message.decodeValue()
        guard case .tuple(let t) = value, t.count == 6 else {
            throw PyException("ValueError", "CALL_FUNCTION data is not a 6-tuple: \(value.typeName)")
        }
        guard let module = t[1].stringValue, let fn = t[3].stringValue else {
            throw PyException("TypeError", "CALL_FUNCTION module and function must be str")
        }
        var name = module.isEmpty ? fn : module + "." + fn
        if let klass = t[2].stringValue { name = module + "." + klass + "." + fn }
        guard let args = t[4].sequenceValue else {
            throw PyException("TypeError", "CALL_FUNCTION args must be a tuple, not \(t[4].typeName)")
        }
        var kwargs = t[5].dictValue ?? PyDict()
        var timeout: Double?
        if let raw = kwargs[CallWire.timeoutKey] {
            kwargs[CallWire.timeoutKey] = nil
            switch raw {
            case .float(let f) where f.isFinite: timeout = f
            case .int(let i): timeout = Double(i)
            default:
                throw PyException("TypeError", "\(CallWire.timeoutKey) must be a finite number of seconds, not \(raw.typeName)")
            }
        }
        self.ticket = ticket
        self.message = message
        self.name = name
        self.chain = t[0].stringValue
        self.args = args
        self.kwargs = kwargs
        self.arguments = Value.argumentsText(args, kwargs)
        self.context = CallContext(
            function: name, routerRef: router, callerID: message.srcID, timeout: CallWire.normalized(timeout))
    }

    /// Monotonic time it started running, nil while queued.
    package var started: Double? { startedAt.withLock { $0 } }
    func markStarted() { startedAt.withLock { $0 = monotonicNow() } }

    /// True for the one path that may answer the call (its own end, a
    /// refusal, a cancel while queued, or leaving it behind).
    func claimAnswer() -> Bool { !answered.exchange(true, ordering: .acquiringAndReleasing) }
}
