#!/usr/bin/env bash
# Builds and tests kvforge: the one test command, for developers and CI alike.
#
#   tools/test.sh               run the default stages below, in order (all but single)
#   tools/test.sh asan tsan     run only the named stages
#
#   gcc     g++ with asserts on, -Werror: the examples and the compiled mode at -O1, the
#           benchmarks (each run once, tiny) at -O0; every test source compiled with
#           -fsyntax-only (KVFORGE_TEST_SYNTAX_ONLY: read, instantiated and warned about in a
#           fifth of an -O1 build's time, and run by the sanitizer stages); ctest: the compiled
#           mode's test, the benchmarks and the compile-time checks.
#           KVFORGE_GCC_TESTS=run tools/test.sh gcc is the long version: the tests and the tool
#           built at -O1 (the rest at -O2) and run too, about 35 minutes instead of 11.
#   asan    clang++-14 -O0, AddressSanitizer + UndefinedBehaviorSanitizer, -Werror: every test
#           and the tool; ctest (the compile-time checks, which compile without sanitizers and
#           check the same with either compiler, run in the gcc stage only)
#   tsan    clang++-14 -O0, ThreadSanitizer, -Werror: the test sources that start threads of
#           their own (KVFORGE_TEST_SOURCES=threads); ctest. -O0 compiles in half the time of
#           -O1, and the threaded tests run in a few minutes still.
#   single  g++ builds the whole suite against the generated single_include/ header; ctest.
#           Not run by default: every ctest run checks the header is fresh, and the consumers
#           stage compiles it alone with g++ and clang++, so this only repeats a full build.
#   meson   meson setup and compile with g++ -O0 and asserts, -Werror: the library, the tool and
#           the examples; KVFORGE_MESON_TESTS=true builds at -O1 and runs the test suite too
#   consumers  tools/consumer_tests.sh: tiny projects outside the tree take kvforge in (add_subdirectory,
#              find_package, FetchContent, meson subproject, single header, pkg-config, recipe steps)
#   fuzz    tools/fuzz.sh: the libFuzzer harnesses in fuzz/, each for KVFORGE_FUZZ_SECONDS (default 15)
#   redis   kvforge::redis_cluster against a real cluster: g++ -O0 builds kvforge_redis_tests and
#           kvforge_redis_conformance_tests (the conformance suite on redis_cluster configurations);
#           the tool is the meson stage's (built here where there is none);
#           tools/redis_cluster.sh starts six redis-server nodes on 127.0.0.1 (ports from
#           KVFORGE_REDIS_PORT, default 7100); the conformance suite, the focused tests, the
#           tool's cluster test and the fault tests run, and the nodes are stopped, on failure too.
#           Skipped, saying so, where redis-server cannot be installed.
#
# The gcc stage checks the conformance suite on a covering set of store configurations in which
# every pair of policy choices meets (tests/conformance/store_configs.hpp), and runs it there
# with KVFORGE_GCC_TESTS=run; the sanitizer stages, whose findings are about the code each
# policy runs rather than how policies combine, and meson with KVFORGE_MESON_TESTS=true run it
# on each policy choice once. The sanitizer stages also stop the power-loss workloads at every
# KVFORGE_TEST_POWER_LOSS_STRIDE-th I/O call (8) rather than at each, from a call that
# KVFORGE_TEST_SEED chooses (by default a seed that include/ and tests/ give, so that each
# change to them explores other calls), and run the model tests' random workloads for an
# eighth of their operations (KVFORGE_TEST_OPS, 12500 rather than 100000); AddressSanitizer
# builds at -O0, which compiles in a third of the time of -O1 and misses nothing (optimisation
# can only hide a bad access). The test sources compile in unity groups
# (KVFORGE_UNITY_CONFORMANCE, KVFORGE_UNITY_TESTS). The summary at the end gives each stage's
# time. The whole policy product, every store configuration, is the longest version:
# KVFORGE_CONFORMANCE=full KVFORGE_GCC_TESTS=run tools/test.sh gcc, and
# KVFORGE_CONFORMANCE=full tools/test.sh asan tsan meson for the product under the others
# (KVFORGE_CONFORMANCE=pairwise for the covering set).
#
# Each stage builds in build/<stage> (kept between runs, so reruns are incremental) and the
# run stops at the first failure. Missing Debian packages are installed first.
# The sanitizers come from the CMake option KVFORGE_SANITIZE, e.g. to build one by hand:
#   cmake -S . -B build/asan -G Ninja -DCMAKE_CXX_COMPILER=clang++-14 -DKVFORGE_SANITIZE=address,undefined
# KVFORGE_GCC and KVFORGE_CLANG choose other compilers (default g++ and clang++-14).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

gcc=${KVFORGE_GCC:-g++}
clang=${KVFORGE_CLANG:-clang++-14}
all_stages=(gcc asan tsan single meson consumers fuzz redis)
default_stages=(gcc asan tsan meson consumers fuzz redis)
[ $# -gt 0 ] || set -- "${default_stages[@]}"
for stage in "$@"; do
    [[ " ${all_stages[*]} " == *" $stage "* ]] || { echo "test.sh: unknown stage '$stage' (stages: ${all_stages[*]})" >&2; exit 2; }
done

current="installing packages"
summary=()
passed=0
# The redis stage's cluster, stopped and removed at exit however the run ends.
cluster_dir=""
stop_cluster() {
    [ -n "$cluster_dir" ] || return 0
    bash tools/redis_cluster.sh stop "$cluster_dir"
    rm -rf "$cluster_dir"
    cluster_dir=""
}
trap 'status=$?; stop_cluster; [ $status -eq 0 ] || printf "\n==== test.sh: FAILED in stage: %s (exit %d) ====\n" "$current" $status >&2' EXIT

banner() { printf '\n==== %s ====\n' "$*"; }
count() { passed=$((passed + ${1:-0})); }  # adds a stage's number of passed tests

# The benchmark's peers (LevelDB, RocksDB, LMDB, SQLite, tkrzw, absl) are built into it when
# installed; the gcc stage runs every benchmark once on a tiny store. tools/bench_compare.py
# draws its plot with matplotlib. libzstd-dev and liblz4-dev give the compression codecs,
# their tests (kvforge_compression_tests) and their benchmark.
bash tools/install-deps.sh g++ clang-14 libclang-rt-14-dev cmake ninja-build meson catch2 \
    libbenchmark-dev pkg-config python3 libzstd-dev liblz4-dev libleveldb-dev librocksdb-dev liblmdb-dev libsqlite3-dev \
    libtkrzw-dev libabsl-dev python3-matplotlib libhiredis-dev

# Sanitizer runtimes can fail to map their shadow memory when the kernel randomises addresses
# with more bits than they expect (ThreadSanitizer in clang 14 with vm.mmap_rnd_bits > 28).
# Running the tests with address randomisation off avoids that; where setarch is not allowed,
# lowering the sysctl (as root) is the fallback.
sanitizer_runner=()
if setarch "$(uname -m)" -R true 2>/dev/null; then
    sanitizer_runner=(setarch "$(uname -m)" -R)
elif [ "$(cat /proc/sys/vm/mmap_rnd_bits 2>/dev/null || echo 0)" -gt 28 ] && [ -w /proc/sys/vm/mmap_rnd_bits ]; then
    echo "test.sh: setting vm.mmap_rnd_bits=28 so that the sanitizers can map their memory"
    echo 28 >/proc/sys/vm/mmap_rnd_bits
fi

# cmake_stage DIR [RUNNER...] -- CMAKE_OPTIONS...: configure, build and run ctest.
cmake_stage() {
    local dir=$1 runner=()
    shift
    while [ "$1" != "--" ]; do runner+=("$1"); shift; done
    shift
    cmake -S . -B "$dir" -G Ninja "$@"
    cmake --build "$dir" -j2
    "${runner[@]}" ctest --test-dir "$dir" -j2 --output-on-failure --no-tests=error | tee "$dir/ctest.log"
    count "$(sed -n 's/.*tests passed, 0 tests failed out of \([0-9]*\).*/\1/p' "$dir/ctest.log")"
}

release=(-DCMAKE_BUILD_TYPE=Release "-DCMAKE_CXX_FLAGS_RELEASE=-O2" -DKVFORGE_WERROR=ON)
# Line tables give the sanitizers' reports file:line at a fraction of the compile time of -g.
conformance=${KVFORGE_CONFORMANCE:-pairwise}
each_conformance=${KVFORGE_CONFORMANCE:-each}
sanitized=(-DCMAKE_BUILD_TYPE=RelWithDebInfo -DKVFORGE_WERROR=ON
           -DKVFORGE_BUILD_EXAMPLES=OFF -DKVFORGE_BUILD_BENCH=OFF -DKVFORGE_CONFORMANCE="$each_conformance")
# The seed of the sanitizer stages' random tests (crash points, torn tails, operations) comes
# from the code under test, the committed include/ and tests/: a change to either explores
# other cases, and a run of the same code explores the same. A failure's report gives the seed.
# Outside a git checkout, or without git, the seed is a fixed one.
code=$({ git rev-parse HEAD:include HEAD:tests | git hash-object --stdin; } 2>/dev/null || true)
code=${code:-20261127}
test_seed=${KVFORGE_TEST_SEED:-$((16#${code:0:8}))}
sampled=(env KVFORGE_TEST_POWER_LOSS_STRIDE="${KVFORGE_TEST_POWER_LOSS_STRIDE:-8}" KVFORGE_TEST_SEED="$test_seed"
         KVFORGE_TEST_OPS="${KVFORGE_TEST_OPS:-12500}")

for stage in "$@"; do
    current=$stage
    start=$SECONDS
    case $stage in
    gcc)
        if [ "${KVFORGE_GCC_TESTS:-check}" = run ]; then
            banner "gcc: $gcc -O2 (tests and benchmarks -O1) with asserts, -Werror; the tests and the tool run"
            gcc_options=("${release[@]}" -DKVFORGE_TEST_SYNTAX_ONLY=OFF -DKVFORGE_BUILD_TOOL=ON
                         -DKVFORGE_TEST_COMPILE_OPTIONS=-O1 -DKVFORGE_BENCH_COMPILE_OPTIONS=-O1)
        else
            banner "gcc: $gcc -O1 (benchmarks -O0) with asserts, -Werror; the test sources checked with -fsyntax-only"
            gcc_options=(-DCMAKE_BUILD_TYPE=Release "-DCMAKE_CXX_FLAGS_RELEASE=-O1" -DKVFORGE_WERROR=ON
                         -DKVFORGE_TEST_SYNTAX_ONLY=ON -DKVFORGE_BUILD_TOOL=OFF
                         -DKVFORGE_TEST_COMPILE_OPTIONS= -DKVFORGE_BENCH_COMPILE_OPTIONS=-O0)
        fi
        cmake_stage build/gcc -- -DCMAKE_CXX_COMPILER="$gcc" -DKVFORGE_CONFORMANCE="$conformance" "${gcc_options[@]}"
        ;;
    asan)
        banner "asan: $clang with AddressSanitizer + UndefinedBehaviorSanitizer, -Werror; seed $test_seed"
        cmake_stage build/asan "${sampled[@]}" "${sanitizer_runner[@]}" -- -DCMAKE_CXX_COMPILER="$clang" \
            "${sanitized[@]}" "-DCMAKE_CXX_FLAGS_RELWITHDEBINFO=-O0 -gline-tables-only" -DKVFORGE_SANITIZE=address,undefined \
            -DKVFORGE_COMPILE_CHECKS=OFF
        ;;
    tsan)
        banner "tsan: $clang with ThreadSanitizer, -Werror; seed $test_seed"
        cmake_stage build/tsan "${sampled[@]}" "${sanitizer_runner[@]}" -- -DCMAKE_CXX_COMPILER="$clang" \
            "${sanitized[@]}" "-DCMAKE_CXX_FLAGS_RELWITHDEBINFO=-O0 -gline-tables-only" -DKVFORGE_SANITIZE=thread \
            -DKVFORGE_TEST_SOURCES=threads -DKVFORGE_BUILD_TOOL=OFF -DKVFORGE_COMPILE_CHECKS=OFF
        ;;
    single)
        banner "single: $gcc against single_include/kvforge/kvforge.hpp"
        python3 tools/amalgamate.py --check
        cmake_stage build/single -- -DCMAKE_CXX_COMPILER="$gcc" "${release[@]}" -DKVFORGE_SINGLE_INCLUDE=ON \
            -DKVFORGE_BUILD_EXAMPLES=OFF -DKVFORGE_BUILD_BENCH=OFF
        ;;
    meson)
        reconfigure=()
        [ ! -f build/meson/build.ninja ] || reconfigure=(--reconfigure)
        meson_tests=${KVFORGE_MESON_TESTS:-false}
        # A build that only compiles needs no optimiser; one that runs the suite does.
        meson_optimization=0
        [ "$meson_tests" != true ] || meson_optimization=1
        banner "meson: $gcc -O$meson_optimization with asserts, -Werror"
        CXX=$gcc meson setup build/meson "${reconfigure[@]}" \
            -Doptimization=$meson_optimization -Ddebug=false -Db_ndebug=false -Dwarning_level=3 -Dwerror=true \
            -Dtests="$meson_tests" -Dconformance="$each_conformance"
        meson compile -C build/meson -j 2
        if [ "$meson_tests" != true ]; then
            # Meson lists the test sources by name, and fails its set-up when the list and the
            # files disagree: a set-up with the tests on, which compiles nothing, checks it.
            rm -rf build/meson-test-list
            CXX=$gcc meson setup build/meson-test-list -Dtests=true -Dtool=false -Dconformance="$each_conformance" \
                > build/meson-test-list.log || { cat build/meson-test-list.log; exit 1; }
        fi
        if [ "$meson_tests" = true ]; then
            meson test -C build/meson --num-processes 2 --print-errorlogs | tee build/meson/test.log
            count "$(sed -n 's/^Ok: *\([0-9]*\).*/\1/p' build/meson/test.log)"
        fi
        ;;
    consumers)
        banner "consumers: tiny projects outside the tree take kvforge in every supported way"
        mkdir -p build
        KVFORGE_GCC=$gcc KVFORGE_CLANG=$clang bash tools/consumer_tests.sh | tee build/consumers.log
        count "$(grep -c 'stores work$' build/consumers.log)"
        ;;
    fuzz)
        banner "fuzz: libFuzzer harnesses, ${KVFORGE_FUZZ_SECONDS:-15} s each"
        KVFORGE_CLANG=$clang bash tools/fuzz.sh
        ;;
    redis)
        banner "redis: kvforge::redis_cluster against a six-node Redis Cluster on 127.0.0.1"
        bash tools/install-deps.sh redis-server redis-tools libhiredis-dev || true
        if ! command -v redis-server >/dev/null || ! command -v redis-cli >/dev/null; then
            echo "test.sh: SKIPPED the redis stage: redis-server or redis-cli is not installed and could not be"
            summary+=("$(printf '%-9s SKIPPED (no redis-server)' "$stage")")
            continue
        fi
        cmake -S . -B build/redis -G Ninja -DCMAKE_CXX_COMPILER="$gcc" -DCMAKE_BUILD_TYPE=Release \
            "-DCMAKE_CXX_FLAGS_RELEASE=-O0" -DKVFORGE_WERROR=ON -DKVFORGE_BUILD_EXAMPLES=OFF \
            -DKVFORGE_BUILD_BENCH=OFF
        cmake --build build/redis -j2 --target kvforge_redis_tests kvforge_redis_conformance_tests
        # The tool, for its cluster commands: the meson stage's when there is one (it links
        # hiredis where it is installed, and is built already), else this stage's.
        if [ -f build/meson/build.ninja ]; then
            ninja -C build/meson tools/kvforge/kvforge
            tool=build/meson/tools/kvforge/kvforge
        else
            cmake --build build/redis -j2 --target kvforge_tool
            tool=build/redis/bin/kvforge
        fi
        cluster_dir=$(mktemp -d "${TMPDIR:-/tmp}/kvforge-redis.XXXXXX")
        port=${KVFORGE_REDIS_PORT:-7100}
        bash tools/redis_cluster.sh start "$cluster_dir" "$port"
        export KVFORGE_REDIS_SEEDS="127.0.0.1:$port,127.0.0.1:$((port + 1)),127.0.0.1:$((port + 2))"
        export KVFORGE_REDIS_DIR=$cluster_dir KVFORGE_REDIS_CLUSTER_SCRIPT=$PWD/tools/redis_cluster.sh
        # The model tests' operations are round trips to the cluster: a quarter of them checks the
        # same protocol in a quarter of the time.
        KVFORGE_TEST_OPS="${KVFORGE_TEST_OPS:-25000}" build/redis/kvforge_redis_conformance_tests "~[.]" |
            tee build/redis/tests.log
        build/redis/kvforge_redis_tests "~[faults]" | tee -a build/redis/tests.log
        python3 tests/tool/kvforge_tool_cluster_test.py "$tool" | tee build/redis/tool.log
        build/redis/kvforge_redis_tests "[faults]" | tee -a build/redis/tests.log
        stop_cluster
        count "$(awk '/^All tests passed/ { n += $(NF - 2) } END { print n + 0 }' build/redis/tests.log)"
        count "$(sed -n 's/^kvforge_tool_cluster_test.py: \([0-9]*\) passed.*/\1/p' build/redis/tool.log)"
        ;;
    esac
    summary+=("$(printf '%-9s passed in %4ds' "$stage" $((SECONDS - start)))")
done

current="summary"
banner "test.sh: all stages passed"
printf '  %s\n' "${summary[@]}"
echo "test.sh: $passed passed, 0 failed"
