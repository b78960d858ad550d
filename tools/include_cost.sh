#!/usr/bin/env bash
# Measures what including kvforge costs one translation unit (-std=c++20 -c), as the median
# CPU time (user + system) of N compiles, with g++ and clang++-14 at -O0 and -O2, of:
#   (s) <string>, <optional>, <vector> and <map>: what a program using a store includes anyway
#   (a) the system headers kvforge includes (every #include <...> under include/kvforge)
#   (b) #include <kvforge/kvforge.hpp>
#   (d) (b) plus one file_log store: open, put, get, close
#   (h) <kvforge/store.hpp> and <kvforge/stores/file_log.hpp>, the headers a file_log store needs
#   (n) (h) plus the same file_log store as (d)
#   (p) (d) with kvforge.hpp precompiled (built with the same flags, not timed)
#   (e) (d) with the store declared `extern template class`: a translation unit of a program
#       that compiles the store once, in another file, by an explicit instantiation definition
#   (q) (e) with kvforge.hpp precompiled
#   (i) (b) plus `template class` of the same store: the one file that compiles it
#   (l) <kvforge/any_store.hpp> alone, and the same calls on a store another file opens: a
#       function declared here returns the any_store, defined in that file
#   (o) that other file: <kvforge/open_store.hpp> and the function, which opens the store
#       by open_store with a list of the one composition (file_log, hash_index)
# and prints a markdown table of the times and their ratios to (s).
#   tools/include_cost.sh [--include DIR] [--runs N] [compiler...]
# The compilers default to g++ and clang++-14 (those installed); --include measures another
# copy of the headers (DIR holds kvforge/), --runs sets N (default 5).
# CPU time rather than wall time, so that other work on the machine changes the figures less.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

include=include
runs=5
compilers=()
while (($#)); do
    case $1 in
        --include) include=$2; shift 2 ;;
        --runs) runs=$2; shift 2 ;;
        -h | --help) sed -n '2,22p' "$0"; exit 0 ;;
        *) compilers+=("$1"); shift ;;
    esac
done
if ((${#compilers[@]} == 0)); then
    for cxx in g++ clang++-14; do command -v "$cxx" >/dev/null && compilers+=("$cxx"); done
fi
include=$(cd "$include" && pwd)

work=$(mktemp -d "${TMPDIR:-/tmp}/kvforge-include-cost.XXXXXX")
trap 'rm -rf "$work"' EXIT

printf '#include <%s>\n' string optional vector map >"$work/s.cpp"
grep -rhoE '^\s*#\s*include\s*<[^>]+>' "$include/kvforge" | sed 's/^\s*#\s*include\s*/#include /' | sort -u \
    >"$work/a.cpp"
echo '#include <kvforge/kvforge.hpp>' >"$work/b.cpp"
printf '#include <kvforge/store.hpp>\n#include <kvforge/stores/file_log.hpp>\n' >"$work/h.cpp"
# one_store HEADERS: HEADERS followed by a function that uses one file_log store.
one_store() {
    cat "$1"
    cat <<'EOF'

#include <string>

bool one_store(const std::string& path) {
    kvforge::store<std::string, std::string, kvforge::file_log> db{path};
    db.put("alice", "admin");
    const auto role = db.get("alice");
    db.close();
    return role == "admin";
}
EOF
}
one_store "$work/b.cpp" >"$work/d.cpp"
one_store "$work/h.cpp" >"$work/n.cpp"
{
    cat "$work/b.cpp"
    echo 'extern template class kvforge::store<std::string, std::string, kvforge::file_log>;'
} >"$work/extern.hpp"
one_store "$work/extern.hpp" >"$work/e.cpp"
{
    cat "$work/b.cpp"
    echo '#include <string>'
    echo 'template class kvforge::store<std::string, std::string, kvforge::file_log>;'
} >"$work/i.cpp"

cat >"$work/l.cpp" <<'EOF'
#include <kvforge/any_store.hpp>

#include <string>

kvforge::any_store<std::string, std::string> open_users(const std::string& path);

bool one_store(const std::string& path) {
    auto db = open_users(path);
    db.put("alice", "admin");
    const auto role = db.get("alice");
    db.close();
    return role == "admin";
}
EOF
cat >"$work/o.cpp" <<'EOF'
#include <kvforge/open_store.hpp>

#include <string>

using users_compositions = kvforge::composition_list<kvforge::policies<kvforge::file_log, kvforge::hash_index>>;

kvforge::any_store<std::string, std::string> open_users(const std::string& path) {
    return kvforge::open_store<std::string, std::string, users_compositions>("file_log:" + path);
}
EOF

# median_ms CXX OPT FILE [FLAGS...]: the median CPU time of $runs compiles of FILE, in milliseconds.
median_ms() {
    local cxx=$1 opt=$2 file=$3
    shift 3
    local TIMEFORMAT='%3U %3S'
    for _ in $(seq "$runs"); do
        { time "$cxx" -std=c++20 "$opt" "$@" -I"$include" -c "$file" -o "$work/out.o"; } 2>&1 |
            awk '{ printf "%d\n", ($1 + $2) * 1000 }'
    done | sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'
}

# pch_flags CXX OPT: builds kvforge.hpp precompiled for CXX OPT and prints the flags that use
# it: clang takes the file with -include-pch, g++ finds kvforge/kvforge.hpp.gch ahead of the
# header in an include directory given first.
pch_flags() {
    local dir="$work/pch$1$2"
    mkdir -p "$dir/kvforge"
    if [[ $("$1" --version) == *clang* ]]; then
        "$1" -std=c++20 "$2" -I"$include" -x c++-header "$include/kvforge/kvforge.hpp" -o "$dir/kvforge.pch" \
            2>/dev/null
        echo "-include-pch $dir/kvforge.pch"
    else
        "$1" -std=c++20 "$2" -I"$include" -x c++-header "$include/kvforge/kvforge.hpp" \
            -o "$dir/kvforge/kvforge.hpp.gch" 2>/dev/null
        echo "-I$dir"
    fi
}

letters=(s a b d h n p e q i l o)
declare -A label=(
    [s]="(s) \`<string>\`, \`<optional>\`, \`<vector>\`, \`<map>\`"
    [a]="(a) the system headers kvforge includes"
    [b]="(b) \`#include <kvforge/kvforge.hpp>\`"
    [d]="(d) (b) + one file_log store: open, put, get, close"
    [h]="(h) \`<kvforge/store.hpp>\` + \`<kvforge/stores/file_log.hpp>\`"
    [n]="(n) (h) + the same file_log store"
    [p]="(p) (d) with \`kvforge.hpp\` precompiled"
    [e]="(e) (d) with the store declared \`extern template\`"
    [q]="(q) (e) with \`kvforge.hpp\` precompiled"
    [i]="(i) (b) + \`template class\` of the same store"
    [l]="(l) \`<kvforge/any_store.hpp>\` + the same calls on a store opened in another file"
    [o]="(o) that other file: \`<kvforge/open_store.hpp>\` + \`open_store\` of the one composition"
)
declare -A ms
header="| translation unit |"
rule="|---|"
for cxx in "${compilers[@]}"; do
    for opt in -O0 -O2; do
        header+=" $cxx $opt ms | vs. (s) |"
        rule+="---:|---:|"
        for letter in s a b d h n e i l o; do
            ms[$cxx$opt$letter]=$(median_ms "$cxx" "$opt" "$work/$letter.cpp")
        done
        pch=$(pch_flags "$cxx" "$opt")
        # shellcheck disable=SC2086  # the flags are words
        ms[${cxx}${opt}p]=$(median_ms "$cxx" "$opt" "$work/d.cpp" $pch)
        # shellcheck disable=SC2086
        ms[${cxx}${opt}q]=$(median_ms "$cxx" "$opt" "$work/e.cpp" $pch)
    done
done

versions=$(for cxx in "${compilers[@]}"; do "$cxx" --version | head -1; done | paste -sd ';' | sed 's/;/; /g')
echo "Compile time of one translation unit (CPU ms, median of $runs, -std=c++20 -c): $versions"
echo
echo "$header"
echo "$rule"
for letter in "${letters[@]}"; do
    line="| ${label[$letter]} |"
    for cxx in "${compilers[@]}"; do
        for opt in -O0 -O2; do
            line+=$(awk -v x="${ms[$cxx$opt$letter]}" -v s="${ms[$cxx${opt}s]}" \
                'BEGIN { printf " %d | %.2fx |", x, x / s }')
        done
    done
    echo "$line"
done
