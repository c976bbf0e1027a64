#!/bin/sh
# Sets up the real parts the connection-method tests run against (DESIGN §8):
# test users, an ssh client key pair, sudo and doas rules, and a busybox-only
# root filesystem with an ssh stand-in that runs commands inside it.
# Tests/MitogenMasterTests/Fixtures/README.md describes what it makes.
#
# Run as root. Idempotent: every step checks before it changes anything, so it
# is safe to run again and again (scripts/setup-test-env.sh calls it).
#
#   users       mitogen-key    key auth only (random password nobody knows)
#               mitogen-pw     password mitogen-pw-secret
#               mitogen-alice  password alice-secret  (sudo/doas WITH password)
#               mitogen-bob    password bob-secret    (sudo/doas NOPASSWD)
#   keys        /var/lib/mitogen-test/keys/id_ed25519     (no passphrase)
#               /var/lib/mitogen-test/keys/id_ed25519_pp  (passphrase pp-secret)
#               both authorized for mitogen-key, -alice, -bob and root
#   sudo        /etc/sudoers.d/mitogen-test
#   doas        /etc/doas.conf (our lines are added, others are kept)
#   busybox     /var/lib/mitogen-test/busybox-root/  and  .../busybox-ssh
set -eu

BASE=/var/lib/mitogen-test
KEYS=$BASE/keys
BBROOT=$BASE/busybox-root
BBSSH=$BASE/busybox-ssh

say() { echo "setup-test-hosts: $*"; }
die() { echo "setup-test-hosts: $*" >&2; exit 1; }

[ "$(id -u)" = 0 ] || die "must run as root"

# --- packages ----------------------------------------------------------------
need=""
for pkg in busybox-static openssh-server openssh-client sudo opendoas util-linux passwd; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || need="$need $pkg"
done
if [ -n "$need" ]; then
    say "installing$need"
    # A fresh image has no package lists: update only if apt cannot see them.
    for pkg in $need; do
        if ! apt-cache show "$pkg" >/dev/null 2>&1; then
            apt-get update -qq
            break
        fi
    done
    # shellcheck disable=SC2086 # one word per package
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $need >/dev/null
fi

# --- users -------------------------------------------------------------------
# Plain /bin/sh login shells and home directories. Passwords via chpasswd; a
# real hash (never "*" or "!") so no sshd/PAM configuration sees them locked.
ensure_user() {
    if ! getent passwd "$1" >/dev/null; then
        useradd --create-home --shell /bin/sh --user-group "$1"
        say "created user $1"
    fi
    home=$(getent passwd "$1" | cut -d: -f6)
    [ -d "$home" ] || { mkdir -p "$home"; chown "$1:" "$home"; }
    # StrictModes yes: the home must not be writable by group or others.
    chmod go-w "$home"
    [ "$(getent passwd "$1" | cut -d: -f7)" = /bin/sh ] || usermod --shell /bin/sh "$1"
}

# Sets the password only if it does not already verify (keeps the hash, and
# the salt, stable across runs).
set_password() {
    hash=$(getent shadow "$1" | cut -d: -f2)
    case "$hash" in
        '$'*)
            salt=${hash%\$*}
            if [ "$(printf '%s' "$2" | crypt_with "$salt")" = "$hash" ]; then
                return 0
            fi
            ;;
    esac
    printf '%s:%s\n' "$1" "$2" | chpasswd
    say "set password of $1"
}

# crypt(3) of stdin with the given "$id$[rounds$]salt" prefix, via Perl
# (perl-base is Essential on Debian, so it is always there). Prints nothing if
# the platform's crypt cannot do it, and the caller then just resets it.
crypt_with() {
    perl -e 'my $p = <STDIN>; my $c = crypt($p, $ARGV[0]); print $c if defined $c' "$1" 2>/dev/null || true
}

for u in mitogen-key mitogen-pw mitogen-alice mitogen-bob; do
    ensure_user "$u"
done
set_password mitogen-pw mitogen-pw-secret
set_password mitogen-alice alice-secret
set_password mitogen-bob bob-secret
# mitogen-key logs in by key only: give it a random password nobody knows, but
# only when it has none yet (a "!" / "*" hash from useradd).
case "$(getent shadow mitogen-key | cut -d: -f2)" in
    '$'*) ;;
    *)
        pw=$(od -An -N18 -tx1 /dev/urandom | tr -d ' \n')
        printf 'mitogen-key:%s\n' "$pw" | chpasswd
        say "set a random password for mitogen-key"
        ;;
esac
# Clear any expiry/"must change" state a previous tool may have left.
for u in mitogen-key mitogen-pw mitogen-alice mitogen-bob; do
    chage -E -1 -M -1 "$u" 2>/dev/null || true
    usermod -U "$u" 2>/dev/null || true
done

# --- client keys -------------------------------------------------------------
mkdir -p "$KEYS"
chmod 0755 "$BASE" "$KEYS"
if [ ! -f "$KEYS/id_ed25519" ]; then
    rm -f "$KEYS/id_ed25519.pub"
    ssh-keygen -q -t ed25519 -N '' -C mitogen-test-key -f "$KEYS/id_ed25519"
    say "made $KEYS/id_ed25519"
fi
if [ ! -f "$KEYS/id_ed25519_pp" ]; then
    rm -f "$KEYS/id_ed25519_pp.pub"
    ssh-keygen -q -t ed25519 -N pp-secret -C mitogen-test-key-pp -f "$KEYS/id_ed25519_pp"
    say "made $KEYS/id_ed25519_pp"
fi
# ssh refuses a private key its owner's group or others can read. Owned by
# root: the tests run as root.
chown root:root "$KEYS"/id_ed25519 "$KEYS"/id_ed25519_pp "$KEYS"/*.pub
chmod 0600 "$KEYS/id_ed25519" "$KEYS/id_ed25519_pp"
chmod 0644 "$KEYS/id_ed25519.pub" "$KEYS/id_ed25519_pp.pub"

authorize() {
    home=$(getent passwd "$1" | cut -d: -f6)
    group=$(id -gn "$1")
    mkdir -p "$home/.ssh"
    chown "$1:$group" "$home/.ssh"
    chmod 0700 "$home/.ssh"
    ak="$home/.ssh/authorized_keys"
    touch "$ak"
    for pub in "$KEYS/id_ed25519.pub" "$KEYS/id_ed25519_pp.pub"; do
        line=$(cat "$pub")
        grep -qxF "$line" "$ak" || { printf '%s\n' "$line" >>"$ak"; say "authorized $(basename "$pub") for $1"; }
    done
    chown "$1:$group" "$ak"
    chmod 0600 "$ak"
}
for u in mitogen-key mitogen-alice mitogen-bob root; do
    authorize "$u"
done

# --- sudo --------------------------------------------------------------------
# Debian 12's /etc/sudoers has "Defaults use_pty": sudo runs the command on a
# new PTY when it has a terminal, but relays a stdin/stdout that are pipes or
# sockets through pipes, byte for byte, so the hybrid-PTY layout (ctty and
# stderr on a PTY, stdin/stdout a socketpair) still carries binary frames. We
# leave it as it is. requiretty is not set by Debian; we say so explicitly.
# timestamp_timeout=0: alice is asked for her password every time, so a
# wrong-password test never hits a cached credential.
SUDOERS=/etc/sudoers.d/mitogen-test
tmp=$(mktemp)
cat >"$tmp" <<'EOF'
# Written by mitogen-swift scripts/setup-test-hosts.sh; rewritten on every run.
Defaults:mitogen-alice, mitogen-bob !requiretty
Defaults:mitogen-alice timestamp_timeout=0
mitogen-alice ALL=(ALL:ALL) ALL
mitogen-bob ALL=(ALL:ALL) NOPASSWD: ALL
EOF
if ! cmp -s "$tmp" "$SUDOERS" 2>/dev/null; then
    visudo -cqf "$tmp" >/dev/null || { rm -f "$tmp"; die "generated sudoers rules do not validate"; }
    install -o root -g root -m 0440 "$tmp" "$SUDOERS"
    say "wrote $SUDOERS"
fi
rm -f "$tmp"
chown root:root "$SUDOERS"
chmod 0440 "$SUDOERS"
visudo -cq >/dev/null || die "sudoers does not validate (visudo -c)"

# --- doas --------------------------------------------------------------------
# No "persist": alice is asked every time. opendoas refuses a doas.conf that
# is not owned by root or is writable by group or others.
DOAS=/etc/doas.conf
[ -f "$DOAS" ] || { : >"$DOAS"; say "created $DOAS"; }
for rule in 'permit mitogen-alice' 'permit nopass mitogen-bob' 'permit nopass root'; do
    grep -qxF "$rule" "$DOAS" || { printf '%s\n' "$rule" >>"$DOAS"; say "added '$rule' to $DOAS"; }
done
chown root:root "$DOAS"
chmod 0600 "$DOAS"
# doas.conf must end in a newline or opendoas rejects the last rule.
[ -z "$(tail -c1 "$DOAS")" ] || echo >>"$DOAS"
if command -v doas >/dev/null; then
    doas -C "$DOAS" || die "$DOAS does not parse (doas -C)"
fi

# --- busybox root ------------------------------------------------------------
# A root filesystem with nothing but a static busybox: no libc, no python, no
# coreutils. The child must run there from its static binary alone.
BUSYBOX=/bin/busybox
[ -x "$BUSYBOX" ] || BUSYBOX=/usr/bin/busybox
file_static() { ! LC_ALL=C ldd "$1" >/dev/null 2>&1; }
file_static "$BUSYBOX" || die "$BUSYBOX is dynamically linked; busybox-static must provide it"
mkdir -p "$BBROOT/bin" "$BBROOT/proc" "$BBROOT/dev" "$BBROOT/tmp" "$BBROOT/root"
chmod 0755 "$BBROOT" "$BBROOT/bin" "$BBROOT/proc" "$BBROOT/dev"
chmod 1777 "$BBROOT/tmp"
chmod 0700 "$BBROOT/root"
if ! cmp -s "$BUSYBOX" "$BBROOT/bin/busybox"; then
    install -m 0755 "$BUSYBOX" "$BBROOT/bin/busybox"
    say "installed $BBROOT/bin/busybox"
fi
for applet in $("$BBROOT/bin/busybox" --list); do
    case "$applet" in busybox|*/*|'') continue ;; esac
    [ "$(readlink "$BBROOT/bin/$applet" 2>/dev/null)" = busybox ] || ln -sfn busybox "$BBROOT/bin/$applet"
done

tmp=$(mktemp)
cat >"$tmp" <<'EOF'
#!/bin/sh
# ssh stand-in for the busybox-only root (written by setup-test-hosts.sh).
# Takes OpenSSH's argv: options (with or without argument, bundled or not,
# also after HOST unless "--" ends them), HOST, then the remote command words,
# joined with spaces as ssh does, run by /bin/sh -c inside
# /var/lib/mitogen-test/busybox-root: private mount namespace, /proc mounted,
# /dev bind-mounted, chroot, cwd /root. stdin, stdout and stderr pass through
# untouched: no process stays in between. Needs root. Exits 255 on its own
# errors, as ssh does.
set -eu
ROOT=/var/lib/mitogen-test/busybox-root
# OpenSSH 9.2's getopt string: letters followed by ":" take an argument.
WITHARG=bcDEeFIiJLlmOoPpQRSWw
NOARG=1246AaCfGgKkMNnqsTtVvXxYy

host=
cmd=
ended=
bad() { echo "busybox-ssh: $*" >&2; exit 255; }

# Parses options at the front of "$@"; sets $shift_count.
parse_opts() {
    shift_count=0
    while [ $# -gt 0 ]; do
        a=$1
        case "$a" in
            --) ended=1; shift; shift_count=$((shift_count + 1)); return ;;
            -?*) ;;
            *) return ;;
        esac
        shift; shift_count=$((shift_count + 1))
        rest=${a#-}
        while [ -n "$rest" ]; do
            c=${rest%"${rest#?}"}
            rest=${rest#?}
            case "$WITHARG" in
                *"$c"*)
                    if [ -z "$rest" ]; then
                        [ $# -gt 0 ] || bad "option requires an argument -- $c"
                        shift; shift_count=$((shift_count + 1))
                    fi
                    rest=
                    ;;
                *)
                    case "$NOARG" in
                        *"$c"*) ;;
                        *) bad "unknown option -- $c" ;;
                    esac
                    ;;
            esac
        done
    done
}

parse_opts "$@"; shift "$shift_count"
[ $# -gt 0 ] || bad "usage: busybox-ssh [options] host [command]"
host=$1; shift
if [ -z "$ended" ]; then
    parse_opts "$@"; shift "$shift_count"
fi
cmd="$*"
[ -n "$cmd" ] || bad "no remote command for $host (interactive login is not supported)"
[ "$(id -u)" = 0 ] || bad "must run as root (it mounts and chroots)"
[ -x "$ROOT/bin/busybox" ] || bad "$ROOT is missing: run scripts/setup-test-hosts.sh"

# shellcheck disable=SC2016 # expanded by the inner shell
exec /usr/bin/unshare --mount --propagation private /bin/sh -c '
    set -e
    mount -t proc proc "$1/proc"
    mount --rbind /dev "$1/dev"
    exec /usr/bin/env -i PATH=/bin HOME=/root USER=root LOGNAME=root SHELL=/bin/sh \
        ${TERM:+TERM="$TERM"} ${LANG:+LANG="$LANG"} \
        /usr/sbin/chroot "$1" /bin/sh -c "cd /root && exec /bin/sh -c \"\$1\"" sh "$2"
' busybox-ssh "$ROOT" "$cmd"
EOF
if ! cmp -s "$tmp" "$BBSSH"; then
    install -m 0755 "$tmp" "$BBSSH"
    say "wrote $BBSSH"
fi
rm -f "$tmp"

say "ok"
