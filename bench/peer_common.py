"""Helpers shared by the Python peers of bench/compare (master side only)."""
import os
import sys


def rss_kb(pid):
    """VmRSS of `pid` in KiB, read from /proc, or 0 when it cannot be read."""
    try:
        with open('/proc/%d/status' % pid) as f:
            for line in f:
                if line.startswith('VmRSS:'):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def percentile99(sorted_values):
    """The same index mitogen-bench uses: min(n - 1, n * 99 // 100)."""
    n = len(sorted_values)
    return sorted_values[min(n - 1, n * 99 // 100)]


def make_log(name):
    """A function writing `<name>: <msg>` lines to stderr."""
    def log(msg):
        sys.stderr.write('%s: %s\n' % (name, msg))
        sys.stderr.flush()
    return log


def parse_args(argv):
    """(quick, via_reps) from the peers' command line."""
    quick = '--quick' in argv
    via_reps = 0
    for arg in argv:
        if arg.startswith('--via-reps='):
            via_reps = int(arg.split('=', 1)[1])
    return quick, via_reps


TEST_KEY = '/var/lib/mitogen-test/keys/id_ed25519'
CLASSIC_KEX = 'curve25519-sha256'


def parse_ssh_args(argv):
    """The sshd of the remote section, as mitogen-bench takes it, or None.

    --ssh-dir=DIR (a scripts/test-sshd.sh directory: its port and known_hosts)
    or --ssh-port=N, with --ssh-host=H (127.0.0.1), --ssh-user=U (mitogen-key),
    --ssh-key=PATH (the test key), --ssh-known-hosts=PATH and
    --sudo-via-user=U (mitogen-bob; empty skips the sudo figure).
    """
    opts = {}
    for arg in argv:
        if arg.startswith('--ssh-') or arg.startswith('--sudo-via-user='):
            name, _, value = arg[2:].partition('=')
            opts[name] = value
    ssh = {
        'host': opts.get('ssh-host', '127.0.0.1'),
        'port': int(opts['ssh-port']) if opts.get('ssh-port') else None,
        'user': opts.get('ssh-user', 'mitogen-key'),
        'key': opts.get('ssh-key', TEST_KEY),
        'known_hosts': opts.get('ssh-known-hosts'),
        'sudo_via': opts.get('sudo-via-user', 'mitogen-bob') or None,
    }
    if opts.get('ssh-dir'):
        with open(os.path.join(opts['ssh-dir'], 'port')) as f:
            ssh['port'] = ssh['port'] or int(f.read().strip())
        ssh['known_hosts'] = ssh['known_hosts'] or os.path.join(opts['ssh-dir'], 'known_hosts')
    return ssh if ssh['port'] else None


def ssh_trust_args(ssh):
    """The -o options that make ssh trust the sshd through its known_hosts file only."""
    if not ssh['known_hosts']:
        return []
    return ['-o', 'UserKnownHostsFile=' + ssh['known_hosts'], '-o', 'GlobalKnownHostsFile=/dev/null']


class PeerBench(object):
    """Sizes and repetitions shared with mitogen-bench, and the failure-tolerant
    step runner; each peer subclasses it with its own workloads."""

    def __init__(self, quick, via_reps, log):
        self.quick = quick
        self.log = log
        self.out = {'quick': quick}
        self.boot_reps = 3 if quick else 30
        self.call_reps = 200 if quick else 20000
        self.via_reps = via_reps if via_reps else (200 if quick else 20000)
        self.stream_total = (16 << 20) if quick else (256 << 20)
        self.stream_reps = 1 if quick else 3
        self.fan = 5 if quick else 50
        self.select_reps = 3 if quick else 20
        self.ssh_reps = 3 if quick else 20

    def step(self, key, fn, *args):
        """Run one workload; on failure record `<key>_error` and carry on."""
        import time
        import traceback
        t0 = time.perf_counter()
        try:
            fn(*args)
        except Exception as e:
            self.out[key + '_error'] = '%s: %s' % (type(e).__name__, e)
            self.log('%s failed: %s' % (key, traceback.format_exc()))
        self.log('%s done in %.1f s' % (key, time.perf_counter() - t0))
