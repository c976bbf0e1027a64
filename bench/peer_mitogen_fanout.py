#!/usr/bin/env python3
"""Python Mitogen's side of the wide fan-out figures (mitogen-bench's FanOutBench.swift).

  peer_mitogen_fanout.py --ssh-dir=DIR [--quick]

Opens 200 (20 with --quick) ssh contexts on the sshd that scripts/test-sshd.sh
runs in DIR, from 20 caller threads as mitogen-bench does, calls os.getpid in
each, and prints one JSON object: ssh_fanout_s, the master's peak RSS (VmHWM, reset
first) in total and per host above its baseline, its descriptors and threads
with every context open, the ssh client processes and their RSS, and the
target side's CPU (the sshd listener's reaped children), like mitogen-bench.
"""
import json
import os
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from peer_common import parse_ssh_args, ssh_trust_args  # noqa: E402

CALLERS = 20
PYTHON = '/usr/bin/python3'


def status_kib(field, pid='self'):
    with open('/proc/%s/status' % pid) as f:
        for line in f:
            if line.startswith(field):
                return int(line.split()[1])
    return 0


def reaped_children_cpu(pid):
    with open('/proc/%d/stat' % pid) as f:
        fields = f.read().rsplit(')', 1)[1].split()
    return (int(fields[13]) + int(fields[14])) / os.sysconf('SC_CLK_TCK')


def ssh_children():
    me, found = os.getpid(), []
    for name in os.listdir('/proc'):
        if not name.isdigit():
            continue
        try:
            with open('/proc/%s/stat' % name) as f:
                text = f.read()
        except OSError:
            continue
        comm = text[text.index('(') + 1:text.rindex(')')]
        if comm == 'ssh' and int(text.rsplit(')', 1)[1].split()[1]) == me:
            found.append(int(name))
    return found


def main(argv):
    import mitogen.master
    import mitogen.utils
    ssh = parse_ssh_args(argv)
    if not ssh:
        sys.stderr.write('peer_mitogen_fanout: needs --ssh-dir=DIR\n')
        return 2
    hosts = 20 if '--quick' in argv else 200
    listener = None
    for arg in argv:
        if arg.startswith('--ssh-dir='):
            with open(os.path.join(arg.split('=', 1)[1], 'sshd.pid')) as f:
                listener = int(f.read().strip())
    out = {'ssh_fanout_hosts': hosts}
    cpu_before = reaped_children_cpu(listener) if listener else 0
    broker = mitogen.master.Broker()
    router = mitogen.master.Router(broker)

    def connect():
        return router.ssh(hostname=ssh['host'], port=ssh['port'], username=ssh['user'], identity_file=ssh['key'],
                          ssh_args=ssh_trust_args(ssh), python_path=PYTHON, connect_timeout=120)
    try:
        connect().shutdown(wait=True)
        with open('/proc/self/clear_refs', 'w') as f:
            f.write('5')
        base_rss = status_kib('VmRSS:')
        base_fds = len(os.listdir('/proc/self/fd'))
        contexts, failures, lock = [], [], threading.Lock()
        counter = iter(range(hosts))

        def caller():
            while True:
                with lock:
                    if next(counter, None) is None:
                        return
                try:
                    c = connect()
                    with lock:
                        contexts.append(c)
                except Exception as e:  # noqa: BLE001 - reported, not hidden
                    with lock:
                        failures.append(repr(e))
        t0 = time.perf_counter()
        threads = [threading.Thread(target=caller) for _ in range(CALLERS)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        if failures:
            raise RuntimeError('%d of %d connects failed: %s' % (len(failures), hosts, failures[0]))
        receivers = [c.call_async(os.getpid) for c in contexts]
        for r in receivers:
            r.get().unpickle()
        out['ssh_fanout_s'] = time.perf_counter() - t0
        clients = ssh_children()
        hwm = status_kib('VmHWM:')
        out['ssh_fanout_rss_peak_mib'] = hwm / 1024.0
        out['ssh_fanout_rss_per_host_kib'] = (hwm - base_rss) / float(hosts)
        out['ssh_fanout_fds'] = len(os.listdir('/proc/self/fd')) - base_fds
        out['ssh_fanout_threads'] = len(os.listdir('/proc/self/task'))
        out['ssh_fanout_client_processes'] = len(clients)
        out['ssh_fanout_client_rss_mib'] = sum(status_kib('VmRSS:', pid) for pid in clients) / 1024.0
        for c in contexts:
            c.shutdown()  # broker.shutdown() below waits for them
    except Exception as e:  # noqa: BLE001 - the JSON carries it
        out['ssh_fanout_error'] = repr(e)
    finally:
        broker.shutdown()
        broker.join()
    if listener:
        cpu = reaped_children_cpu(listener) - cpu_before
        for _ in range(30):
            time.sleep(0.1)
            now = reaped_children_cpu(listener) - cpu_before
            if now == cpu:
                break
            cpu = now
        out['ssh_fanout_target_cpu_s'] = cpu
    print(json.dumps(out))
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
