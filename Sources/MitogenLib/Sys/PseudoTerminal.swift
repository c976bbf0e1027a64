import CMitogenSys
import Glibc

/// A pseudo-terminal pair, for connection methods that answer password
/// prompts (`sudo`, `su`, `ssh` with a password): the program gets the slave
/// as its controlling terminal, the Broker reads and writes the master.
///
/// Both descriptors are `O_CLOEXEC | O_NOCTTY`; the owner closes both (the
/// parent usually closes the slave right after spawning).
package struct PseudoTerminal: Sendable {
    package let master: FileDescriptor
    package let slave: FileDescriptor
    /// The slave's device, e.g. `/dev/pts/3`.
    package let slavePath: String

    /// Opens a new pair: `posix_openpt`, `grantpt`, `unlockpt`, `ptsname_r`,
    /// then `open` of the slave (in C, `mitogen_open_pty`).
    /// - Throws: `SystemError("open pseudo-terminal", errno)`; nothing stays open.
    package static func open() throws(SystemError) -> PseudoTerminal {
        var master: Int32 = -1
        var slave: Int32 = -1
        var name = [CChar](repeating: 0, count: 128)
        let err = mitogen_open_pty(&master, &slave, &name, name.count)
        guard err == 0 else { throw SystemError("open pseudo-terminal", errno: err) }
        let path = name.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
        return PseudoTerminal(master: FileDescriptor(rawValue: master), slave: FileDescriptor(rawValue: slave), slavePath: path)
    }

    /// Puts the slave in raw mode like `cfmakeraw`: no echo, no line
    /// editing, no signals from keys, no CR/LF translation, 8-bit bytes, so
    /// the message protocol passes through unchanged.
    /// - Throws: `SystemError("tcsetattr <slavePath>", errno)`.
    package func setRaw() throws(SystemError) {
        try updateAttributes { cfmakeraw(&$0) }
    }

    /// Turns echo off on the slave (`ECHO`, `ECHONL` cleared), so a typed
    /// password is not read back from the master.
    /// - Throws: `SystemError("tcsetattr <slavePath>", errno)`.
    package func disableEcho() throws(SystemError) {
        try updateAttributes { $0.c_lflag &= ~tcflag_t(ECHO | ECHOE | ECHOK | ECHONL) }
    }

    /// Closes both ends.
    package func close() {
        master.close()
        slave.close()
    }

    /// `tcgetattr`, change, `tcsetattr(TCSANOW)` on the slave.
    private func updateAttributes(_ change: (inout termios) -> Void) throws(SystemError) {
        var attributes = termios()
        _ = try systemCall("tcgetattr \(slavePath)") { tcgetattr(slave.rawValue, &attributes) }
        change(&attributes)
        _ = try systemCall("tcsetattr \(slavePath)") { tcsetattr(slave.rawValue, TCSANOW, &attributes) }
    }
}
