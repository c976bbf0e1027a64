#!/bin/sh
# Installs what the tests need and is missing: Debian packages (as root), a
# Python venv at .venv with Mitogen 0.3.54 and execnet 2.1.2 (the test
# oracles), and, as root, the test hosts: users, keys, sudo and doas rules
# and a busybox-only root (scripts/setup-test-hosts.sh).
# Safe to run again: it only adds what is absent.
set -eu
cd "$(dirname "$0")/.."

need=""
for pkg in libncurses-dev libssh2-1-dev openssh-server openssh-client sudo opendoas busybox-static rsync tmux xz-utils zstd gzip procps util-linux iproute2; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || need="$need $pkg"
done
if [ -n "$need" ]; then
    if [ "$(id -u)" != 0 ]; then
        echo "setup-test-env: missing Debian packages:$need (run as root, or install them)" >&2
        exit 1
    fi
    echo "setup-test-env: installing$need"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $need >/dev/null
fi

if ! .venv/bin/python -c 'import mitogen, execnet; assert mitogen.__version__ == (0, 3, 54)' 2>/dev/null; then
    echo "setup-test-env: creating .venv with mitogen==0.3.54 execnet==2.1.2"
    python3 -m venv .venv
    .venv/bin/pip install -q mitogen==0.3.54 execnet==2.1.2
fi

if [ "$(id -u)" = 0 ]; then
    sh scripts/setup-test-hosts.sh
else
    echo "setup-test-env: not root: the connection tests (ssh, sudo, su, doas) will be skipped" >&2
fi
