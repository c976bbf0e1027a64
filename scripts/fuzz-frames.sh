#!/bin/sh
# Fuzzes the router: a live master fed arbitrary frames by fake children,
# with libFuzzer + ASan (Fuzz/FrameFuzz.swift says what is checked and how an
# input becomes frames).
#
#   scripts/fuzz-frames.sh [SECONDS]     default 60
#
# Compiles the layers the master needs (CMitogenSys, Sys, Wire, Core, Calls,
# Master) and swift-log's Logging straight through swiftc/clang, one module at
# a time, into .build-fuzz/frames/, then links them with the harness into
# .build-fuzz/frame-fuzz. Logging comes from the checkout SwiftPM made in
# .build/checkouts (`swift package resolve` if it is missing). The build is
# skipped when nothing it reads changed. Then runs over a scratch copy of
# Fuzz/frame-corpus for the given time. Crashing or hanging inputs land in
# fuzz-artifacts/frames-*. Exits non-zero on a crash or a compile error.
set -eu

seconds=${1:-60}
root=$(cd "$(dirname "$0")/.." && pwd)
out="$root/.build-fuzz"
objects="$out/frames"
binary="$out/frame-fuzz"
mkdir -p "$objects/modules" "$out/frame-corpus" "$root/fuzz-artifacts"

logging="$root/.build/checkouts/swift-log/Sources/Logging"
if [ ! -d "$logging" ]; then
    (cd "$root" && swift package resolve)
fi
lib="$root/Sources/MitogenLib"
library="$lib/Sys $lib/Wire $lib/Core $lib/Calls $lib/Master $root/Sources/CMitogenSys $logging $root/scripts/fuzz-frames.sh"
flags="-sanitize=fuzzer,address -parse-as-library -O -g -swift-version 6
    -enable-upcoming-feature InternalImportsByDefault
    -enable-upcoming-feature ExistentialAny
    -enable-upcoming-feature MemberImportVisibility
    -I $objects/modules -I $root/Sources/CMitogenSys/include"

# One module: module NAME PACKAGE DIRECTORY (whole module, one object file).
module() {
    # shellcheck disable=SC2046,SC2086 # word splitting wanted; paths have no spaces
    swiftc $flags -suppress-warnings -module-name "$1" -package-name "$2" -wmo -emit-module \
        -emit-module-path "$objects/modules/$1.swiftmodule" -c -o "$objects/$1.o" \
        $(find "$3" -name '*.swift' | sort)
}

# newer FILE PATHS...: true when FILE is missing or anything under PATHS is newer.
newer() {
    target=$1
    shift
    [ ! -e "$target" ] || [ -n "$(find "$@" -newer "$target" | head -n 1)" ]
}

started=$(date +%s)
# shellcheck disable=SC2086 # $library is a list
if newer "$objects/MitogenMaster.o" $library; then
    clang -O2 -g -fsanitize=address -I "$root/Sources/CMitogenSys/include" \
        -c "$root/Sources/CMitogenSys/sys.c" -o "$objects/CMitogenSys.o"
    # The three leaves in parallel, then the chain Core <- Calls <- Master.
    module Logging swift_log "$logging" &
    logging_job=$!
    module MitogenWire mitogen_swift "$lib/Wire" &
    wire_job=$!
    module MitogenSys mitogen_swift "$lib/Sys"
    wait $logging_job
    wait $wire_job
    module MitogenCore mitogen_swift "$lib/Core"
    module MitogenCalls mitogen_swift "$lib/Calls"
    module MitogenMaster mitogen_swift "$lib/Master"
fi
if newer "$binary" "$objects/MitogenMaster.o" "$root/Fuzz/FrameFuzz.swift"; then
    # shellcheck disable=SC2086
    swiftc $flags -use-ld=lld -module-name FrameFuzz -package-name mitogen_swift \
        "$root/Fuzz/FrameFuzz.swift" "$objects"/*.o -o "$binary"
    echo "fuzz-frames: built $binary in $(($(date +%s) - started)) s"
fi

# Seeds stay read-only in the repository; new findings grow the scratch corpus.
cp "$root"/Fuzz/frame-corpus/* "$out/frame-corpus/"

# -timeout: the harness itself fails an input after 5 s without progress.
# SWIFT_BACKTRACE: Swift's own crash backtracer trips ASan (a false
# stack-buffer-underflow in its memory server) and hides the stack; libFuzzer's
# handler prints it instead.
export SWIFT_BACKTRACE=enable=no
exec "$binary" "$out/frame-corpus" \
    -max_total_time="$seconds" -max_len=4096 -timeout=30 -rss_limit_mb=2048 \
    -artifact_prefix="$root/fuzz-artifacts/frames-" -print_final_stats=1
