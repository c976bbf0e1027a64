#!/usr/bin/env python3
"""execnet's side of the comparison: the workloads of `mitogen-bench` where execnet has an equivalent.

Runs with a venv holding execnet==2.1.2 and prints one JSON object on stdout whose
keys are named like mitogen-bench's. Same sizes and repetitions as mitogen-bench
(`--quick` shrinks them the same way). The equivalents:

- bootstrap: `makegateway("popen")` (it returns once the child has acknowledged
  its bootstrap); there is no fork gateway, so no bootstrap_fork_ms.
- call RTT: one round trip of None over a channel whose remote side echoes what
  it receives (execnet's idiomatic RPC loop); `remote_exec_rtt_us_*` also gives
  the cost of one `remote_exec` of a one-line source per call, the closest thing
  to a Mitogen call of a fresh function.
- throughput: the child reads /dev/zero in 128 KiB chunks and sends each as bytes
  on a channel, then None.
- fan-out: 50 popen gateways, one `remote_exec` of getpid each; select: one round
  of `remote_exec` over the 50 gathered with `MultiChannel.receive_each()`.
- via3: popen -> popen//via -> popen//via, echo channel on the last one.

Each workload runs on its own: one that fails records "<key>_error" and the rest
still run. Progress goes to stderr.
"""

import json
import os
import statistics
import sys
import time
import traceback

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from peer_common import PeerBench, make_log, parse_args, percentile99, rss_kb  # noqa: E402

ECHO = """
while True:
    item = channel.receive()
    channel.send(item)
"""

GETPID = "import os; channel.send(os.getpid())"

STREAM = """
total = channel.receive()
sent = 0
with open('/dev/zero', 'rb', buffering=0) as f:
    while sent < total:
        data = f.read(min(131072, total - sent))
        channel.send(data)
        sent += len(data)
channel.send(None)
"""


log = make_log('peer_execnet')



class Bench(PeerBench):
    def __init__(self, quick, via_reps):
        import execnet
        self.execnet = execnet
        PeerBench.__init__(self, quick, via_reps, log)
        self.out.update({'execnet_version': execnet.__version__, 'python_version': sys.version.split()[0]})

    def run(self):
        self.step('bootstrap_local', self.bootstrap_local)
        group = self.execnet.Group()
        try:
            gw = group.makegateway('popen')
            pid = gw.remote_exec(GETPID).receive()
            self.out['child_rss_idle_kb'] = rss_kb(pid)
            self.step('call_rtt', self.call_rtt, gw)
            self.step('remote_exec_rtt', self.remote_exec_rtt, gw)
            self.step('throughput', self.throughput, gw)
            self.out['child_rss_after_stream_kb'] = rss_kb(pid)
        except Exception as e:
            self.out['child_error'] = '%s: %s' % (type(e).__name__, e)
            log('child failed: %s' % traceback.format_exc())
        finally:
            group.terminate(timeout=10)
        self.step('fanout', self.fanout_and_select)
        self.step('via3', self.via3)
        return self.out

    def bootstrap_local(self):
        boots = []
        for i in range(self.boot_reps + 1):
            group = self.execnet.Group()
            t = time.perf_counter()
            group.makegateway('popen')
            ms = (time.perf_counter() - t) * 1000
            group.terminate(timeout=10)
            if i == 0:
                self.out['bootstrap_local_cold_ms'] = ms
            else:
                boots.append(ms)
        self.out['bootstrap_local_ms'] = statistics.median(boots)
        self.out['bootstrap_local_reps'] = self.boot_reps

    def echo_rtts(self, gw, reps):
        """Sorted round trips in microseconds of None over an echo channel, after 100 warm-up trips."""
        channel = gw.remote_exec(ECHO)
        for _ in range(100):
            channel.send(None)
            channel.receive()
        rtts = []
        for _ in range(reps):
            t = time.perf_counter()
            channel.send(None)
            channel.receive()
            rtts.append((time.perf_counter() - t) * 1e6)
        channel.close()
        rtts.sort()
        return rtts

    def call_rtt(self, gw):
        rtts = self.echo_rtts(gw, self.call_reps)
        self.out['call_rtt_us_median'] = statistics.median(rtts)
        self.out['call_rtt_us_p99'] = percentile99(rtts)
        self.out['call_rtt_reps'] = self.call_reps

    def remote_exec_rtt(self, gw):
        reps = self.call_reps // 10
        for _ in range(20):
            gw.remote_exec("channel.send(None)").receive()
        rtts = []
        for _ in range(reps):
            t = time.perf_counter()
            gw.remote_exec("channel.send(None)").receive()
            rtts.append((time.perf_counter() - t) * 1e6)
        rtts.sort()
        self.out['remote_exec_rtt_us_median'] = statistics.median(rtts)
        self.out['remote_exec_rtt_us_p99'] = percentile99(rtts)
        self.out['remote_exec_rtt_reps'] = reps

    def throughput(self, gw):
        rates = []
        for _ in range(self.stream_reps):
            t = time.perf_counter()
            channel = gw.remote_exec(STREAM)
            channel.send(self.stream_total)
            got = 0
            while True:
                data = channel.receive(timeout=120)
                if data is None:
                    break
                got += len(data)
            channel.waitclose(timeout=120)
            rates.append(got / (time.perf_counter() - t) / 1e6)
            if got != self.stream_total:
                raise RuntimeError('streamed %d bytes, expected %d' % (got, self.stream_total))
        self.out['throughput_MBps'] = statistics.median(rates)
        self.out['throughput_bytes'] = self.stream_total

    def fanout_and_select(self):
        group = self.execnet.Group()
        try:
            t = time.perf_counter()
            many = [group.makegateway('popen') for _ in range(self.fan)]
            for gw in many:
                gw.remote_exec(GETPID).receive()
            self.out['fanout%d_s' % self.fan] = time.perf_counter() - t
            selects = []
            for _ in range(self.select_reps):
                t = time.perf_counter()
                self.execnet.MultiChannel([gw.remote_exec(GETPID) for gw in many]).receive_each()
                selects.append((time.perf_counter() - t) * 1000)
            self.out['select%d_ms' % self.fan] = statistics.median(selects)
            self.out['select_reps'] = self.select_reps
        finally:
            group.terminate(timeout=10)

    def via3(self):
        group = self.execnet.Group()
        try:
            group.makegateway('popen//id=a')
            group.makegateway('popen//via=a//id=b')
            c = group.makegateway('popen//via=b//id=c')
            rtts = self.echo_rtts(c, self.via_reps)
            self.out['via3_call_rtt_us'] = statistics.median(rtts)
            self.out['via3_call_rtt_us_p99'] = percentile99(rtts)
            self.out['via3_call_rtt_reps'] = self.via_reps
        finally:
            group.terminate(timeout=10)


def main(argv):
    quick, via_reps = parse_args(argv)
    print(json.dumps(Bench(quick, via_reps).run(), indent=2))


if __name__ == '__main__':
    main(sys.argv[1:])
