#!/bin/sh
# Fuzzes the wire layer (pickle codec + frame decoder) with libFuzzer + ASan.
#
#   scripts/fuzz-pickle.sh [SECONDS]     default 60
#
# Compiles Sources/MitogenLib/Wire/*.swift with Fuzz/PickleFuzz.swift straight
# through swiftc (no SwiftPM: Wire depends on nothing but the standard
# library) into .build-fuzz/, then runs over a scratch copy of Fuzz/corpus for
# the given time. Crashing inputs land in fuzz-artifacts/. Exits non-zero on a
# crash or a compile error.
set -eu

seconds=${1:-60}
root=$(cd "$(dirname "$0")/.." && pwd)
out="$root/.build-fuzz"
mkdir -p "$out/corpus" "$root/fuzz-artifacts"

swiftc -sanitize=fuzzer,address -parse-as-library -O -g \
    -swift-version 6 \
    -enable-upcoming-feature InternalImportsByDefault \
    -enable-upcoming-feature ExistentialAny \
    -enable-upcoming-feature MemberImportVisibility \
    -module-name WireFuzz -package-name mitogen_swift \
    "$root"/Sources/MitogenLib/Wire/*.swift "$root/Fuzz/PickleFuzz.swift" \
    -o "$out/pickle-fuzz"

# Seeds stay read-only in the repository; new findings grow the scratch corpus.
cp "$root"/Fuzz/corpus/* "$out/corpus/"

exec "$out/pickle-fuzz" "$out/corpus" \
    -max_total_time="$seconds" -max_len=4096 -timeout=10 -rss_limit_mb=2048 \
    -artifact_prefix="$root/fuzz-artifacts/" -print_final_stats=1
