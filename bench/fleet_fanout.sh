#!/bin/sh
# Fan-out over the fleet tests' network-namespace hosts (scripts/test-netns.sh:
# 22 hosts, each its own address and sshd): the time for every host to answer
# one call, CPU (the command and the processes it waited for: ssh clients
# included) and peak RSS (its largest process), median of REPS runs (default 3),
# for `mitogen-tui call` with each ssh transport, Python Mitogen (one
# router.ssh() per host from a 50-thread pool, bench/peer_mitogen_fleet.py)
# and, if it installs from PyPI, `ansible all -m ping -f 50`, in one run.
#
#   bench/fleet_fanout.sh [REPS]      (as root, after scripts/test.sh's setup
#                                      and `swift build -c release --product mitogen-tui --product mitogen-child`)
set -eu
cd "$(dirname "$0")/.."
reps=${1:-3}
dir=/var/lib/mitogen-test/fleet
key=/var/lib/mitogen-test/keys/id_ed25519
count=$(scripts/test-netns.sh start "$dir" 22)
first=11
last=$((10 + count))
hosts=$(seq $first $last | sed 's/^/10.77.0./' | tr '\n' ' ')
tui=.build/release/mitogen-tui
python=${MITOGEN_PYTHON:-.venv/bin/python}
work=$(mktemp -d /tmp/mitogen-fleet-bench.XXXXXX)
trap 'rm -rf "$work"' EXIT
# The test hosts' known_hosts: one wildcard line ("10.77.0.*"), which both
# transports match.
known=$dir/known_hosts
pattern="ssh:mitogen-key@10.77.0.[$first-$last]?identity_file=$key&ssh_args=-o%20UserKnownHostsFile=$known"

# measure NAME CMD...: REPS runs; prints "NAME  median_s  user+sys_s  peak_rss_MiB"
# (medians of each column, from /usr/bin/time; the master's own process and
# its ssh children, as time(1) counts them).
measure() {
    name=$1
    shift
    : >"$work/$name"
    i=0
    while [ $i -lt "$reps" ]; do
        /usr/bin/time -f "%e %U %S %M" -o "$work/t" "$@" >"$work/out" 2>&1 || {
            echo "$name: failed:" >&2
            tail -5 "$work/out" >&2
            return 0
        }
        cat "$work/t" >>"$work/$name"
        i=$((i + 1))
    done
    median() { sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
    elapsed=$(awk '{ print $1 }' "$work/$name" | median)
    cpu=$(awk '{ print $2 + $3 }' "$work/$name" | median)
    rss=$(awk '{ print $4 / 1024 }' "$work/$name" | median)
    printf "%-28s %8.2f s %8.2f s %8.1f MiB\n" "$name" "$elapsed" "$cpu" "$rss"
}

echo "$count hosts, $reps runs each; medians of elapsed, CPU (user+sys, with its ssh children) and peak RSS (largest process)"
measure "mitogen-tui (OpenSSH)" "$tui" call --forks 50 "$pattern" 'os.getpid()'
measure "mitogen-tui (libssh2)" "$tui" call --forks 50 --ssh-transport libssh2 "$pattern" 'os.getpid()'
# shellcheck disable=SC2086
measure "Python Mitogen 0.3.54" "$python" bench/peer_mitogen_fleet.py --key=$key --known-hosts=$known $hosts

if [ ! -x /tmp/mitogen-ansible-venv/bin/ansible ]; then
    python3 -m venv /tmp/mitogen-ansible-venv >/dev/null 2>&1 &&
        /tmp/mitogen-ansible-venv/bin/pip install -q ansible-core >/dev/null 2>&1 || true
fi
if [ -x /tmp/mitogen-ansible-venv/bin/ansible ]; then
    {
        echo "[fleet]"
        for h in $hosts; do echo "$h"; done
        echo "[fleet:vars]"
        echo "ansible_user=mitogen-key"
        echo "ansible_ssh_private_key_file=$key"
        echo "ansible_ssh_common_args=-o UserKnownHostsFile=$known"
        echo "ansible_python_interpreter=/usr/bin/python3"
    } >"$work/inventory"
    measure "ansible -m ping -f 50" /tmp/mitogen-ansible-venv/bin/ansible all -i "$work/inventory" -m ping -f 50
else
    echo "ansible: not installed (pip install ansible-core failed)"
fi
