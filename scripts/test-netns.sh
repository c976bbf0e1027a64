#!/bin/sh
# Real hosts for the fleet tests: network namespaces on one bridge, each with
# its own address and its own sshd (DESIGN §8).
#
#   scripts/test-netns.sh start DIR [N]   make (or reuse) N hosts (default 22); prints N
#   scripts/test-netns.sh stop DIR        remove them all (quietly succeeds if none)
#
# Host i (01..N) is namespace mtgfleet-i with eth0 = 10.77.0.(10+i)/24, its
# veth peer mtgfv-i on bridge mtgfleet0 (10.77.0.1/24 here), and an sshd on
# port 22 of that address. start writes into DIR:
#   ssh_host_ed25519_key[.pub]  the host key every host's sshd uses
#   known_hosts                 "10.77.0.* ssh-ed25519 ..."
#   ssh_config                  Host fleetNN -> 10.77.0.(10+i), user mitogen-key
#                               with the test key, the known_hosts above
#   hosts                       the names fleet01..fleetNN, one a line
#   sshd-NN.pid, sshd-NN.log    per host
# start is idempotent and quick when everything is up: a host whose
# namespace, link or sshd is missing (or whose link is down, or whose sshd is
# stopped) is repaired. Users and keys come from scripts/setup-test-hosts.sh.
# Run as root.
set -eu

usage() { echo "usage: $0 start DIR [N] | stop DIR" >&2; exit 2; }
die() { echo "test-netns: $*" >&2; exit 1; }

[ $# -ge 2 ] || usage
action=$1
dir=$2
count=${3:-22}
bridge=mtgfleet0
key=/var/lib/mitogen-test/keys/id_ed25519

name() { printf 'mtgfleet-%02d' "$1"; }
veth() { printf 'mtgfv-%02d' "$1"; }
addr() { echo "10.77.0.$((10 + $1))"; }

sshd_alive() {
    pidfile=$dir/sshd-$(printf %02d "$1").pid
    [ -s "$pidfile" ] || return 1
    pid=$(cat "$pidfile")
    [ -r "/proc/$pid/cmdline" ] && tr '\0' ' ' <"/proc/$pid/cmdline" | grep -qF -- "-f $dir/sshd_config-"
}

stop_all() {
    for pidfile in "$dir"/sshd-*.pid; do
        [ -s "$pidfile" ] || continue
        pid=$(cat "$pidfile")
        if [ -r "/proc/$pid/cmdline" ] && tr '\0' ' ' <"/proc/$pid/cmdline" | grep -qF -- "-f $dir/sshd_config-"; then
            kill -CONT "$pid" 2>/dev/null || true
            kill "$pid" 2>/dev/null || true
        fi
        rm -f "$pidfile"
    done
    for ns in $(ip netns list | awk '/^mtgfleet-/ {print $1}'); do ip netns del "$ns"; done
    ip link del "$bridge" 2>/dev/null || true
}

case "$action" in
    stop)
        mkdir -p "$dir"
        dir=$(cd "$dir" && pwd -P)
        stop_all
        exit 0
        ;;
    start) ;;
    *) usage ;;
esac

[ "$(id -u)" = 0 ] || die "must run as root (namespaces and sshd need it)"
[ -x /usr/sbin/sshd ] || die "/usr/sbin/sshd is missing: run scripts/setup-test-env.sh"
[ -r "$key" ] || die "$key is missing: run scripts/setup-test-hosts.sh"
case "$count" in ''|*[!0-9]*) die "N must be a number 1-200" ;; esac
[ "$count" -ge 1 ] && [ "$count" -le 200 ] || die "N must be a number 1-200"
mkdir -p "$dir" /run/sshd
chmod 0755 /run/sshd
dir=$(cd "$dir" && pwd -P)

umask 077
hostkey=$dir/ssh_host_ed25519_key
[ -f "$hostkey" ] || ssh-keygen -q -t ed25519 -N '' -C mitogen-test-fleet -f "$hostkey"
[ -f "$hostkey.pub" ] || ssh-keygen -y -f "$hostkey" >"$hostkey.pub"

if ! ip link show "$bridge" >/dev/null 2>&1; then
    ip link add "$bridge" type bridge
    ip addr add 10.77.0.1/24 dev "$bridge"
fi
ip link set "$bridge" up
# A test's black hole (a permanent neighbour entry) goes with the repair.
ip neigh flush dev "$bridge" nud permanent 2>/dev/null || true

: >"$dir/hosts.new"
{
    echo "# Written by mitogen-swift scripts/test-netns.sh."
} >"$dir/ssh_config.new"
i=1
while [ "$i" -le "$count" ]; do
    ns=$(name "$i")
    v=$(veth "$i")
    a=$(addr "$i")
    nn=$(printf %02d "$i")
    if ! ip netns list | grep -q "^$ns\b"; then
        ip netns add "$ns"
    fi
    if ! ip link show "$v" >/dev/null 2>&1; then
        ip link add "$v" type veth peer name eth0 netns "$ns"
        ip link set "$v" master "$bridge"
        ip -n "$ns" addr add "$a/24" dev eth0
        ip -n "$ns" link set lo up
        ip -n "$ns" link set eth0 up
    fi
    ip link set "$v" up
    if ! sshd_alive "$i"; then
        # Whatever still runs in the namespace (an sshd of an older DIR) goes.
        ip netns pids "$ns" | xargs -r kill -9 2>/dev/null || true
        cat >"$dir/sshd_config-$nn" <<EOF
ListenAddress $a
Port 22
HostKey $hostkey
PidFile $dir/sshd-$nn.pid
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM yes
StrictModes yes
MaxStartups 300:30:400
LogLevel ERROR
UseDNS no
PrintMotd no
PrintLastLog no
X11Forwarding no
EOF
        chmod 0644 "$dir/sshd_config-$nn"
        ip netns exec "$ns" /usr/sbin/sshd -f "$dir/sshd_config-$nn" -E "$dir/sshd-$nn.log" \
            || die "sshd for $ns failed to start: $(tail -n 5 "$dir/sshd-$nn.log")"
    else
        # A host stopped by a test is stopped no more.
        kill -CONT "$(cat "$dir/sshd-$nn.pid")" 2>/dev/null || true
    fi
    echo "fleet$nn" >>"$dir/hosts.new"
    printf 'Host fleet%s\n    HostName %s\n' "$nn" "$a" >>"$dir/ssh_config.new"
    i=$((i + 1))
done
cat >>"$dir/ssh_config.new" <<EOF
Host fleet* 10.77.0.*
    User mitogen-key
    IdentityFile $key
    IdentitiesOnly yes
    UserKnownHostsFile $dir/known_hosts
    GlobalKnownHostsFile /dev/null
    StrictHostKeyChecking yes
EOF
printf '10.77.0.* %s\n' "$(cut -d' ' -f1,2 "$hostkey.pub")" >"$dir/known_hosts"
mv "$dir/hosts.new" "$dir/hosts"
mv "$dir/ssh_config.new" "$dir/ssh_config"
chmod 0644 "$dir/known_hosts" "$dir/hosts" "$dir/ssh_config" "$hostkey.pub"

# Every sshd answers within 10 s, or start fails naming the host.
deadline=$(($(date +%s) + 10))
i=1
while [ "$i" -le "$count" ]; do
    if ip netns exec "$(name "$i")" ss -Htln "sport = :22" 2>/dev/null | grep -q .; then
        i=$((i + 1))
        continue
    fi
    [ "$(date +%s)" -le "$deadline" ] || die "sshd of $(name "$i") does not listen on $(addr "$i"):22 after 10 s"
    sleep 0.05
done
echo "$count"
