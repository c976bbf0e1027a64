#!/bin/sh
# Runs the core suites (routing, trust, bounds, shutdown, cancellation,
# the seed's API) under ThreadSanitizer and AddressSanitizer (with
# LeakSanitizer), and fails on any report. Usage: scripts/sanitize.sh
# [thread] [address]; both by default. scripts/test.sh runs it.
#
# Only the test product is sanitized: the static mitogen-child cannot link a
# sanitizer runtime, so the children the tests start are the normal debug
# builds, copied beside the sanitized bundle (build them first:
# `swift build --build-tests`). Under ThreadSanitizer the library is built
# with -DMITOGEN_TSAN, which makes `Lock` (Swift's futex Mutex, invisible to
# the sanitizer) announce its acquire and release.
set -eu
cd "$(dirname "$0")/.."
suites='CoreTests|LocalContextTests|RoutingTests|BrokerTests|SeedParityTests|MessageAPITests|ShutdownTests|BoundsTests|TrustTests|CancellationTests'
status=0
for kind in ${*:-thread address}; do
    scratch=.build-san-$kind
    flags=
    [ "$kind" = thread ] && flags="-Xswiftc -DMITOGEN_TSAN"
    # shellcheck disable=SC2086
    swift build --sanitize="$kind" --scratch-path "$scratch" --product mitogen-swiftPackageTests $flags
    for exe in mitogen-child mitogen-hostile-child mitogen-tui; do
        cp .build/debug/$exe "$scratch/debug/"
    done
    log=$scratch/sanitize.log
    run_suites() {
        MITOGEN_SANITIZER=$kind TSAN_OPTIONS="halt_on_error=0" \
            LSAN_OPTIONS="suppressions=$PWD/scripts/lsan-suppressions.txt:print_suppressions=0" \
            swift test --sanitize="$kind" --scratch-path "$scratch" --skip-build --filter "$suites" >"$log" 2>&1
    }
    # A test that fails (not a sanitizer report: those are counted below) is
    # retried once, loudly, as scripts/test.sh does: timing windows on two
    # busy cores; a second failure fails.
    if ! run_suites; then
        grep -E "^✘" "$log" | head -20
        echo "sanitize.sh: RETRY: tests failed under $kind sanitizer once (first log above); running them again"
        cp "$log" "$log.first"
        run_suites || {
            tail -40 "$log"
            echo "sanitize.sh: tests failed under $kind sanitizer twice (log: $log)"
            status=1
            continue
        }
    fi
    reports=$(grep -c -E "WARNING: ThreadSanitizer|ERROR: (Address|Leak)Sanitizer" "$log" || true)
    if [ "$reports" -ne 0 ]; then
        grep -A30 -E "WARNING: ThreadSanitizer|ERROR: (Address|Leak)Sanitizer" "$log" | head -120
        echo "sanitize.sh: $reports $kind sanitizer report(s) (log: $log)"
        status=1
    else
        echo "sanitize.sh: $kind sanitizer: $(grep -E 'Test run with' "$log" | tail -1)"
    fi
done
exit $status
