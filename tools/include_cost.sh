#!/usr/bin/env bash
# Measures what including kvforge costs one translation unit, as the median of 5 compiles
# (-std=c++20 -O0 -c) of:
#   (s) <string>, <optional>, <vector> and <map>: what a program using a store includes anyway
#   (a) the system headers kvforge includes (every #include <...> under include/kvforge)
#   (b) #include <kvforge/kvforge.hpp>
#   (c) (b) plus one memory store and one file_log store, used
#   (d) (b) plus one file_log store, used
# and prints a markdown table of the times and their ratios to (a) and to (s).
#   tools/include_cost.sh [compiler]      (default g++)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

cxx=${1:-g++}
work=$(mktemp -d "${TMPDIR:-/tmp}/kvforge-include-cost.XXXXXX")
trap 'rm -rf "$work"' EXIT

printf '#include <%s>\n' string optional vector map >"$work/common_headers.cpp"
grep -rhoE '^\s*#\s*include\s*<[^>]+>' include/kvforge | sed 's/^\s*#\s*include\s*/#include /' | sort -u \
    >"$work/system_headers.cpp"
echo '#include <kvforge/kvforge.hpp>' >"$work/kvforge_header.cpp"
cat >"$work/two_stores.cpp" <<'EOF'
#include <kvforge/kvforge.hpp>

#include <string>

bool two_stores(const std::string& path) {
    kvforge::store<std::string, std::string> cache;
    kvforge::store<std::string, std::string, kvforge::file_log> db{path};
    cache.put("alice", "admin");
    db.put("alice", "admin");
    db.erase("bob");
    return cache.get("alice") == db.get("alice") && !db.contains("bob");
}
EOF
cat >"$work/one_store.cpp" <<'EOF'
#include <kvforge/kvforge.hpp>

#include <string>

bool one_store(const std::string& path) {
    kvforge::store<std::string, std::string, kvforge::file_log> db{path};
    db.put("alice", "admin");
    db.erase("bob");
    return db.get("alice") == "admin" && !db.contains("bob");
}
EOF

# median_ms FILE: the median wall time of 5 compiles of FILE, in milliseconds.
median_ms() {
    for _ in 1 2 3 4 5; do
        local begin=${EPOCHREALTIME//[.,]/}
        "$cxx" -std=c++20 -O0 -Iinclude -c "$1" -o "$work/out.o"
        echo $(((${EPOCHREALTIME//[.,]/} - begin) / 1000))
    done | sort -n | sed -n 3p
}

s=$(median_ms "$work/common_headers.cpp")
a=$(median_ms "$work/system_headers.cpp")
b=$(median_ms "$work/kvforge_header.cpp")
c=$(median_ms "$work/two_stores.cpp")
d=$(median_ms "$work/one_store.cpp")
ratio() { awk -v x="$1" -v y="$2" 'BEGIN { printf "%.2fx", x / y }'; }
row() { printf '| %s | %d | %s | %s |\n' "$1" "$2" "$(ratio "$2" "$a")" "$(ratio "$2" "$s")"; }

echo "Compile time of one translation unit: $("$cxx" --version | head -1), -std=c++20 -O0 -c, median of 5"
echo
echo "| translation unit | ms | vs. (a) | vs. (s) |"
echo "|---|---:|---:|---:|"
row "(s) \`<string>\`, \`<optional>\`, \`<vector>\` and \`<map>\`" "$s"
row "(a) the system headers kvforge includes" "$a"
row "(b) \`#include <kvforge/kvforge.hpp>\`" "$b"
row "(c) (b) + one memory and one file_log store, used" "$c"
row "(d) (b) + one file_log store, used" "$d"
