#!/usr/bin/env python3
"""Python Mitogen's side of the comparison: the workloads of `mitogen-bench`.

Runs with a venv holding mitogen==0.3.54 and prints one JSON object on stdout
whose keys are named like mitogen-bench's (bootstrap_local_ms, call_rtt_us_median,
throughput_MBps, ...). The sizes and repetitions are the ones mitogen-bench uses
(see REPS below); `--quick` shrinks them the way `mitogen-bench --quick` does.

With --ssh-dir=DIR (or --ssh-port=N ...; see peer_common.parse_ssh_args) it
runs only the remote section instead: ssh and sudo-through-ssh bootstraps and
call round trips over ssh, mitogen-bench's ssh_* and sudo_* figures. Run in a
process of its own, its first ssh() is the first connection of the process.
The targets run /usr/bin/python3 (the venv's interpreter may be unreadable
to the target users).

Each workload runs on its own: one that fails records "<key>_error" with the
exception text and the rest still run. Progress goes to stderr.

The functions the children run live in this file above the `__main__` guard:
Mitogen serves `__main__`'s source cut at that guard to the children.
"""

import json
import os
import statistics
import sys
import time
import traceback

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from peer_common import (  # noqa: E402
    CLASSIC_KEX, PeerBench, make_log, parse_args, parse_ssh_args, percentile99, rss_kb, ssh_trust_args)

CHUNK = 128 * 1024


def echo(x):
    """The trivial function of the call RTT figure (mitogen-bench calls mitogen.echo)."""
    return x


def stream_zeros(sender, total):
    """Send `total` bytes of /dev/zero as 128 KiB Blobs through `sender`, then close it.

    The counterpart of mitogen-bench's `files.get("/dev/zero", sender, total)`.
    """
    import mitogen.core
    sent = 0
    with open('/dev/zero', 'rb', buffering=0) as f:
        while sent < total:
            data = f.read(min(CHUNK, total - sent))
            sender.send(mitogen.core.Blob(data))
            sent += len(data)
    sender.close()
    return sent


log = make_log('peer_mitogen')



class Bench(PeerBench):
    def __init__(self, quick, via_reps):
        PeerBench.__init__(self, quick, via_reps, log)

    def run(self, router):
        import mitogen
        self.out['mitogen_version'] = '.'.join(str(n) for n in mitogen.__version__)
        self.out['python_version'] = sys.version.split()[0]
        self.step('bootstrap_local', self.bootstrap_local, router)
        self.step('bootstrap_fork', self.bootstrap_fork, router)
        child = None
        try:
            child = router.local()
        except Exception as e:
            self.out['child_error'] = '%s: %s' % (type(e).__name__, e)
        if child is not None:
            self.pid = child.call(os.getpid)
            self.out['child_rss_idle_kb'] = rss_kb(self.pid)
            self.step('call_rtt', self.call_rtt, child)
            self.step('throughput', self.throughput, router, child)
            self.out['child_rss_after_stream_kb'] = rss_kb(self.pid)
            child.shutdown(wait=True)
        self.step('fanout', self.fanout_and_select, router)
        self.step('via3', self.via3, router)
        return self.out

    def bootstrap_local(self, router):
        t = time.perf_counter()
        c = router.local()
        self.out['bootstrap_local_cold_ms'] = (time.perf_counter() - t) * 1000
        c.shutdown(wait=True)
        boots = []
        for _ in range(self.boot_reps):
            t = time.perf_counter()
            c = router.local()
            boots.append((time.perf_counter() - t) * 1000)
            c.shutdown(wait=True)
        self.out['bootstrap_local_ms'] = statistics.median(boots)
        self.out['bootstrap_local_reps'] = self.boot_reps

    def bootstrap_fork(self, router):
        forks = []
        for _ in range(self.boot_reps):
            t = time.perf_counter()
            c = router.fork()
            forks.append((time.perf_counter() - t) * 1000)
            c.shutdown(wait=True)
        self.out['bootstrap_fork_ms'] = statistics.median(forks)

    def rtt(self, context, reps):
        """Sorted round trips in microseconds of `reps` calls of echo(None), after 100 warm-up calls."""
        for _ in range(100):
            context.call(echo, None)
        rtts = []
        for _ in range(reps):
            t = time.perf_counter()
            context.call(echo, None)
            rtts.append((time.perf_counter() - t) * 1e6)
        rtts.sort()
        return rtts

    def call_rtt(self, child):
        rtts = self.rtt(child, self.call_reps)
        self.out['call_rtt_us_median'] = statistics.median(rtts)
        self.out['call_rtt_us_p99'] = percentile99(rtts)
        self.out['call_rtt_reps'] = self.call_reps

    def throughput(self, router, child):
        import mitogen.core
        rates = []
        for _ in range(self.stream_reps):
            recv = mitogen.core.Receiver(router)
            t = time.perf_counter()
            call = child.call_async(stream_zeros, recv.to_sender(), self.stream_total)
            got = 0
            while True:
                try:
                    msg = recv.get(timeout=120)
                except mitogen.core.ChannelError:
                    break
                got += len(msg.unpickle())
            call.get(timeout=120).unpickle()
            rates.append(got / (time.perf_counter() - t) / 1e6)
            recv.close()
            if got != self.stream_total:
                raise RuntimeError('streamed %d bytes, expected %d' % (got, self.stream_total))
        self.out['throughput_MBps'] = statistics.median(rates)
        self.out['throughput_bytes'] = self.stream_total

    def fanout_and_select(self, router):
        import mitogen.select
        t = time.perf_counter()
        many = [router.local() for _ in range(self.fan)]
        for c in many:
            c.call(os.getpid)
        self.out['fanout%d_s' % self.fan] = time.perf_counter() - t
        selects = []
        try:
            for _ in range(self.select_reps):
                t = time.perf_counter()
                mitogen.select.Select.all([c.call_async(os.getpid) for c in many])
                selects.append((time.perf_counter() - t) * 1000)
            self.out['select%d_ms' % self.fan] = statistics.median(selects)
            self.out['select_reps'] = self.select_reps
        finally:
            for c in many:
                c.shutdown()

    def via3(self, router):
        a = router.local()
        b = router.local(via=a)
        c = router.local(via=b)
        rtts = self.rtt(c, self.via_reps)
        self.out['via3_call_rtt_us'] = statistics.median(rtts)
        self.out['via3_call_rtt_us_p99'] = percentile99(rtts)
        self.out['via3_call_rtt_reps'] = self.via_reps
        c.shutdown(wait=True)
        b.shutdown(wait=True)
        a.shutdown(wait=True)


class RemoteBench(PeerBench):
    """The remote section: the same workloads as mitogen-bench's RemoteBench.swift."""

    PYTHON = '/usr/bin/python3'

    def __init__(self, quick, ssh):
        PeerBench.__init__(self, quick, 0, log)
        self.ssh = ssh

    def connect(self, router, user=None, extra=()):
        ssh = self.ssh
        return router.ssh(hostname=ssh['host'], port=ssh['port'], username=user or ssh['user'],
                          identity_file=ssh['key'], ssh_args=ssh_trust_args(ssh) + list(extra),
                          python_path=self.PYTHON, connect_timeout=30)

    def timed_connect(self, router, extra=()):
        t = time.perf_counter()
        c = self.connect(router, extra=extra)
        ms = (time.perf_counter() - t) * 1000
        c.shutdown(wait=True)
        return ms

    def run(self, router):
        import mitogen
        self.out['mitogen_version'] = '.'.join(str(n) for n in mitogen.__version__)
        self.out['python_version'] = sys.version.split()[0]
        self.out['remote_python'] = self.PYTHON
        self.step('ssh_bootstrap', self.ssh_bootstrap, router)
        self.step('ssh_call_rtt', self.ssh_call_rtt, router)
        if self.ssh['sudo_via']:
            self.step('sudo_bootstrap', self.sudo_bootstrap, router)
        return self.out

    def ssh_bootstrap(self, router):
        # Mitogen keeps nothing on the target: its first ssh() in the process is its cold start.
        self.out['ssh_bootstrap_cold_ms'] = self.timed_connect(router)
        reps = self.ssh_reps
        self.out['ssh_bootstrap_ms'] = statistics.median(self.timed_connect(router) for _ in range(reps))
        kex = ['-o', 'KexAlgorithms=' + CLASSIC_KEX]
        self.out['ssh_bootstrap_curve25519_ms'] = statistics.median(
            self.timed_connect(router, kex) for _ in range(reps))
        self.out['ssh_bootstrap_reps'] = reps

    def ssh_call_rtt(self, router):
        import platform
        c = self.connect(router)
        try:
            self.out['remote_python_version'] = c.call(platform.python_version)
            for _ in range(100):
                c.call(os.getpid)
            rtts = []
            for _ in range(self.call_reps):
                t = time.perf_counter()
                c.call(os.getpid)
                rtts.append((time.perf_counter() - t) * 1e6)
            rtts.sort()
            self.out['ssh_call_rtt_us_median'] = statistics.median(rtts)
            self.out['ssh_call_rtt_us_p99'] = percentile99(rtts)
            self.out['ssh_call_rtt_reps'] = self.call_reps
        finally:
            c.shutdown(wait=True)

    def sudo_bootstrap(self, router):
        hop = self.connect(router, user=self.ssh['sudo_via'])
        try:
            # One untimed sudo first, as mitogen-bench does.
            router.sudo(via=hop, python_path=self.PYTHON, connect_timeout=30).shutdown(wait=True)
            boots = []
            for _ in range(self.ssh_reps):
                t = time.perf_counter()
                c = router.sudo(via=hop, python_path=self.PYTHON, connect_timeout=30)
                boots.append((time.perf_counter() - t) * 1000)
                c.shutdown(wait=True)
            self.out['sudo_bootstrap_ms'] = statistics.median(boots)
            self.out['sudo_bootstrap_reps'] = self.ssh_reps
        finally:
            hop.shutdown(wait=True)


def main(argv):
    quick, via_reps = parse_args(argv)
    ssh = parse_ssh_args(argv)
    import mitogen.utils
    bench = RemoteBench(quick, ssh) if ssh else Bench(quick, via_reps)
    out = mitogen.utils.run_with_router(bench.run)
    print(json.dumps(out, indent=2))


if __name__ == '__main__':
    main(sys.argv[1:])
