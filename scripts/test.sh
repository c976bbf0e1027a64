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
# LoadTests count this process's descriptors, threads and zombies, and
# DependentPackageTests builds the library again from scratch as a user's
# dependency: each runs alone, after everything else.
swift test --skip-build --skip LoadTests --skip DependentPackageTests
swift test --skip-build --filter LoadTests
swift test --skip-build --filter DependentPackageTests
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
