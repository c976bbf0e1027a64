// A compromised child for the security tests: the normal child plus
// functions that send forged messages through the public API, the way code
// an attacker runs on a target could. Tests point a router at it with
// `useChildBinary(at:)` and check that the master and the siblings refuse.
import Glibc
import Logging
import MitogenCalls
import MitogenChild
import MitogenCore
import MitogenMaster
import MitogenWire

/// Writes `message` to the parent exactly as given: ids, handles and all
/// (the router would stamp an unset source; an attacker skips the router).
private func forge(_ ctx: CallContext, _ message: Message) throws -> Value {
    guard let parent = ctx.router?.parentStream else { throw PyException("RuntimeError", "no parent") }
    _ = try parent.send(message)
    return .none
}

private func int(_ args: [Value], _ i: Int) throws -> Int {
    guard i < args.count, let n = args[i].intValue else { throw PyException("TypeError", "argument \(i) must be an int") }
    return n
}

private func u32(_ args: [Value], _ i: Int) throws -> UInt32 {
    guard let n = UInt32(exactly: try int(args, i)) else { throw PyException("ValueError", "argument \(i) out of range") }
    return n
}

Builtins.registerAll()
CancelFunctions.register()

/// evil.add_route(id, name): claim a route to `id` with the parent (ADD_ROUTE).
Functions.register("evil.add_route") { args, _, ctx in
    guard let router = ctx.router, let parent = router.parentIDs.first else { throw PyException("RuntimeError", "no parent") }
    let text = "\(try u32(args, 0)):\(args.count > 1 ? args[1].stringValue ?? "x" : "x")"
    var msg = Message(dstID: parent, handle: Handle.addRoute, data: Array(text.utf8))
    msg.srcID = router.contextID
    msg.authID = router.contextID
    msg.encoding = .raw
    return try forge(ctx, msg)
}

/// evil.call_as(dst, auth, function, args): a CALL_FUNCTION to `dst` that
/// claims `auth` as its authority and source (no reply wanted).
Functions.register("evil.call_as") { args, _, ctx in
    let dst = try u32(args, 0), auth = try u32(args, 1)
    guard args.count > 2, let function = args[2].stringValue else { throw PyException("TypeError", "function name") }
    let dot = function.lastIndex(of: ".") ?? function.startIndex
    let call: Value = .tuple([
        .none, .str(String(function[..<dot])), .none, .str(String(function[function.index(after: dot)...])),
        .tuple(args.count > 3 ? args[3].sequenceValue ?? [] : []), .kwargs(PyDict()),
    ])
    var msg = Message.pickled(call, dstID: dst, handle: Handle.callFunction)
    msg.srcID = auth
    msg.authID = auth
    return try forge(ctx, msg)
}

/// evil.allocate(n): asks the master for `n` id blocks; returns how many it
/// granted and the text of the first refusal.
Functions.register("evil.allocate") { args, _, ctx in
    guard let router = ctx.router else { throw PyException("RuntimeError", "no router") }
    let master = router.context(byID: 0)
    var granted = 0
    var refusal: Value = .none
    for _ in 0..<(try int(args, 0)) {
        do {
            _ = try master.sendAwait(Message(handle: Handle.allocateID), deadline: 10)
            granted += 1
        } catch {
            refusal = .str("\(error)")
            break
        }
    }
    return .tuple([.int(granted), refusal])
}

/// evil.hijack_put(context_id, handle): from now on `files.put` answers the
/// master's file-transfer request with `Sender(context_id, handle)` (a
/// sibling's handle, say its SHUTDOWN) instead of its own receiver.
Functions.register("evil.hijack_put") { args, _, _ in
    let cid = try u32(args, 0), handle = try u32(args, 1)
    Functions.register("files.put") { args, _, ctx in
        guard args.count > 1, case .sender(let rcid, let rhandle) = args[1], let router = ctx.router else {
            throw PyException("TypeError", "files.put(path, reply)")
        }
        Sender(context: router.context(byID: rcid), handle: rhandle).send(.sender(contextID: cid, handle: handle))
        return .int(0)
    }
    return .none
}

/// evil.hijack_exec(context_id, handle): from now on `fakessh.exec` names
/// `Sender(context_id, handle)` as the command's stdin.
Functions.register("evil.hijack_exec") { args, _, _ in
    let cid = try u32(args, 0), handle = try u32(args, 1)
    Functions.register("fakessh.exec") { args, _, ctx in
        guard args.count > 1, case .sender(let ocid, let ohandle) = args[1], let router = ctx.router else {
            throw PyException("TypeError", "fakessh.exec(command, out)")
        }
        let out = Sender(context: router.context(byID: ocid), handle: ohandle)
        out.send(.sender(contextID: cid, handle: handle))
        // Give the master time to pump its stdin to the named Sender.
        usleep(300_000)
        out.send(.none)
        return .int(0)
    }
    return .none
}

/// evil.hijack_get(mode): from now on `files.get` misbehaves: "stall" sends
/// one chunk and then nothing for 30 s; "endless" sends 128 KiB chunks
/// (up to 64 MiB) whatever limit it was given.
Functions.register("evil.hijack_get") { args, _, _ in
    guard let mode = args.first?.stringValue else { throw PyException("TypeError", "mode") }
    Functions.register("files.get") { args, _, ctx in
        guard args.count > 1, case .sender(let cid, let handle) = args[1], let router = ctx.router else {
            throw PyException("TypeError", "files.get(path, sender)")
        }
        let sender = Sender(context: router.context(byID: cid), handle: handle)
        let chunk = [UInt8](repeating: 0x61, count: 128 << 10)
        if mode == "stall" {
            sender.send(.blob(chunk))
            usleep(30_000_000)
            return .int(chunk.count)
        }
        for _ in 0..<512 { sender.send(.blob(chunk)) }
        sender.send(.none)
        return .int(512 * chunk.count)
    }
    return .none
}

/// evil.flood(dst, count): stops reading from the parent, then writes
/// `count` 100-byte messages to `dst` with `reply_to` set straight to the parent's
/// stream (past this context's own router, so `dst` may be this context):
/// every one the parent refuses makes a dead reply, every one it forwards
/// back is a message, that nobody reads.
Functions.register("evil.flood") { args, _, ctx in
    guard let router = ctx.router, let parent = router.parentStream else { throw PyException("RuntimeError", "no parent") }
    let dst = try u32(args, 0), count = try int(args, 1)
    router.broker.stopReceive(parent.rxSide)
    let payload = [UInt8](repeating: 0x78, count: 100)
    for _ in 0..<count {
        var msg = Message(dstID: dst, handle: Handle.firstDynamic + 7, data: payload)
        msg.srcID = router.contextID
        msg.authID = router.contextID
        msg.replyTo = Handle.firstDynamic + 9
        msg.encoding = .raw
        _ = try? parent.send(msg)
    }
    return .int(count)
}

/// evil.claim_routes(blocks): asks the master for `blocks` id blocks and
/// claims a route (ADD_ROUTE) for every id in them; returns how many it sent.
Functions.register("evil.claim_routes") { args, _, ctx in
    guard let router = ctx.router, let parent = router.parentIDs.first else { throw PyException("RuntimeError", "no parent") }
    let master = router.context(byID: 0)
    var sent = 0
    for _ in 0..<(try int(args, 0)) {
        guard case .tuple(let pair) = try master.sendAwait(Message(handle: Handle.allocateID), deadline: 10), pair.count == 2,
            let start = pair[0].intValue.flatMap({ UInt32(exactly: $0) }),
            let end = pair[1].intValue.flatMap({ UInt32(exactly: $0) })
        else { throw PyException("RuntimeError", "bad ALLOCATE_ID reply") }
        for id in start..<end {
            var msg = Message(dstID: parent, handle: Handle.addRoute, data: Array("\(id):r\(id)".utf8))
            msg.srcID = router.contextID
            msg.authID = router.contextID
            msg.encoding = .raw
            router.route(msg)
            sent += 1
        }
    }
    return .int(sent)
}

/// test.route_plain(handle, value): routes `Message.pickled(value)` to the
/// master's `handle` through the router, source left unset, as a Swift user
/// of the public API would.
Functions.register("test.route_plain") { args, _, ctx in
    guard let router = ctx.router else { throw PyException("RuntimeError", "no router") }
    router.route(Message.pickled(args.count > 1 ? args[1] : .none, dstID: 0, handle: try u32(args, 0)))
    return .none
}

/// test.log_to_file(path): turns on `logToFile` inside a child, whose
/// swift-log is already bootstrapped (a second bootstrap would kill it).
Functions.register("test.log_to_file") { args, _, _ in
    logToFile(path: args.first?.stringValue, level: "DEBUG")
    return .none
}

/// evil.log_flood(count): logs `count` warning lines as fast as it can
/// (each is a FORWARD_LOG to the master).
Functions.register("evil.log_flood") { args, _, _ in
    let count = try int(args, 0)
    let logger = Logger(label: "evil")
    for i in 0..<count { logger.warning("flood line \(i)") }
    return .int(count)
}

ExternalContext.main()
