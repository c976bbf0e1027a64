#!/usr/bin/env python3
"""Python Mitogen's side of bench/fleet_fanout.sh: one router.ssh() per host
and an os.getpid call on each, from a pool of --forks threads (as an operator
would write it), over the hosts named on the command line.

  peer_mitogen_fleet.py --key=FILE --known-hosts=FILE [--forks=50] HOST...

Prints how many hosts answered; exits 1 if any failed.
"""
import concurrent.futures
import os
import sys

import mitogen.master
import mitogen.utils


def main(argv):
    opts = dict(a.split('=', 1) for a in argv if a.startswith('--'))
    hosts = [a for a in argv if not a.startswith('--')]
    key, known = opts['--key'], opts['--known-hosts']
    forks = int(opts.get('--forks', '50'))

    broker = mitogen.master.Broker()
    router = mitogen.master.Router(broker)
    try:
        def one(host):
            context = router.ssh(
                hostname=host, username='mitogen-key', identity_file=key,
                ssh_args=['-o', 'UserKnownHostsFile=' + known, '-o', 'GlobalKnownHostsFile=/dev/null'],
                connect_timeout=60, python_path='/usr/bin/python3')
            return context.call(os.getpid)
        with concurrent.futures.ThreadPoolExecutor(forks) as pool:
            results = list(pool.map(one, hosts))
        print('%d/%d answered' % (len(results), len(hosts)))
        return 0 if len(results) == len(hosts) else 1
    finally:
        broker.shutdown()
        broker.join()


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
