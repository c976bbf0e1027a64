#!/bin/sh
# The quick start: installs what is missing (Debian packages, as root),
# builds, and opens the operations console with a local context connected.
# Arguments go to mitogen-tui: `scripts/run.sh call local 'os.getpid()'`
# runs the headless call command instead, `scripts/run.sh 'local -> fork'`
# opens the console with that chain connected too.
set -eu
cd "$(dirname "$0")/.."
need=""
for pkg in libncurses-dev libssh2-1-dev xz-utils tmux; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || need="$need $pkg"
done
if [ -n "$need" ]; then
    [ "$(id -u)" = 0 ] || { echo "run.sh: missing Debian packages:$need (run as root)" >&2; exit 1; }
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $need >/dev/null
fi
swift build -c release --product mitogen-child
swift build -c release --product mitogen-tui
bin=.build/release/mitogen-tui
exec "$bin" "$@"
