#!/bin/sh
# The whole test suite: installs what the tests need, builds, runs every test
# against real parts, then runs the pickle and frame fuzzers for a bounded time
# each (FUZZ_SECONDS, default 60) and the benchmark once in quick mode (to
# prove it runs; it asserts nothing on speed).
set -eu
cd "$(dirname "$0")/.."
scripts/setup-test-env.sh
export MITOGEN_PYTHON="$PWD/.venv/bin/python"
swift build --build-tests

# run_tests ARGS...: `swift test --skip-build ARGS`. Tests that fail are run
# once more, alone, and only a second failure fails the suite: on 2 busy
# cores a few timing windows (a pipeline seen within 80 % of its timeout, a
# stopped child reaped within 3 s) are occasionally missed. Every retry is
# printed as RETRY with the tests' names, so a flaky test stays visible.
run_tests() {
    log=$(mktemp /tmp/mitogen-test-log.XXXXXX)
    rc=0
    swift test --skip-build "$@" >"$log" 2>&1 || rc=$?
    cat "$log"
    if [ "$rc" -eq 0 ]; then
        rm -f "$log"
        return 0
    fi
    failed=$(sed -n 's/^✘ Test \([A-Za-z0-9_]*\)(.*/\1/p' "$log" | sort -u | paste -sd'|' -)
    rm -f "$log"
    if [ -z "$failed" ]; then
        echo "test.sh: the test run failed without a failed test to retry (a crash?)"
        return "$rc"
    fi
    echo "test.sh: RETRY: failed once, running again alone: $failed"
    swift test --skip-build --filter "$failed"
}

# LoadTests count this process's descriptors, threads and zombies, and
# DependentPackageTests builds the library again from scratch as a user's
# dependency: each runs alone, after everything else.
run_tests --skip LoadTests --skip DependentPackageTests
run_tests --filter LoadTests
run_tests --filter DependentPackageTests
# The core suites again under ThreadSanitizer and AddressSanitizer.
scripts/sanitize.sh
if [ -x scripts/fuzz-pickle.sh ]; then
    scripts/fuzz-pickle.sh "${FUZZ_SECONDS:-60}"
fi
if [ -x scripts/fuzz-frames.sh ]; then
    scripts/fuzz-frames.sh "${FUZZ_SECONDS:-60}"
fi
if [ -d Sources/mitogen-bench ]; then
    swift build -c release --product mitogen-bench
    swift build -c release --product mitogen-child
    .build/release/mitogen-bench --quick >/dev/null
fi
echo "test.sh: all green"
