import Foundation
import Glibc
import Synchronization
import Testing
import TestSupport
import MitogenLib
@testable import MitogenCore
import MitogenSys

/// The seed's rows that were partial: a Channel where a Receiver goes,
/// `context_by_id(via_id=)`, `reply(**kwargs)`, contexts named as the caller
/// named them, `keep_alive` from any thread, profiling of both threads, and
/// the watcher's graceful end on SIGTERM.
@Suite struct SeedParityTests {
    @Test func aChannelIsAcceptedWhereverAReceiverIs() throws {
        try withTestRouter { router in
            let me = router.context(byID: router.contextID)
            let inbox = try Channel(router: router, context: me, dstHandle: 0)
            let outbox = try Channel(router: router, context: me, dstHandle: inbox.handle)
            defer { outbox.close() }
            let select = try Select(channels: [inbox], oneshot: false)
            outbox.send("ping")
            let msg = try select.get(timeout: 5)
            #expect(try msg.unpickle() == "ping")
            #expect(msg.receiver === inbox.receiver)
            try select.remove(inbox)
            #expect(throws: SelectError.self) { try select.remove(inbox) }
            try select.add(inbox)
            outbox.send(["n": 2])
            #expect(try select.get(timeout: 5).unpickle() == .dict(["n": 2]))
            select.close()
            // And like a Sender and a Receiver on their own.
            outbox.sendBinary([1, 2, 3])
            #expect(try inbox.get(timeout: 5).data == [1, 2, 3])
            #expect(inbox.toSender().handle == inbox.handle)
            inbox.close()
        }
    }

    @Test func contextByIDRemembersTheViaContext() throws {
        try withTestRouter { router in
            let looked = router.contextByID(9_000_001, viaID: 9_000_000)
            #expect(looked.via?.contextID == 9_000_000)
            #expect(router.contextByID(9_000_001) === looked)
            let hop = try router.local(name: "hop")
            let leaf = try router.local(name: "leaf", via: hop)
            #expect(leaf.via === hop)
            #expect(hop.via == nil)
        }
    }

    @Test func replyOverridesFieldsAsMitogensKwargsDo() throws {
        try withTestRouter { router in
            let answers = try Receiver(router: router)
            let diverted = try Receiver(router: router)
            defer { answers.close(); diverted.close() }
            let service = try router.addHandler { msg in
                switch try? msg.unpickle() {
                case "plain": msg.reply("ok")
                case "continue": msg.reply("more", overrides: { $0.replyTo = 4242 })
                case "divert": msg.reply("elsewhere", overrides: { $0.handle = diverted.handle })
                default: break
                }
            }
            let me = router.context(byID: router.contextID)
            for text in ["plain", "continue", "divert"] {
                var m = Message.pickled(.str(text), handle: service)
                m.replyTo = answers.handle
                me.send(m)
            }
            let first = try answers.get(timeout: 5)
            #expect(try first.unpickle() == "ok" && first.replyTo == 0)
            let second = try answers.get(timeout: 5)
            #expect(try second.unpickle() == "more" && second.replyTo == 4242)
            #expect(try diverted.get(timeout: 5).unpickle() == "elsewhere")
            #expect(answers.isEmpty)
        }
    }

    @Test func errorsNameTheContextAsTheCallerNamedIt() throws {
        try withTestRouter { router in
            let worker = try router.local(name: "worker")
            do {
                try worker.callValue("os.stat", args: [.str("/nonexistent-\(getpid())")], timeout: 10)
                Issue.record("os.stat of a missing path succeeded")
            } catch let error as CallError {
                #expect(error.context == "worker")
                #expect("\(error)".contains("in os.stat, context worker (id \(worker.contextID), pid"), "\(error)")
                #expect(error.text.contains("@"), "the wire text keeps the child's own name")
            }
            do {
                // The call's timeout is its deadline in the context, which cancels it (issue 16).
                try worker.callValue("time.sleep", args: [5], timeout: 0.2)
                Issue.record("a 5 s sleep answered within 0.2 s")
            } catch let error as CallError {
                #expect(error.isDeadline && error.context == "worker")
                #expect("\(error)".contains("in time.sleep, context worker (id \(worker.contextID), pid"), "\(error)")
            }
            let slow = try worker.callAsync("time.sleep", 5)
            do {
                _ = try slow.get(timeout: 0.2)
                Issue.record("a 5 s sleep answered within 0.2 s")
            } catch let error as TimeoutError {
                #expect("\(error)" == "waiting for context worker, id \(worker.contextID) timed out")
            }
            router.cancelCall(handle: slow.handle)
            let pid = try #require(try worker.callValue("os.getpid", timeout: 10).intValue.flatMap { Int32(exactly: $0) })
            let pending = try worker.callAsyncValue("time.sleep", args: [30])
            kill(pid, SIGKILL)
            do {
                _ = try pending.get(timeout: 10)
                Issue.record("a call to a killed context answered")
            } catch let error as ChannelError {
                #expect(error.reason == "the respondent Context has disconnected")
                #expect("\(error)" == "the respondent Context has disconnected (context worker, id \(worker.contextID))")
            }
        }
    }

    @Test func keepAliveAnswersFromAnyThreadAndCountsContexts() throws {
        try withTestRouter { router in
            #expect(!router.broker.keepAlive)
            let child = try router.local(name: "alive")
            #expect(router.broker.keepAlive)
            try child.shutdown(wait: true)
            #expect(waitUntil(timeout: 5) { !router.broker.keepAlive })
        }
    }

    @Test func aProfilingChildWritesBothThreadsTables() throws {
        try withTestRouter { router in
            let child = try router.local(name: "profiled", profiling: true)
            let pid = try #require(try child.callValue("os.getpid", timeout: 10).intValue)
            try child.callValue("time.sleep", args: [0.01], timeout: 10)
            try child.shutdown(wait: true)
            let broker = "/tmp/mitogen.stats.\(pid).mitogen.broker.log"
            let main = "/tmp/mitogen.stats.\(pid).mitogen.main.log"
            defer { unlink(broker); unlink(main) }
            #expect(waitUntil(timeout: 5) { access(broker, F_OK) == 0 && access(main, F_OK) == 0 })
            let brokerTable = (try? String(contentsOfFile: broker, encoding: .utf8)) ?? ""
            let mainTable = (try? String(contentsOfFile: main, encoding: .utf8)) ?? ""
            #expect(brokerTable.contains("route handle \(Handle.callFunction) from parent"), "\(brokerTable)")
            #expect(mainTable.contains("time.sleep"), "\(mainTable)")
        }
    }

    /// SIGTERM to a program whose broker has the watcher: the broker shuts
    /// down gracefully (its exit work runs: here the profile the environment
    /// asked for), then the program dies of SIGTERM as it would have.
    @Test func sigtermShutsTheWatchedBrokerDownGracefully() throws {
        // Spawned with our own spawn, which clears the signal mask (Foundation's
        // Process leaves SIGTERM blocked in the new program).
        let out = try FileDescriptor.pipe()
        let devnull = open("/dev/null", O_RDWR)
        defer { close(devnull); out.read.close() }
        let environment = currentEnvironment().filter { !$0.hasPrefix("MITOGEN_PROFILING=") } + ["MITOGEN_PROFILING=1"]
        // Line-buffered, so the first result arrives while the second call runs.
        let pid = try spawnProcess(SpawnRequest(
            executable: "/usr/bin/stdbuf",
            argv: ["stdbuf", "-oL", CommandLineTests.executable.path, "call", "local", "os.getpid()", "time.sleep(30)"],
            environment: environment, stdin: FileDescriptor(rawValue: devnull), stdout: out.write,
            stderr: FileDescriptor(rawValue: devnull)))
        out.write.close()
        let stats = "/tmp/mitogen.stats.\(pid).mitogen.broker.log"
        defer { unlink(stats); kill(pid, SIGKILL); _ = try? waitProcess(pid, block: true) }
        // The first result line (the child's pid) says the second call is running.
        var line: [UInt8] = []
        while let chunk = try? out.read.read(upTo: 1), let byte = chunk.first, byte != 10 { line.append(byte) }
        let childPID = try #require(Int32(String(decoding: line, as: UTF8.self)))
        #expect(processAlive(childPID))
        kill(pid, SIGTERM)
        let status = try waitProcess(pid, block: true)
        #expect(status == .signaled(SIGTERM), "dies of the signal, as without the watcher")
        #expect(access(stats, F_OK) == 0, "the broker's exit work ran")
        #expect(waitUntil(timeout: 5) { !processAlive(childPID) })
    }

    @Test func signalsFireOnContextsBrokersAndAnyObject() throws {
        final class Box: Sendable {
            let events = Mutex<[String]>([])
            func add(_ e: String) { events.withLock { $0.append(e) } }
            var all: [String] { events.withLock { $0 } }
        }
        let seen = Box()
        let broker = Broker(shutdownTimeout: 1, name: "signals.broker", installWatcher: false)
        Signals.listen(broker, "shutdown") { _ in seen.add("broker shutdown") }
        Signals.listen(broker, "exit") { _ in seen.add("broker exit") }
        let router = Router(broker: broker)
        let child = try router.local(name: "signalled")
        Signals.listen(child, "disconnect") { _ in seen.add("context disconnect") }
        let stream = try #require(router.streamByID(child.contextID))
        Signals.listen(stream, "disconnect") { args in seen.add("stream disconnect \(args.count)") }
        let mine = Box()
        let token = Signals.listen(mine, "custom") { args in seen.add("custom \(args.first?.intValue ?? -1)") }
        Signals.fire(mine, "custom", [.int(7)])
        Signals.unlisten(token)
        Signals.fire(mine, "custom", [.int(8)])
        try child.shutdown(wait: true)
        #expect(waitUntil(timeout: 5) { seen.all.contains("context disconnect") })
        broker.shutdown()
        try broker.join(timeout: 5)
        #expect(seen.all == ["custom 7", "stream disconnect 1", "context disconnect", "broker shutdown", "broker exit"])
    }
}
