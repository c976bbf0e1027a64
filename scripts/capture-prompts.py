#!/usr/bin/env python3
"""Records what sudo, su, doas and ssh print on this machine when asked for a
password, for a right and a wrong one, with LC_ALL=C: the texts the prompt
engine (DESIGN §6) must recognise. Writes JSON (a list of transcripts) to
stdout or --out.

Needs root, scripts/setup-test-hosts.sh, and for ssh a running
scripts/test-sshd.sh (pass its DIR with --sshd-dir; ssh cases are skipped
without it).

Each case runs its command the way Mitogen does for that method: on a new
session whose controlling terminal is a fresh PTY (stderr on it too), stdin and
stdout a socketpair ("hybrid", sudo/doas/ssh) or all on the PTY ("tty", su).
Whenever the PTY output so far ends in a prompt, the harness types the next
answer; a case with no answers left stops answering and waits for the exit.
"""
import argparse
import json
import os
import pty
import pwd
import re
import select
import signal
import socket
import sys
import termios
import time

PROMPT_RE = re.compile(
    rb'(?i)(password[^\n]*:|passphrase[^\n]*:|mitogen-sudo-prompt:|'
    rb'\(yes/no(?:/\[fingerprint\])?\)\?)\s*\Z'
)


def run(argv, user=None, answers=(), mode='hybrid', stdin_data=b'', timeout=20.0):
    master, slave = pty.openpty()
    # Mitogen turns echo off on the PTY before the tool runs (disable_echo).
    attr = termios.tcgetattr(slave)
    attr[3] &= ~termios.ECHO
    termios.tcsetattr(slave, termios.TCSANOW, attr)
    if mode == 'hybrid':
        parent_sock, child_sock = socket.socketpair()
    env = {
        'LC_ALL': 'C', 'LANG': 'C', 'TERM': 'dumb',
        'PATH': '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
    }
    if user:
        pw = pwd.getpwnam(user)
        env.update(HOME=pw.pw_dir, USER=user, LOGNAME=user, SHELL=pw.pw_shell)
    else:
        env.update(HOME='/root', USER='root', LOGNAME='root', SHELL='/bin/sh')
    t0 = time.monotonic()
    pid = os.fork()
    if pid == 0:
        try:
            os.setsid()
            os.close(master)
            fd = os.open(os.ttyname(slave), os.O_RDWR)  # becomes the ctty
            os.close(fd)
            if mode == 'hybrid':
                os.dup2(child_sock.fileno(), 0)
                os.dup2(child_sock.fileno(), 1)
            else:
                os.dup2(slave, 0)
                os.dup2(slave, 1)
            os.dup2(slave, 2)
            if user:
                os.initgroups(user, pw.pw_gid)
                os.setgid(pw.pw_gid)
                os.setuid(pw.pw_uid)
                os.chdir(pw.pw_dir)
            os.execvpe(argv[0], argv, env)
        except BaseException as e:
            os.write(2, ('exec failed: %r\n' % (e,)).encode())
        os._exit(127)
    os.close(slave)
    if mode == 'hybrid':
        child_sock.close()
        if stdin_data:
            parent_sock.sendall(stdin_data)
        parent_sock.shutdown(socket.SHUT_WR)
    answers = list(answers)
    events = []
    tty_buf = b''
    since_prompt = b''
    stdout = b''
    fds = [master] + ([parent_sock.fileno()] if mode == 'hybrid' else [])
    deadline = t0 + timeout
    while fds and time.monotonic() < deadline:
        r, _, _ = select.select(fds, [], [], 0.2)
        for fd in r:
            try:
                data = os.read(fd, 65536)
            except OSError:
                data = b''
            if not data:
                fds.remove(fd)
                continue
            if fd == master:
                tty_buf += data
                since_prompt += data
                events.append({'t': round(time.monotonic() - t0, 2), 'tty': data.decode('utf-8', 'replace')})
                if PROMPT_RE.search(since_prompt):
                    since_prompt = b''
                    if answers:
                        a = answers.pop(0)
                        os.write(master, a.encode() + b'\n')
                        events.append({'t': round(time.monotonic() - t0, 2), 'typed': a})
            else:
                stdout += data
        if not r:
            done, status = os.waitpid(pid, os.WNOHANG)
            if done:
                pid = None
                # drain what is left
                for fd in list(fds):
                    try:
                        while select.select([fd], [], [], 0.05)[0]:
                            data = os.read(fd, 65536)
                            if not data:
                                break
                            if fd == master:
                                tty_buf += data
                                events.append({'t': round(time.monotonic() - t0, 2), 'tty': data.decode('utf-8', 'replace')})
                            else:
                                stdout += data
                    except OSError:
                        pass
                break
    if pid is not None:
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass
        _, status = os.waitpid(pid, 0)
        events.append({'t': round(time.monotonic() - t0, 2), 'note': 'timed out, killed'})
    os.close(master)
    if mode == 'hybrid':
        parent_sock.close()
    rc = os.waitstatus_to_exitcode(status)
    out = stdout if mode == 'hybrid' else b''
    return {
        'argv': argv, 'user': user or 'root', 'mode': mode, 'exit': rc,
        'seconds': round(time.monotonic() - t0, 2),
        'tty': tty_buf.decode('utf-8', 'replace'),
        'stdout': out.decode('utf-8', 'replace'),
        'events': events,
    }


def cases(sshd_dir):
    keys = '/var/lib/mitogen-test/keys'
    sudo = ['sudo', '-p', 'mitogen-sudo-prompt:', '-u', 'root', '--', 'id', '-u']
    yield 'sudo right', dict(argv=sudo, user='mitogen-alice', answers=['alice-secret'])
    yield 'sudo wrong', dict(argv=sudo, user='mitogen-alice', answers=['nope'] * 3)
    yield 'sudo wrong then none', dict(argv=sudo, user='mitogen-alice', answers=['nope'], timeout=6)
    yield 'sudo default prompt', dict(argv=['sudo', 'id', '-u'], user='mitogen-alice', answers=['alice-secret'])
    yield 'sudo nopasswd', dict(argv=sudo, user='mitogen-bob')
    yield 'sudo not in sudoers', dict(argv=sudo, user='mitogen-pw', answers=['mitogen-pw-secret'])
    yield 'sudo binary stdin via use_pty', dict(
        argv=['sudo', '-p', 'mitogen-sudo-prompt:', '-u', 'root', '--', 'sh', '-c', 'od -An -tx1 | head -1'],
        user='mitogen-alice', answers=['alice-secret'], stdin_data=bytes(range(0, 16)))
    su = ['su', 'mitogen-bob', '-c', 'id -un']
    yield 'su right', dict(argv=su, user='mitogen-alice', answers=['bob-secret'], mode='tty')
    yield 'su wrong', dict(argv=su, user='mitogen-alice', answers=['nope'], mode='tty')
    yield 'su from root', dict(argv=su, mode='tty')
    doas = ['doas', '-u', 'root', '--', 'id', '-u']
    yield 'doas right', dict(argv=doas, user='mitogen-alice', answers=['alice-secret'])
    yield 'doas wrong', dict(argv=doas, user='mitogen-alice', answers=['nope'])
    yield 'doas nopass', dict(argv=doas, user='mitogen-bob')
    yield 'doas not permitted', dict(argv=doas, user='mitogen-pw', answers=['mitogen-pw-secret'])
    yield 'sudo -n needs password', dict(argv=['sudo', '-n', 'id', '-u'], user='mitogen-alice')
    yield 'doas -n needs password', dict(argv=['doas', '-n', 'id', '-u'], user='mitogen-alice')
    if not sshd_dir:
        return
    port = open(os.path.join(sshd_dir, 'port')).read().strip()
    kh = os.path.join(sshd_dir, 'known_hosts')
    base = ['ssh', '-o', 'LogLevel ERROR', '-p', port, '-o', 'IdentitiesOnly yes',
            '-o', 'Compression yes', '-o', 'ServerAliveInterval 15', '-o', 'ServerAliveCountMax 3',
            '-o', 'StrictHostKeyChecking yes', '-o', 'UserKnownHostsFile ' + kh]
    pw = base[:1] + ['-l', 'mitogen-pw'] + base[1:]
    yield 'ssh password right (keyboard-interactive)', dict(argv=pw + ['127.0.0.1', 'id', '-un'], answers=['mitogen-pw-secret'])
    yield 'ssh password wrong (keyboard-interactive)', dict(argv=pw + ['127.0.0.1', 'id', '-un'], answers=['nope'] * 6, timeout=40)
    pwo = pw + ['-o', 'PreferredAuthentications password']
    yield 'ssh password right (password method)', dict(argv=pwo + ['127.0.0.1', 'id', '-un'], answers=['mitogen-pw-secret'])
    yield 'ssh password wrong (password method)', dict(argv=pwo + ['127.0.0.1', 'id', '-un'], answers=['nope'] * 3, timeout=30)
    yield 'ssh password wrong once then right', dict(argv=pwo + ['127.0.0.1', 'id', '-un'], answers=['nope', 'mitogen-pw-secret'], timeout=30)
    yield 'ssh key, BatchMode, no password', dict(argv=pw + ['-o', 'BatchMode yes', '127.0.0.1', 'id', '-un'])
    yield 'ssh passphrase right', dict(argv=base + ['-l', 'mitogen-key', '-i', keys + '/id_ed25519_pp', '127.0.0.1', 'id', '-un'], answers=['pp-secret'])
    yield 'ssh passphrase wrong', dict(argv=base + ['-l', 'mitogen-key', '-i', keys + '/id_ed25519_pp', '-o', 'NumberOfPasswordPrompts 1', '127.0.0.1', 'id', '-un'], answers=['nope'] * 3)
    unknown = ['ssh', '-o', 'LogLevel ERROR', '-p', port, '-l', 'mitogen-key', '-i', keys + '/id_ed25519',
               '-o', 'UserKnownHostsFile /dev/null', '-o', 'GlobalKnownHostsFile /dev/null']
    yield 'ssh unknown host, accept (StrictHostKeyChecking ask)', dict(argv=unknown + ['-o', 'StrictHostKeyChecking ask', '127.0.0.1', 'id', '-un'], answers=['yes'])
    yield 'ssh unknown host, enforce', dict(argv=unknown + ['-o', 'StrictHostKeyChecking yes', '-o', 'BatchMode yes', '127.0.0.1', 'id', '-un'])
    bad = '/tmp/mitogen-capture-bad-known-hosts'
    with open(bad, 'w') as f:
        f.write('[127.0.0.1]:%s ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl\n' % port)
    yield 'ssh host key mismatch, enforce', dict(argv=['ssh', '-o', 'LogLevel ERROR', '-p', port, '-l', 'mitogen-key', '-i', keys + '/id_ed25519', '-o', 'UserKnownHostsFile ' + bad, '-o', 'StrictHostKeyChecking yes', '-o', 'BatchMode yes', '127.0.0.1', 'id', '-un'])
    yield 'ssh host key mismatch, default LogLevel', dict(argv=['ssh', '-p', port, '-l', 'mitogen-key', '-i', keys + '/id_ed25519', '-o', 'UserKnownHostsFile ' + bad, '-o', 'StrictHostKeyChecking yes', '-o', 'BatchMode yes', '127.0.0.1', 'id', '-un'])


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    ap.add_argument('--sshd-dir')
    ap.add_argument('--out')
    ap.add_argument('--only', help='run cases whose name contains this')
    args = ap.parse_args()
    if os.getuid() != 0:
        sys.exit('capture-prompts: must run as root')
    results = []
    for name, kw in cases(args.sshd_dir):
        if args.only and args.only not in name:
            continue
        r = run(**kw)
        r = dict(case=name, **r)
        results.append(r)
        print('%-50s exit=%-3s %5.2fs %r' % (name, r['exit'], r['seconds'], r['tty']), file=sys.stderr)
    text = json.dumps(results, indent=1) + '\n'
    if args.out:
        with open(args.out, 'w') as f:
            f.write(text)
    else:
        sys.stdout.write(text)


if __name__ == '__main__':
    main()
