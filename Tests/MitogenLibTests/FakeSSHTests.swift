import Glibc
import Testing
import TestSupport
import MitogenLib
@testable import MitogenSys
@testable import MitogenWire
@testable import MitogenCore
@testable import MitogenCalls
@testable import MitogenMaster
@testable import MitogenChild

/// fakessh: a local program whose `ssh` runs its commands in a context.
@Suite(.serialized) struct FakeSSHTests {
    @Test func sshOptionsAndHostAreDroppedFromTheCommand() {
        #expect(FakeSSH.remoteCommand(["host", "rsync", "--server", "."]) == "rsync --server .")
        #expect(FakeSSH.remoteCommand(["-p", "22", "-l", "u", "-vvT", "host", "ls", "-l"]) == "ls -l")
        #expect(FakeSSH.remoteCommand(["-p22", "-oBatchMode=yes", "host", "true"]) == "true")
        #expect(FakeSSH.remoteCommand(["-x", "-o", "A=B", "--", "host", "echo", "a b"]) == "echo a b")
    }

    @Test func rsyncMovesADirectoryThroughAContext() throws {
        try withTestRouter { router in
            let dest = try router.local(name: "rsync-target")
            let src = makeTempDirectory("fakessh-src")
            let dst = makeTempDirectory("fakessh-dst")
            defer { _ = system("rm -rf '\(src)' '\(dst)'") }
            #expect(system("mkdir -p '\(src)/sub' && echo hello > '\(src)/a.txt' && head -c 300000 /dev/urandom > '\(src)/sub/blob.bin' && ln -s a.txt '\(src)/link'") == 0)
            let status = try FakeSSH.run(
                dest: dest, router: router, args: ["rsync", "-a", "-e", "ssh", src + "/", "anyhost:" + dst + "/"], deadline: 60)
            #expect(status == 0)
            #expect(system("diff -r '\(src)' '\(dst)' && test -L '\(dst)/link'") == 0)
        }
    }

    @Test func stdinStdoutAndExitStatusCrossTheTunnel() throws {
        try withTestRouter { router in
            let dest = try router.local()
            let destPid = try dest.callValue("os.getpid").intValue!
            let out = makeTempDirectory("fakessh-out")
            defer { _ = system("rm -rf '\(out)'") }
            // The remote side's parent is the context: proof the command ran there.
            let script = "printf 'abc' | ssh h 'cat; echo; echo $PPID' > '\(out)/o'; ssh h 'echo err >&2; exit 7'"
            let status = try FakeSSH.run(dest: dest, router: router, args: ["/bin/sh", "-c", script], deadline: 30)
            #expect(status == 7)
            let text = String(decoding: try readWholeFile(out + "/o"), as: UTF8.self)
            let lines = text.split(separator: "\n")
            #expect(lines.first == "abc")
            // The remote shell's parent is the context's process.
            #expect(lines.count == 2 && Int(lines[1]) == destPid)
        }
    }

    @Test func theProgramReadsTheStdinTheCallerGives() throws {
        try withTestRouter { router in
            let dest = try router.local()
            let out = makeTempDirectory("fakessh-stdin")
            defer { _ = system("rm -rf '\(out)'") }
            let input = try FileDescriptor.pipe()
            try input.write.writeAll(Array("from the caller\n".utf8))
            input.write.close()
            defer { input.read.close() }
            let status = try FakeSSH.run(
                dest: dest, router: router, args: ["/bin/sh", "-c", "ssh h 'cat > \(out)/got'"], deadline: 30,
                stdin: input.read.rawValue)
            #expect(status == 0)
            #expect(String(decoding: try readWholeFile(out + "/got"), as: UTF8.self) == "from the caller\n")
            // nil: /dev/null, nothing read.
            #expect(try FakeSSH.run(dest: dest, router: router, args: ["/bin/sh", "-c", "ssh h 'cat > \(out)/none'"], deadline: 30, stdin: nil) == 0)
            #expect(try readWholeFile(out + "/none").isEmpty)
        }
    }
}
