#!/usr/bin/env bash
# Measures what a program that uses kvforge takes to compile, header-only and in the compiled
# mode (kvforge::compiled), for the README's "Compile time" table. Two programs:
#   one store    one file_log store: put, get, erase, stats (the first example of the README)
#   open_store   a block store that opens its backend from a spec with open_store<std::string,
#                std::string> (every composition kvforge has), then put, get, erase, scan, stats
# each compiled (-std=c++20 -c) with every compiler at -O0 and -O2, header-only and with
# -DKVFORGE_COMPILED_LIB, as the CPU time (user + system) of one compile: the median of N
# (--runs, default 1; the header-only open_store program at -O2 takes minutes). Each compiled
# mode object is linked against the library (src/, built first with the same compiler at -O2,
# not timed) and run, so that the figures are of programs that work.
#   tools/compile_time.sh [--runs N] [compiler...]      (compilers: g++ and clang++-14 when installed)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

runs=1
compilers=()
while (($#)); do
    case $1 in
        --runs) runs=$2; shift 2 ;;
        -h | --help) sed -n '2,12p' "$0"; exit 0 ;;
        *) compilers+=("$1"); shift ;;
    esac
done
if ((${#compilers[@]} == 0)); then
    for cxx in g++ clang++-14; do command -v "$cxx" >/dev/null && compilers+=("$cxx"); done
fi

root=$(pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/kvforge-compile-time.XXXXXX")
trap 'rm -rf "$work"' EXIT

cat >"$work/one_store.cpp" <<'EOF'
#include <kvforge/kvforge.hpp>

#include <cstdio>
#include <string>

int main(int argc, char** argv) {
    kvforge::store<std::string, std::string, kvforge::file_log> db(argc > 1 ? argv[1] : "compile-time-db");
    db.put("alice", "admin");
    db.put("bob", "reader");
    const bool erased = db.erase("bob");
    std::string role;
    const bool found = db.get("alice", role);
    std::printf("%d %d %zu\n", found, erased, static_cast<std::size_t>(db.stats().live_keys));
    return found && erased ? 0 : 1;
}
EOF
cat >"$work/open_store.cpp" <<'EOF'
#include <kvforge/kvforge.hpp>

#include <cstdio>
#include <string>

int main(int argc, char** argv) {
    auto blocks = kvforge::open_store<std::string, std::string>(argc > 1 ? argv[1] : "memory,sorted");
    for (int i = 0; i < 100; ++i) blocks.put("block-" + std::to_string(i), std::string(512, char('a' + i % 26)));
    std::string block;
    int found = 0;
    for (int i = 0; i < 100; ++i) found += blocks.get("block-" + std::to_string(i), block);
    blocks.erase("block-7");
    int listed = 0;
    for (const auto& [key, value] : blocks.scan("block-1", "block-2")) listed += !key.empty() && !value.empty();
    std::printf("%d %d %zu\n", found, listed, static_cast<std::size_t>(blocks.stats().live_keys));
    return found == 100 && listed == 11 ? 0 : 1;
}
EOF

# median_seconds CMD...: the median CPU time (user + system) of $runs runs of CMD, in seconds,
# timed with the shell's `time` as tools/include_cost.sh times its compiles.
median_seconds() {
    local TIMEFORMAT='%3U %3S'
    for ((run = 0; run < runs; ++run)); do
        if ! { time "$@" >/dev/null 2>"$work/stderr"; } 2>"$work/time"; then
            cat "$work/stderr" >&2
            return 1
        fi
        awk '{ printf "%.2f\n", $1 + $2 }' "$work/time"
    done | sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'
}

echo "| program | compiler | mode | -O0 | -O2 |"
echo "|---|---|---|---:|---:|"
for cxx in "${compilers[@]}"; do
    lib="$work/lib-$(basename "$cxx")"
    mkdir -p "$lib"
    for source in "$root"/src/*.cpp; do
        "$cxx" -std=c++20 -O2 -DKVFORGE_COMPILED_LIB -I"$root/include" -c "$source" -o "$lib/$(basename "$source" .cpp).o" &
    done
    wait
    for program in one_store open_store; do
        for mode in header-only compiled; do
            defines=()
            [ "$mode" = header-only ] || defines=(-DKVFORGE_COMPILED_LIB)
            row="| $program | $cxx | $mode |"
            for opt in -O0 -O2; do
                seconds=$(median_seconds "$cxx" -std=c++20 "$opt" "${defines[@]}" -I"$root/include" -c \
                    "$work/$program.cpp" -o "$work/$program.o")
                if [ "$mode" = compiled ]; then
                    "$cxx" "$work/$program.o" "$lib"/*.o -pthread -o "$work/$program"
                    (cd "$work" && ./"$program" >/dev/null)
                fi
                row+=" $seconds s |"
            done
            echo "$row"
        done
    done
done
