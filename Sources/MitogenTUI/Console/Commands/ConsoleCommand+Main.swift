import ArgumentParser
import Glibc
import MitogenLib
import MitogenSys
import ConsoleModel
import ConsoleRender

/// `mitogen-tui [CHAIN...] [--theme NAME] [--read-only] [-M]`: the live
/// operations console (the default subcommand).
struct ConsoleMain: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "console",
        abstract: "The live console: context tree, stream stats, logs, pending calls; open, call, shut down."
    )

    @Option(help: "Theme name: themes/NAME.theme (default, light, high-contrast, mono, nord).")
    var theme: String?

    @Flag(help: "Hide and refuse every action that changes anything.")
    var readOnly = false

    @Flag(name: [.customShort("M"), .customLong("no-mouse")], help: "Do not capture the mouse (keeps text selection).")
    var noMouse = false

    @Option(help: "Seconds after which a pending call shows as slow.")
    var slowAfter: Double = 5

    @Option(help: "Seconds after which a pending call shows as stuck.")
    var stuckAfter: Double = 30

    @Option(help: "ssh hops without transport=: openssh or libssh2 (default: $MITOGEN_SSH_TRANSPORT, else openssh).")
    var sshTransport: String?

    @Flag(help: .hidden)
    var benchRender = false

    @Flag(help: .hidden)
    var printKeys = false

    @Argument(help: "Chains to connect at start (default: local), e.g. 'local' 'fork'.")
    var chains: [String] = []

    func run() throws {
        if printKeys {
            print(ActionTable.markdown(), terminator: "")
            return
        }
        if benchRender {
            print(RenderBenchmark.run().json)
            return
        }
        var options = App.Options()
        for text in chains {
            do {
                options.chains.append(try ChainSpec.parse(text))
            } catch {
                throw ValidationError("bad chain: \(error)")
            }
        }
        try LibSSH2Transport.register(defaultName: sshTransport)
        options.themeName = theme ?? environmentValue("MITOGEN_TUI_THEME") ?? "default"
        options.readOnly = readOnly
        options.mouse = !noMouse
        options.slowAfter = slowAfter
        options.stuckAfter = max(slowAfter, stuckAfter)
        guard isatty(0) != 0 && isatty(1) != 0 else {
            throw ValidationError("the console needs a terminal; use 'mitogen-tui call' in scripts")
        }

        // Block SIGWINCH while the router starts its threads, so they inherit
        // the block and curses' resize signal always reaches this thread.
        var winch = sigset_t()
        sigemptyset(&winch)
        sigaddset(&winch, SIGWINCH)
        pthread_sigmask(SIG_BLOCK, &winch, nil)
        let redirect = StderrRedirect()
        defer { redirect?.restore() }
        try runWithRouter { router in
            pthread_sigmask(SIG_UNBLOCK, &winch, nil)
            let app = try App(router: router, options: options)
            app.run()
        }
    }
}
