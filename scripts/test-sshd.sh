#!/bin/sh
# A private sshd on loopback for the tests (DESIGN §8), never the system one.
#
#   scripts/test-sshd.sh start DIR   start it; prints the port
#   scripts/test-sshd.sh stop DIR    stop it (quietly succeeds if not running)
#
# start writes into DIR (created if missing):
#   ssh_host_ed25519_key[.pub]  its host key, made only if DIR has none
#   ssh_host_ecdsa_key[.pub]    a second host key (offered after Ed25519), so a
#                               client must pick the type its known_hosts lists
#   sshd_config                 ListenAddress 127.0.0.1, a free random port
#   known_hosts                 "[127.0.0.1]:PORT ssh-ed25519 ..." for clients
#   port                        the port, one line
#   sshd.pid, sshd.log          pid file and log (LogLevel VERBOSE)
# and returns once the port answers (at most 10 s, else it fails with the
# log's tail). sshd daemonizes, so it holds none of the caller's descriptors.
#
# Users, keys and passwords come from scripts/setup-test-hosts.sh. Run as
# root. Connect with e.g.
#   ssh -i /var/lib/mitogen-test/keys/id_ed25519 \
#       -o UserKnownHostsFile=DIR/known_hosts -p "$(cat DIR/port)" \
#       mitogen-key@127.0.0.1 id
set -eu

usage() { echo "usage: $0 start DIR | stop DIR" >&2; exit 2; }
die() { echo "test-sshd: $*" >&2; exit 1; }

[ $# -eq 2 ] || usage
action=$1
dir=$2

case "$action" in
    start|stop) ;;
    *) usage ;;
esac

mkdir -p "$dir"
dir=$(cd "$dir" && pwd -P)
pidfile=$dir/sshd.pid

running() {
    [ -s "$pidfile" ] || return 1
    pid=$(cat "$pidfile")
    # The pid must still be an sshd started with our config, not a reused pid.
    [ -r "/proc/$pid/cmdline" ] || return 1
    tr '\0' ' ' <"/proc/$pid/cmdline" | grep -qF -- "-f $dir/sshd_config"
}

stop() {
    if running; then
        pid=$(cat "$pidfile")
        kill "$pid" 2>/dev/null || true
        i=0
        while [ -d "/proc/$pid" ] && [ $i -lt 50 ]; do
            sleep 0.1; i=$((i + 1))
        done
        if [ -d "/proc/$pid" ]; then kill -9 "$pid" 2>/dev/null || true; fi
    fi
    rm -f "$pidfile"
}

if [ "$action" = stop ]; then
    stop
    exit 0
fi

[ "$(id -u)" = 0 ] || die "must run as root (sshd needs it to switch users)"
[ -x /usr/sbin/sshd ] || die "/usr/sbin/sshd is missing: run scripts/setup-test-env.sh"

# A second start replaces the first.
stop

# Privilege separation directory: sshd refuses to start without it.
mkdir -p /run/sshd
chmod 0755 /run/sshd

umask 077
hostkey=$dir/ssh_host_ed25519_key
if [ ! -f "$hostkey" ]; then
    rm -f "$hostkey.pub"
    ssh-keygen -q -t ed25519 -N '' -C mitogen-test-sshd -f "$hostkey"
fi
chmod 0600 "$hostkey"
[ -f "$hostkey.pub" ] || ssh-keygen -y -f "$hostkey" >"$hostkey.pub"
ecdsakey=$dir/ssh_host_ecdsa_key
if [ ! -f "$ecdsakey" ]; then
    rm -f "$ecdsakey.pub"
    ssh-keygen -q -t ecdsa -b 256 -N '' -C mitogen-test-sshd -f "$ecdsakey"
fi
chmod 0600 "$ecdsakey"
[ -f "$ecdsakey.pub" ] || ssh-keygen -y -f "$ecdsakey" >"$ecdsakey.pub"

# A random port in 20000..59999 that nothing listens on; sshd may still lose a
# race for it, so start retries with another one.
pick_port() {
    while :; do
        n=$(od -An -N2 -tu2 /dev/urandom | tr -d ' ')
        p=$((20000 + n % 40000))
        if ! ss -Htln "sport = :$p" 2>/dev/null | grep -q .; then
            echo "$p"
            return
        fi
    done
}

write_config() {
    cat >"$dir/sshd_config" <<EOF
# Written by mitogen-swift scripts/test-sshd.sh; rewritten on every start.
ListenAddress 127.0.0.1
Port $1
HostKey $hostkey
HostKey $ecdsakey
PidFile $pidfile
AuthorizedKeysFile .ssh/authorized_keys .ssh/authorized_keys2
PubkeyAuthentication yes
PasswordAuthentication yes
KbdInteractiveAuthentication yes
PermitEmptyPasswords no
UsePAM yes
PermitRootLogin yes
StrictModes yes
MaxStartups 300:30:400
MaxSessions 300
MaxAuthTries 6
LoginGraceTime 30
LogLevel VERBOSE
UseDNS no
PrintMotd no
PrintLastLog no
X11Forwarding no
AcceptEnv LANG LC_*
Subsystem sftp /usr/lib/openssh/sftp-server
EOF
    chmod 0644 "$dir/sshd_config"
}

log=$dir/sshd.log
attempt=0
while :; do
    attempt=$((attempt + 1))
    port=$(pick_port)
    write_config "$port"
    /usr/sbin/sshd -t -f "$dir/sshd_config" || die "sshd -t rejects $dir/sshd_config"
    : >"$log"
    /usr/sbin/sshd -f "$dir/sshd_config" -E "$log" || { tail -n 20 "$log" >&2; die "sshd failed to start"; }

    # Wait (at most 10 s by the clock) until the port speaks SSH.
    deadline=$(($(date +%s) + 10))
    up=
    while [ "$(date +%s)" -le "$deadline" ]; do
        if ssh-keyscan -T 1 -t ed25519 -p "$port" 127.0.0.1 2>/dev/null | grep -q ssh-ed25519; then
            up=1; break
        fi
        if grep -q "Cannot bind any address" "$log" 2>/dev/null; then
            break
        fi
        sleep 0.1
    done
    if [ -n "$up" ] && running; then
        break
    fi
    if grep -q "Cannot bind any address" "$log" 2>/dev/null && [ $attempt -lt 5 ]; then
        stop
        continue
    fi
    stop
    echo "test-sshd: sshd did not answer on 127.0.0.1:$port within 10 s; $log ends:" >&2
    tail -n 20 "$log" >&2
    exit 1
done

printf '[127.0.0.1]:%s %s\n' "$port" "$(cut -d' ' -f1,2 "$hostkey.pub")" >"$dir/known_hosts"
echo "$port" >"$dir/port"
chmod 0644 "$dir/known_hosts" "$dir/port" "$hostkey.pub" "$ecdsakey.pub"
echo "$port"
