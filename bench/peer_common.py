"""Helpers shared by the Python peers of bench/compare (master side only)."""
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
