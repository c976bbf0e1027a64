import CMitogenSys
import Glibc
import MitogenCore
import MitogenSys
import MitogenWire

/// `fakessh.exec(command, out)`: runs `/bin/sh -c command` in this context
/// with its stdio streamed. The first message to `out` is a Sender for the
/// command's stdin (Blobs, then None to close it); then `(1, bytes)` for
/// stdout and `(2, bytes)` for stderr, and None at the end. Returns the exit
/// status (128 + signal number for a signal), as ssh reports it.
package enum ProcessStream {
    package static func register() {
        Functions.register(
            "fakessh.exec", signature: "(command: str, out: Sender) -> int",
            summary: "Run a shell command with stdin/stdout/stderr streamed through Senders (used by fakessh)."
        ) { args, kwargs, ctx in
            let a = try BuiltinArguments("fakessh.exec", args, kwargs, parameters: ["command", "out"])
            let command = try a.string("command")
            guard case .sender(let cid, let handle)? = a.value("out"), let router = ctx.routerRef as? Router else {
                throw PyException("TypeError", "fakessh.exec() argument 'out' must be a mitogen.core.Sender")
            }
            let peer = router.context(byID: cid)
            let out = Sender(context: peer, handle: handle)
            return .int(Int(try exec(command, out: out, router: router, peer: peer, call: ctx)))
        }
    }

    /// - Parameter call: a cancel of it ends the command (SIGTERM, SIGKILL
    ///   after `SubprocessRunner.terminationGrace`) and the wait for its
    ///   output; `mitogen.inflight` shows the shell and the pipes read.
    static func exec(_ command: String, out: Sender, router: Router, peer: Context, call: CallContext? = nil) throws -> Int32 {
        let stdinReceiver = try Receiver(router: router, respondent: peer)
        defer { stdinReceiver.close() }
        let (inR, inW) = try FileDescriptor.pipe()
        let (outR, outW) = try FileDescriptor.pipe()
        let (errR, errW) = try FileDescriptor.pipe()
        let pid: pid_t
        do {
            pid = try spawnProcess(
                SpawnRequest(executable: "/bin/sh", argv: ["/bin/sh", "-c", command], stdin: inR, stdout: outW, stderr: errW))
        } catch {
            for fd in [inR, inW, outR, outW, errR, errW] { fd.close() }
            throw PyException("OSError", "cannot run /bin/sh: \(error)")
        }
        inR.close()
        outW.close()
        errW.close()
        out.send(.sender(contextID: router.contextID, handle: stdinReceiver.handle))
        // stdin: its own thread, so a full pipe never stalls the output side.
        let feeder = startJoinableThread(name: "fakessh.stdin") {
            while let msg = try? stdinReceiver.get(), let bytes = try? msg.unpickle().bytesValue {
                if (try? inW.writeAll(bytes)) == nil { break }
            }
            inW.close()
        }
        var open: [FileDescriptor] = [outR, errR]
        let waits: [CallContext.Waiting] = [.process(pid: pid), .descriptor(fd: outR.rawValue, reading: true)]
        for w in waits { call?.noteWaiting(w) }
        defer { for w in waits { call?.doneWaiting(w) } }
        let chunkSize = FileDescriptor.pipeChunkSize
        var cancelled = false
        while !open.isEmpty && !cancelled {
            var fds = open.map { pollfd(fd: $0.rawValue, events: Int16(POLLIN), revents: 0) }
            if let call { fds.append(pollfd(fd: call.cancellationFD, events: Int16(POLLIN), revents: 0)) }
            if poll(&fds, nfds_t(fds.count), -1) < 0 { continue }
            if call != nil, fds.removeLast().revents != 0 {
                cancelled = true
                break
            }
            for (i, p) in fds.enumerated().reversed() where p.revents != 0 {
                let chunk = (try? open[i].read(upTo: chunkSize)) ?? []
                if !chunk.isEmpty {
                    out.send(.tuple([.int(open[i] == outR ? 1 : 2), .bytes(chunk)]))
                } else {
                    open[i].close()
                    open.remove(at: i)
                }
            }
        }
        if cancelled {
            _ = sendSignal(SIGTERM, to: pid)
            if !sleepUntilOneExits([pid], timeout: SubprocessRunner.terminationGrace) { usleep(500_000) }
            _ = sendSignal(SIGKILL, to: pid)
            for fd in open { fd.close() }
        }
        let status = try? waitProcess(pid, block: true)
        out.send(.none)
        stdinReceiver.close()
        pthread_join(feeder, nil)
        if cancelled { throw PyException("mitogen.core.CancelledError", "\(command) cancelled; the shell was ended") }
        switch status {
        case .exited(let code)?: return code
        case .signaled(let sig)?: return 128 + sig
        case nil: return 255
        }
    }
}
