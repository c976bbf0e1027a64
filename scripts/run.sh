#!/bin/sh
# The quick start: installs what is missing (Debian packages, as root),
# builds, and shows the system working against a real local context.
# Until the ncurses console lands (issue 7), this runs the headless
# `mitogen-tui call` against a freshly started local context.
set -eu
cd "$(dirname "$0")/.."
need=""
for pkg in libncurses-dev xz-utils; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || need="$need $pkg"
done
if [ -n "$need" ]; then
    [ "$(id -u)" = 0 ] || { echo "run.sh: missing Debian packages:$need (run as root)" >&2; exit 1; }
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $need >/dev/null
fi
swift build -c release --product mitogen-child
swift build -c release --product mitogen-tui
bin=.build/release/mitogen-tui
if [ $# -gt 0 ]; then exec "$bin" "$@"; fi
echo "== a local context answers calls (mitogen-tui call local ...)"
"$bin" call local 'os.getpid()' 'socket.gethostname()' 'platform.uname()' \
    'subprocess.check_output(["id", "-un"])' 'shutil.disk_usage("/")' 'mitogen.functions()'
echo "== the same through the fork server, as JSON"
"$bin" call --json fork 'os.getpid()' 'os.listdir("/")'
