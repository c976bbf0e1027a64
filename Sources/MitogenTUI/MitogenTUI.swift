import ArgumentParser

/// `mitogen-tui`: the operations console, and its headless `call` command.
@main
struct MitogenTUI: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "mitogen-tui",
        abstract: "Mitogen for Swift: reach contexts through chains of hops and call functions in them.",
        discussion: """
            Chains are hops joined by '->', nearest first (DESIGN §10):
              local
              local -> local?name=inner
              fork
            A hop is method[:target][?key=value&...] with the seed's parameter names.
            """,
        subcommands: [ConsoleMain.self, CallCommand.self],
        defaultSubcommand: ConsoleMain.self
    )
}
