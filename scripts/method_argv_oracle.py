#!/usr/bin/env python3
"""Asks Mitogen 0.3.54's own connection classes which argv they would spawn.

For each method and a list of parameter sets (defaults, then every parameter
varied at least once) it builds the method's Options and Connection without a
router and without connecting, calls get_boot_command(), and cuts the boot
command (python -c ...) off. Prints JSON, or writes it with --out:

    [{"method": "sudo", "case": "defaults", "params": {...},
      "prefix": ["sudo", "-p", "mitogen-sudo-prompt:", "-u", "root", "--"],
      "boot_joined": false, "boot_form": "argv", "boot_suffix": "",
      "python_argv": ["MITOGEN_SYS_EXECUTABLE"],
      "boot": [... the whole argv, see below ...],
      "name": "sudo.root", "stdio": "hybrid_pty", ...}, ...]

Fields:
  prefix       argv elements before the boot command.
  boot_form    "argv": the boot command follows as separate elements, as is;
               "shlex_quoted": separate elements, each shlex.quote()d except
               "&&" (ssh: the remote shell joins and re-splits them);
               "sh_joined": ONE element, mitogen.parent.Argv-joined (su,
               setns; setns appends boot_suffix "; exit $?").
  boot_joined  true only for "sh_joined" (one argv element).
  python_argv  the interpreter part of the boot command (MITOGEN_SYS_EXECUTABLE
               stands for the master's own interpreter, the default of most
               methods; ssh, lxd, incus and setns default to "python").
  boot         the full argv, with the real "-c" program but placeholders
               MITOGEN_FIRST_STAGE_B64, MITOGEN_REMOTE_NAME,
               MITOGEN_PREAMBLE_LEN for the three arguments after it and
               MITOGEN_SYS_EXECUTABLE for the master's interpreter: shows the
               quoting of the whole thing.
  name         the default context name (Connection._get_name()).
  stdio        how Mitogen spawns it: "pipes" (socketpair, stderr inherited),
               "pipes+stderr_pipe", "merged" (stderr into the socketpair),
               "hybrid_pty" (ctty and stderr on a PTY, stdio a socketpair),
               "tty" (everything on the PTY), "pipes+preexec_setns".
  leader_argv  setns only: the command run first to find the container's
               leader PID.
  error        for parameter sets Mitogen rejects: {"type", "message"}, and
               no prefix.

Run with the project venv (mitogen==0.3.54):
    .venv/bin/python scripts/method_argv_oracle.py \
        --out Tests/MitogenMasterTests/Fixtures/method-argvs.json
"""
import argparse
import importlib
import json
import shlex
import sys

try:
    import mitogen
    import mitogen.core
    import mitogen.parent
except ImportError:
    sys.exit('method_argv_oracle: mitogen is not importable; run it with the '
             'project venv: .venv/bin/python (scripts/setup-test-env.sh makes it)')

EXPECTED_VERSION = (0, 3, 54)

# Placeholders: plain words, so no method's quoting treats them differently
# from the real values (base64, "user@host:pid", a number, a path).
SYS_EXECUTABLE = 'MITOGEN_SYS_EXECUTABLE'
BOOT_TAIL = ['MITOGEN_FIRST_STAGE_B64', 'MITOGEN_REMOTE_NAME', 'MITOGEN_PREAMBLE_LEN']

# The real boot program passed after -c (mitogen/parent.py
# Connection.get_boot_command): used as is, so "boot" shows its real quoting.
BOOT_CODE = (
    'import sys;sys.path=[p for p in sys.path if p];'
    'import binascii,os,select,zlib;'
    'exec(zlib.decompress(binascii.a2b_base64(sys.argv[1]),-15))'
)

# What parent.Connection.get_boot_command() returns while we record. EMPTY:
# return [] so the method's own bits are all that is left (the prefix).
_mode = {'boot': 'placeholder'}


def _fake_base_boot_command(self):
    if _mode['boot'] == 'empty':
        return []
    return self.get_python_argv() + ['-c', BOOT_CODE] + BOOT_TAIL


def _install_patches():
    mitogen.parent.Connection.get_boot_command = _fake_base_boot_command
    # Methods that do not override python_path use the master's interpreter;
    # keep the output independent of where this script runs.
    mitogen.parent.Options.python_path = SYS_EXECUTABLE


# (method, params) in output order. Parameter names are the seed's keyword
# arguments (Router.<method>(**params)).
def parameter_sets():
    S = []

    def add(method, case, **params):
        S.append((method, case, params))

    # --- ssh ---
    h = dict(hostname='web1')
    add('ssh', 'defaults', **h)
    add('ssh', 'username', username='deploy', **h)
    add('ssh', 'port', port=2222, **h)
    add('ssh', 'port 22 (name has no :22)', port=22, **h)
    add('ssh', 'identity_file', identity_file='/keys/id_ed25519', **h)
    add('ssh', 'identity_file, identities_only False', identity_file='/keys/id_ed25519',
        identities_only=False, **h)
    add('ssh', 'identities_only False alone', identities_only=False, **h)
    add('ssh', 'compression False', compression=False, **h)
    add('ssh', 'ssh_debug_level 1', ssh_debug_level=1, **h)
    add('ssh', 'ssh_debug_level 3', ssh_debug_level=3, **h)
    add('ssh', 'ssh_debug_level 5 (capped at 3)', ssh_debug_level=5, **h)
    add('ssh', 'check_host_keys accept', check_host_keys='accept', **h)
    add('ssh', 'check_host_keys ignore', check_host_keys='ignore', **h)
    add('ssh', 'check_host_keys enforce', check_host_keys='enforce', **h)
    add('ssh', 'check_host_keys bad', check_host_keys='sometimes', **h)
    add('ssh', 'password (PTY, no BatchMode, IdentitiesOnly)', password='s3cret', **h)
    add('ssh', 'password, identities_only False', password='s3cret', identities_only=False, **h)
    add('ssh', 'password and accept', password='s3cret', check_host_keys='accept', **h)
    add('ssh', 'keepalive_enabled False', keepalive_enabled=False, **h)
    add('ssh', 'keepalive_interval 30', keepalive_interval=30, **h)
    add('ssh', 'keepalive_count 5', keepalive_count=5, **h)
    add('ssh', 'ssh_args', ssh_args=['-o', 'ControlMaster auto', '-F', '/dev/null'], **h)
    add('ssh', 'ssh_path', ssh_path='/opt/bin/ssh', **h)
    add('ssh', 'python_path list', python_path=['/usr/bin/env', 'python3'], **h)
    add('ssh', 'python_path with source && (&& not quoted)',
        python_path=['source', '/opt/venv/bin/activate', '&&', 'python'], **h)
    add('ssh', 'hostname user@host', hostname='deploy@web1')
    add('ssh', 'everything',
        hostname='10.0.0.5', username='deploy', port=2200, identity_file='/k/id',
        compression=False, ssh_debug_level=2, check_host_keys='ignore',
        keepalive_interval=5, keepalive_count=2, ssh_args=['-A'], ssh_path='ssh2',
        python_path='/usr/bin/python3')

    # --- sudo ---
    add('sudo', 'defaults')
    add('sudo', 'username', username='bob')
    add('sudo', 'sudo_path', sudo_path='/usr/local/bin/sudo')
    add('sudo', 'preserve_env', preserve_env=True)
    add('sudo', 'set_home', set_home=True)
    add('sudo', 'login', login=True)
    add('sudo', 'selinux_role', selinux_role='sysadm_r')
    add('sudo', 'selinux_type', selinux_type='sysadm_t')
    add('sudo', 'password (argv unchanged)', password='s3cret')
    add('sudo', "sudo_args ['-u', 'bob']", sudo_args=['-u', 'bob'])
    add('sudo', "sudo_args ['-E', '-H']", sudo_args=['-E', '-H'])
    add('sudo', "sudo_args ['-i', '-r', 'R', '-t', 'T']", sudo_args=['-i', '-r', 'R', '-t', 'T'])
    add('sudo', "sudo_args long options", sudo_args=['--user=carol', '--preserve-env', '--set-home', '--login'])
    add('sudo', "sudo_args ['-S', '-n'] ignored", sudo_args=['-S', '-n'])
    add('sudo', "sudo_args ['-u', 'bob'] and username (kwarg wins)", sudo_args=['-u', 'bob'], username='carol')
    add('sudo', "sudo_args ['-E'] and preserve_env False (kwarg wins)", sudo_args=['-E'], preserve_env=False)
    add('sudo', "sudo_args ['-s'] rejected", sudo_args=['-s'])
    add('sudo', "sudo_args positional rejected", sudo_args=['x'])
    add('sudo', 'python_path with source (stripped)',
        python_path=['source', '/opt/venv/bin/activate', '&&', '/opt/venv/bin/python'])
    add('sudo', 'python_path list', python_path=['/usr/bin/env', 'python3'])
    add('sudo', 'everything', username='bob', sudo_path='sudo2', preserve_env=True, set_home=True,
        login=True, selinux_role='R', selinux_type='T', python_path='/usr/bin/python3')

    # --- su ---
    add('su', 'defaults')
    add('su', 'username', username='bob')
    add('su', 'su_path', su_path='/bin/su')
    add('su', 'password (argv unchanged)', password='s3cret')
    add('su', 'password_prompt, incorrect_prompts (argv unchanged)', password_prompt='Passwort:',
        incorrect_prompts=['su: Authentifizierungsfehler'])
    add('su', 'python_path with space and $', python_path=['/opt/my python/bin/py$thon'])

    # --- doas ---
    add('doas', 'defaults')
    add('doas', 'username', username='bob')
    add('doas', 'doas_path', doas_path='/usr/local/bin/doas')
    add('doas', 'password (argv unchanged)', password='s3cret')
    add('doas', 'password_prompt (argv unchanged)', password_prompt='Passwort:')

    # --- docker ---
    add('docker', 'container', container='web')
    add('docker', 'container, username', container='web', username='app')
    add('docker', 'image', image='debian:12')
    add('docker', 'image, username', image='debian:12', username='app')
    add('docker', 'container and image (container wins)', container='web', image='debian:12')
    add('docker', 'docker_path', container='web', docker_path='/usr/local/bin/docker')

    # --- podman ---
    add('podman', 'container', container='web')
    add('podman', 'username', container='web', username='app')
    add('podman', 'podman_path', container='web', podman_path='/usr/bin/podman')

    # --- buildah ---
    add('buildah', 'container', container='work')
    add('buildah', 'username', container='work', username='app')
    add('buildah', 'buildah_path', container='work', buildah_path='/usr/bin/buildah')

    # --- kubectl ---
    add('kubectl', 'pod', pod='web-0')
    add('kubectl', 'kubectl_args', pod='web-0', kubectl_args=['--namespace', 'prod'])
    add('kubectl', 'kubectl_args with container (-c)', pod='web-0',
        kubectl_args=['--context', 'k3s', '-c', 'sidecar'])
    add('kubectl', 'kubectl_path', pod='web-0', kubectl_path='/usr/local/bin/kubectl')

    # --- lxc (lxc-attach) ---
    add('lxc', 'container', container='c1')
    add('lxc', 'lxc_attach_path', container='c1', lxc_attach_path='/usr/bin/lxc-attach')

    # --- lxd (lxc exec) ---
    add('lxd', 'container', container='c1')
    add('lxd', 'lxc_path', container='c1', lxc_path='/snap/bin/lxc')

    # --- incus ---
    add('incus', 'container', container='c1')
    add('incus', 'incus_path', container='c1', incus_path='/usr/bin/incus')

    # --- jail ---
    add('jail', 'container', container='www')
    add('jail', 'username', container='www', username='app')
    add('jail', 'jexec_path', container='www', jexec_path='/usr/local/sbin/jexec')

    # --- setns ---
    add('setns', 'docker', container='web', kind='docker')
    add('setns', 'docker, username, docker_path', container='web', kind='docker', username='app',
        docker_path='/usr/local/bin/docker')
    add('setns', 'lxc', container='c1', kind='lxc')
    add('setns', 'lxc, lxc_info_path', container='c1', kind='lxc', lxc_info_path='/usr/bin/lxc-info')
    add('setns', 'lxd', container='c1', kind='lxd')
    add('setns', 'lxd, lxc_path', container='c1', kind='lxd', lxc_path='/snap/bin/lxc')
    add('setns', 'machinectl', container='m1', kind='machinectl')
    add('setns', 'machinectl, machinectl_path', container='m1', kind='machinectl',
        machinectl_path='/bin/machinectl')
    add('setns', 'python_path', container='web', kind='docker', python_path='/usr/bin/python3')
    add('setns', 'unknown kind rejected', container='web', kind='jail')
    return S




def _stdio_kind(conn):
    cls = type(conn)
    if cls.__module__ == 'mitogen.ssh':
        return 'hybrid_pty' if conn._requires_pty() else 'pipes+stderr_pipe'
    if cls.__module__ == 'mitogen.setns':
        return 'pipes+preexec_setns'
    create = cls.__dict__.get('create_child', mitogen.parent.Connection.__dict__['create_child'])
    fn = getattr(create, '__func__', create)
    if fn is mitogen.parent.hybrid_tty_create_child:
        return 'hybrid_pty'
    if fn is mitogen.parent.tty_create_child:
        return 'tty'
    if conn.create_child_args.get('merge_stdio'):
        return 'merged'
    return 'pipes'


def _leader_argv(mod, options):
    """setns: the argv its connect() runs to find the leader PID."""
    seen = []
    real = mod._run_command

    def fake(args):
        seen.append(list(args))
        raise mitogen.core.StreamError('oracle: not run')
    mod._run_command = fake
    try:
        attr, func = mod.GET_LEADER_BY_KIND[options.kind]
        try:
            func(getattr(options, attr), options.container)
        except mitogen.core.StreamError:
            pass
    finally:
        mod._run_command = real
    return seen[0] if seen else None


def record(method, case, params):
    mod = importlib.import_module('mitogen.' + method)
    out = {'method': method, 'case': case, 'params': params}
    kwargs = dict(params)
    kwargs.setdefault('max_message_size', 128 * 1048576)
    try:
        options = mod.Options(**kwargs)
    except (Exception, AssertionError) as e:
        out['error'] = {'type': '%s.%s' % (type(e).__module__, type(e).__name__),
                        'message': str(e)}
        return out
    conn = mod.Connection(options, None)

    _mode['boot'] = 'empty'
    try:
        bare = conn.get_boot_command()
    finally:
        _mode['boot'] = 'placeholder'
    full = conn.get_boot_command()

    quoted_code = shlex.quote(BOOT_CODE)
    if BOOT_CODE not in full and quoted_code not in full:
        # One shell-joined element (su, setns): the empty-boot run leaves the
        # element with only the method's own text around the boot command.
        form = 'sh_joined'
        prefix = bare[:-1]
        joined_empty = bare[-1]
        suffix = joined_empty  # '' for su, '; exit $?' for setns
        assert full[-1].endswith(suffix)
        assert full[:-1] == prefix, (full, prefix)
        python_argv = conn.get_python_argv()
    else:
        prefix = bare
        rest = full[len(prefix):]
        assert full[:len(prefix)] == prefix
        if quoted_code in rest:
            form = 'shlex_quoted'
        else:
            form = 'argv'
        suffix = ''
        # Interpreter part as it appears in the argv (sudo strips "source ..."
        # words; ssh quotes each word).
        python_argv = rest[:rest.index('-c')]
    out.update({
        'prefix': prefix,
        'boot_joined': form == 'sh_joined',
        'boot_form': form,
        'boot_suffix': suffix,
        'python_argv': python_argv,
        'boot': full,
        'name': conn._get_name(),
        'stdio': _stdio_kind(conn),
        'child_is_immediate_subprocess': bool(conn.child_is_immediate_subprocess),
    })
    if method == 'setns':
        out['leader_argv'] = _leader_argv(mod, options)
    return out


def dumps(records):
    """One key per line, each value on one line: readable, diffable."""
    lines = ['[']
    for i, r in enumerate(records):
        lines.append(' {')
        keys = list(r)
        for j, k in enumerate(keys):
            comma = ',' if j < len(keys) - 1 else ''
            lines.append('  %s: %s%s' % (json.dumps(k), json.dumps(r[k], ensure_ascii=False), comma))
        lines.append(' }' + (',' if i < len(records) - 1 else ''))
    lines.append(']')
    return '\n'.join(lines) + '\n'


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    ap.add_argument('--out', help='write the JSON here instead of stdout')
    args = ap.parse_args()
    if tuple(mitogen.__version__) != EXPECTED_VERSION:
        sys.exit('method_argv_oracle: need mitogen %s, have %s (%s)' % (
            '.'.join(map(str, EXPECTED_VERSION)),
            '.'.join(map(str, mitogen.__version__)), mitogen.__file__))
    _install_patches()
    records = [record(m, c, p) for m, c, p in parameter_sets()]
    text = dumps(records)
    if args.out:
        import os
        d = os.path.dirname(args.out)
        if d:
            os.makedirs(d, exist_ok=True)
        with open(args.out, 'w') as f:
            f.write(text)
    else:
        sys.stdout.write(text)


if __name__ == '__main__':
    main()
