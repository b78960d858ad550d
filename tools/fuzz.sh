#!/usr/bin/env bash
# Builds the libFuzzer harnesses in fuzz/ and runs each for a bounded time.
#
#   tools/fuzz.sh              build build/fuzz/{open,ops,table}_fuzzer and run them side by side,
#                              each for KVFORGE_FUZZ_SECONDS seconds (default 15)
#   tools/fuzz.sh open         only the named fuzzers (open, ops, table)
#   tools/fuzz.sh corpus       regenerate the seed corpora fuzz/corpus/{open,ops,table}/
#
# Each fuzzer starts from its committed seed corpus (copied into build/fuzz/corpus-<name>/,
# which keeps what the fuzzer finds between runs) and prints its total executions. An
# input that crashes a fuzzer is copied into fuzz/regressions/<name>/, where
# tests/reliability/fuzz_regression_test.cpp replays it, and the script fails.
# Built with clang++-14 (KVFORGE_CLANG to change) -O1 -fsanitize=fuzzer,address,undefined.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

clang=${KVFORGE_CLANG:-clang++-14}
seconds=${KVFORGE_FUZZ_SECONDS:-15}
out=build/fuzz
flags=(-std=c++20 -O1 -g -Wall -Wextra -Wpedantic -Werror -Iinclude)
mkdir -p "$out"

if [ "${1:-}" = corpus ]; then
    g++ "${flags[@]}" fuzz/make_corpus.cpp -o "$out/make_corpus" -pthread
    rm -rf fuzz/corpus/open fuzz/corpus/ops fuzz/corpus/table
    "$out/make_corpus" fuzz
    ls -l fuzz/corpus/open fuzz/corpus/ops fuzz/corpus/table
    exit 0
fi

[ $# -gt 0 ] || set -- open ops table
for name in "$@"; do
    [ -f "fuzz/${name}_fuzzer.cpp" ] || { echo "fuzz.sh: no fuzzer named '$name' (open, ops, table)" >&2; exit 2; }
done

# The harnesses compile side by side: each compile is a single process.
declare -A builds  # fuzzer name: the pid of its compile
for name in "$@"; do
    echo "==== $name: building"
    "$clang" "${flags[@]}" -fsanitize=fuzzer,address,undefined "fuzz/${name}_fuzzer.cpp" -o "$out/${name}_fuzzer" \
        >"$out/$name.build.log" 2>&1 &
    builds[$name]=$!
done
built=true
for name in "$@"; do
    if ! wait "${builds[$name]}"; then
        echo "==== $name: the build FAILED:"
        cat "$out/$name.build.log"
        built=false
    fi
done
$built || exit 1

# fuzz NAME: runs one fuzzer for $seconds s; fails when it crashes or keeps an input.
fuzz() {
    local name=$1 corpus="$out/corpus-$1" artifacts="$out/artifacts-$1" log="$out/$1.log" status=0
    mkdir -p "$corpus" "$artifacts" "fuzz/regressions/$name"
    cp -n "fuzz/corpus/$name"/* "$corpus"/ 2>/dev/null || true
    # UBSan findings abort like ASan's, so that the fuzzer records them as crashes.
    if ! UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 "$out/${name}_fuzzer" -max_total_time="$seconds" \
        -max_len=4096 -print_final_stats=1 -artifact_prefix="$artifacts/" "$corpus" >"$log" 2>&1; then
        status=1
        echo "==== $name: FAILED; the end of $log:"
        tail -n 40 "$log"
    fi
    for crash in "$artifacts"/*; do
        [ -e "$crash" ] || continue
        cp "$crash" "fuzz/regressions/$name/"
        echo "==== $name: kept $(basename "$crash") in fuzz/regressions/$name/"
        rm "$crash"
        status=1
    done
    echo "==== $name: $(grep -h 'stat::number_of_executed_units' "$log" | awk '{print $2}') executions"
    return $status
}

# The fuzzers run side by side, as their builds do: the run takes $seconds s, not that times their number.
echo "==== fuzzing $* for $seconds s"
declare -A runs  # fuzzer name: the pid of its run
for name in "$@"; do
    fuzz "$name" &
    runs[$name]=$!
done
status=0
for name in "$@"; do
    wait "${runs[$name]}" || status=1
done
exit $status
