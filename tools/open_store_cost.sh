#!/usr/bin/env bash
# Measures what open_store costs a translation unit at compile time: every composition of
# its list is instantiated. CPU times, as the median of 3 compiles (-std=c++20 -c) at -O0 and -O2:
#   (a) one file_log store used directly: put, get, erase, scan, for_each, stats, compact
#   (b) the same calls on an any_store from open_store with the default list (30 compositions)
#   (c) the same with a list narrowed to 3 compositions
# and prints a markdown table with the ratios to (a).
#   tools/open_store_cost.sh [compiler]      (default g++)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

cxx=${1:-g++}
work=$(mktemp -d "${TMPDIR:-/tmp}/kvforge-open-store-cost.XXXXXX")
trap 'rm -rf "$work"' EXIT

# write_case FILE OPENING: a translation unit that opens `db` as OPENING says and makes the
# same calls in every case.
write_case() {
    printf '%s\n' \
        '#include <kvforge/kvforge.hpp>' \
        '#include <string>' \
        'using three = kvforge::composition_list<kvforge::policies<kvforge::memory, kvforge::sorted_index>,' \
        '    kvforge::policies<kvforge::file_log, kvforge::sorted_index>,' \
        '    kvforge::policies<kvforge::mmap_file, kvforge::sorted_index, kvforge::sync_each>>;' \
        'bool use(const std::string& where) {' \
        "    $2" \
        '    db.put("alice", "admin");' \
        '    std::string role;' \
        '    bool found = db.get("alice", role) && db.contains("alice");' \
        '    db.erase("bob");' \
        '    for (auto&& [k, v] : db.scan("a", "m")) found = found && !k.empty() && !v.empty();' \
        '    db.for_each([&](const std::string& k, const std::string&) { found = found && !k.empty(); });' \
        '    db.compact();' \
        '    return found && db.stats().live_keys == 1;' \
        '}' >"$1"
}
write_case "$work/direct.cpp" \
    'kvforge::store<std::string, std::string, kvforge::file_log, kvforge::sorted_index> db{where};'
write_case "$work/default_list.cpp" 'auto db = kvforge::open_store<std::string, std::string>(where);'
write_case "$work/narrow_list.cpp" 'auto db = kvforge::open_store<std::string, std::string, three>(where);'

# median_ms FILE FLAGS...: the median CPU time (user + system) of 3 compiles, in milliseconds.
# CPU time rather than wall time, so that other work on the machine changes the figures less.
median_ms() {
    local file=$1
    shift
    local TIMEFORMAT='%3U %3S'
    for _ in 1 2 3; do
        { time "$cxx" -std=c++20 "$@" -Iinclude -c "$file" -o "$work/out.o"; } 2>&1 |
            awk '{ printf "%d\n", ($1 + $2) * 1000 }'
    done | sort -n | sed -n 2p
}

declare -A ms
for opt in -O0 -O2; do
    for case in direct default_list narrow_list; do
        ms[$case$opt]=$(median_ms "$work/$case.cpp" "$opt")
    done
done
ratio() { awk -v x="$1" -v y="$2" 'BEGIN { printf "%.1fx", x / y }'; }

echo "Compile CPU time of one translation unit: $("$cxx" --version | head -1), -std=c++20 -c, median of 3"
echo
echo "| translation unit | -O0 ms | vs. (a) | -O2 ms | vs. (a) |"
echo "|---|---:|---:|---:|---:|"
for row in "direct|(a) one file_log store used directly" \
           "default_list|(b) open_store, the default list (30 compositions)" \
           "narrow_list|(c) open_store, a list of 3 compositions"; do
    case=${row%%|*}
    printf '| %s | %d | %s | %d | %s |\n' "${row#*|}" "${ms[$case-O0]}" "$(ratio "${ms[$case-O0]}" "${ms[direct-O0]}")" \
        "${ms[$case-O2]}" "$(ratio "${ms[$case-O2]}" "${ms[direct-O2]}")"
done
