# Shared body of the container-tool stubs (DESIGN §8). Sourced by the thin
# wrappers next to it (docker, podman, buildah, kubectl, lxc-attach, lxc,
# incus, jexec, lxc-info, machinectl); the wrapper's file name is the tool.
#
# A stub stands in for a tool that cannot run here. It checks the argv
# contract, then runs the command it was given locally:
#
#   MITOGEN_STUB_EXPECT    file with the expected argv prefix, one element a
#                          line, the FIRST line being the program (compared by
#                          basename with the stub's own name, so
#                          /usr/sbin/jexec matches a stub called jexec).
#                          MITOGEN_STUB_EXPECT_<NAME> (upper case, "-" -> "_",
#                          e.g. MITOGEN_STUB_EXPECT_LXC_ATTACH) wins over it,
#                          for chains of several stubs.
#   MITOGEN_STUB_LOG       if set, each accepted call appends one line: the
#                          full argv, every element single-quoted for sh
#                          (shlex.split() reads it back).
#   MITOGEN_STUB_REPLY     if set and nothing follows the prefix, printed (plus
#                          a newline) instead of running a command: for the
#                          leader-PID queries of setns ("docker inspect
#                          --format={{.State.Pid}} web" -> "12345").
#
# argv must start with exactly the expected elements; otherwise it prints
#   stub <name>: argv mismatch: expected '<e1>' '<e2>' ... got '<a1>' ...
# on stderr and exits 97 (also when no expectation is set). On success it
# exec()s the rest of argv (after the prefix): same pid, stdin, stdout and
# stderr, untouched.

stub_name=$(basename "$0")

stub_quote() {
    # One sh word per argument: 'it'\''s'.
    out=
    for a in "$@"; do
        q=$(printf '%s.' "$a" | sed "s/'/'\\\\''/g")
        q=${q%.}
        out="$out${out:+ }'$q'"
    done
    printf '%s' "$out"
}

stub_fail() {
    echo "stub $stub_name: $*" >&2
    exit 97
}

stub_var=MITOGEN_STUB_EXPECT_$(printf '%s' "$stub_name" | tr 'a-z-' 'A-Z_')
eval "stub_expect=\${$stub_var:-\${MITOGEN_STUB_EXPECT:-}}"
[ -n "$stub_expect" ] || stub_fail "argv mismatch: expected <MITOGEN_STUB_EXPECT is not set> got $(stub_quote "$0" "$@")"
[ -r "$stub_expect" ] || stub_fail "argv mismatch: expected <cannot read $stub_expect> got $(stub_quote "$0" "$@")"

# Compare line by line; collect the expectation for the message.
stub_expected=
stub_ok=1
stub_n=0
while IFS= read -r stub_line || [ -n "$stub_line" ]; do
    stub_expected="$stub_expected${stub_expected:+ }$(stub_quote "$stub_line")"
    if [ $stub_n -eq 0 ]; then
        [ "$(basename "$stub_line")" = "$stub_name" ] || stub_ok=
    elif [ $stub_n -le $# ]; then
        eval "stub_arg=\${$stub_n}"  # the n-th argument
        [ "$stub_arg" = "$stub_line" ] || stub_ok=
    else
        stub_ok=
    fi
    stub_n=$((stub_n + 1))
done <"$stub_expect"
[ $stub_n -gt 0 ] || stub_fail "argv mismatch: expected <empty file $stub_expect> got $(stub_quote "$0" "$@")"
[ -n "$stub_ok" ] || stub_fail "argv mismatch: expected $stub_expected got $(stub_quote "$0" "$@")"

if [ -n "${MITOGEN_STUB_LOG:-}" ]; then
    printf '%s\n' "$(stub_quote "$0" "$@")" >>"$MITOGEN_STUB_LOG"
fi

# Drop the prefix (its first line is the program itself, not in "$@").
shift $((stub_n - 1))
if [ $# -eq 0 ]; then
    if [ -n "${MITOGEN_STUB_REPLY+set}" ]; then
        printf '%s\n' "$MITOGEN_STUB_REPLY"
        exit 0
    fi
    stub_fail "nothing to run after the expected prefix"
fi
exec "$@"
