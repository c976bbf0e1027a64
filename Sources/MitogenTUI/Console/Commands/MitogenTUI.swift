import ArgumentParser

/// `mitogen-tui`: the operations console, and its headless `call` command.
@main
struct MitogenTUI: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "mitogen-tui",
        abstract: "Mitogen for Swift: reach contexts through chains of hops and call functions in them.",
        discussion: """
            A chain is hops joined by '->', nearest first. A hop is
            method[:target][?key=value&...] with Mitogen's parameter names;
            a password is never written in clear: password=env:NAME or password=ask.
              local
              local -> local?name=inner
              fork
            """,
        subcommands: [ConsoleMain.self, CallCommand.self],
        defaultSubcommand: ConsoleMain.self
    )
}
