/// The `default` theme, compiled in so start-up never depends on finding
/// `themes/`. A test keeps it equal to `themes/default.theme`.
enum BuiltinTheme {
    static let text = #"""
# mitogen-tui default theme: 16-colour safe, terminal background kept.
# Format: role[@DEPTH] = FG [on BG] [bold|dim|reverse|underline|italic]
# DEPTH is truecolor, 256, 16, 8 or mono; colours fall back from #rrggbb to
# 256 to 16 to 8 colours; at mono only attributes are used.
name = default
base = default on default
border = blue
border.focus = bright-cyan bold
title = bright-white bold
header = black on cyan
header@mono = reverse bold
selection = black on cyan
selection@mono = reverse
selection.unfocused = black on white
selection.unfocused@mono = underline
mark = yellow bold
fbar.key = bright-white on blue bold
fbar.key@mono = bold
fbar.label = black on cyan
fbar.label@mono = reverse
status = default
status.error = bright-red bold
state.connecting = yellow
state.connected = green
state.failed = bright-red bold
state.failed@mono = bold underline
state.shutting_down = magenta
state.gone = white dim
state.new = bright-green bold
tree.guide = blue
rate.in = cyan
rate.out = magenta
spark = green
log.debug = white dim
log.info = default
log.warning = yellow bold
log.error = bright-red bold
pending.ok = default
pending.slow = yellow bold
pending.stuck = bright-white on red bold
pending.stuck@mono = reverse bold
dialog = black on white
dialog@mono = reverse
dialog.danger = bright-white on red bold
dialog.danger@mono = reverse bold
input = bright-white bold
match = black on yellow
match@mono = underline
dim = white dim
"""#
}
