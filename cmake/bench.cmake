# The benchmark binaries: bench/kvforge_bench, with every peer engine whose library is
# installed (each one found adds KVFORGE_BENCH_HAVE_<PEER> and its library);
# bench/kvforge_any_store_bench, any_store against the same stores used directly;
# bench/kvforge_expiry_bench, what expiring<> costs and what purging takes;
# bench/kvforge_backup_bench, the longest put during an online backup;
# bench/kvforge_snapshot_bench, what taking a snapshot costs;
# bench/kvforge_compaction_pause_bench, the longest put during automatic compaction and compact()
# (beside LevelDB's CompactRange where it is found);
# bench/kvforge_hash_fill_bench, a hash table filled in another table's order against key order;
# bench/kvforge_amplification_bench, space and write amplification beside LevelDB and RocksDB;
# bench/kvforge_readers_bench, readers beside a writer. Debian
# packages: libbenchmark-dev (required), and for the peers libleveldb-dev librocksdb-dev
# liblmdb-dev libsqlite3-dev libtkrzw-dev libabsl-dev.
#
# CTest runs every benchmark once on a tiny store (kvforge_bench_smoke,
# kvforge_any_store_bench_smoke, kvforge_cache_bench_smoke, kvforge_expiry_bench_smoke,
# kvforge_backup_bench_smoke, kvforge_snapshot_bench_smoke, kvforge_compaction_pause_bench_smoke, kvforge_hash_fill_bench_smoke, kvforge_readers_bench_smoke); the full comparisons are tools/bench_compare.py, and
# tools/bench_cache.py for the caches; kvforge_compression_bench
# (below) measures the compression codecs alone, kvforge_compressed_store_bench the same
# codecs in a store.

find_package(benchmark CONFIG QUIET)
if(NOT benchmark_FOUND)
    message(STATUS "kvforge: Google Benchmark not found; benchmarks are not built")
    return()
endif()

add_executable(kvforge_bench ${PROJECT_SOURCE_DIR}/bench/kvforge_bench.cpp)
target_link_libraries(kvforge_bench PRIVATE kvforge::kvforge benchmark::benchmark kvforge_project_options)
set_target_properties(kvforge_bench PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${PROJECT_BINARY_DIR}/bench)

# What any_store's type erasure costs per call, against the same stores used directly.
add_executable(kvforge_any_store_bench ${PROJECT_SOURCE_DIR}/bench/any_store_bench.cpp)
target_link_libraries(kvforge_any_store_bench PRIVATE kvforge::kvforge benchmark::benchmark kvforge_project_options)
set_target_properties(kvforge_any_store_bench PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${PROJECT_BINARY_DIR}/bench)

# What kvforge::expiring<> costs keys without deadlines, and purging a million expired keys.
add_executable(kvforge_expiry_bench ${PROJECT_SOURCE_DIR}/bench/expiry_bench.cpp)
target_link_libraries(kvforge_expiry_bench PRIVATE kvforge::kvforge benchmark::benchmark kvforge_project_options)
set_target_properties(kvforge_expiry_bench PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${PROJECT_BINARY_DIR}/bench)

# A peer is used when both its header and its library are found. Their CMake packages are
# not used: RocksDB's asks for optional dependencies (gflags, TBB, ...) that may be absent.
function(kvforge_bench_peer peer header library)
    find_path(KVFORGE_BENCH_${peer}_INCLUDE_DIR ${header})
    find_library(KVFORGE_BENCH_${peer}_LIBRARY ${library})
    if(KVFORGE_BENCH_${peer}_INCLUDE_DIR AND KVFORGE_BENCH_${peer}_LIBRARY)
        target_compile_definitions(kvforge_bench PRIVATE KVFORGE_BENCH_HAVE_${peer})
        target_include_directories(kvforge_bench SYSTEM PRIVATE ${KVFORGE_BENCH_${peer}_INCLUDE_DIR})
        target_link_libraries(kvforge_bench PRIVATE ${KVFORGE_BENCH_${peer}_LIBRARY})
        message(STATUS "kvforge: benchmark peer ${peer}: ${KVFORGE_BENCH_${peer}_LIBRARY}")
    else()
        message(STATUS "kvforge: benchmark peer ${peer} not found; it is left out")
    endif()
endfunction()

kvforge_bench_peer(LEVELDB leveldb/db.h leveldb)
kvforge_bench_peer(ROCKSDB rocksdb/db.h rocksdb)
kvforge_bench_peer(LMDB lmdb.h lmdb)
kvforge_bench_peer(SQLITE sqlite3.h sqlite3)
kvforge_bench_peer(TKRZW tkrzw_dbm_hash.h tkrzw)

find_package(absl CONFIG QUIET)
if(absl_FOUND)
    target_compile_definitions(kvforge_bench PRIVATE KVFORGE_BENCH_HAVE_ABSL)
    target_link_libraries(kvforge_bench PRIVATE absl::flat_hash_map absl::hash)
    message(STATUS "kvforge: benchmark peer ABSL: absl::flat_hash_map")
else()
    message(STATUS "kvforge: benchmark peer ABSL not found; it is left out")
endif()

# Space and write amplification of an overwrite workload, kvforge beside the LevelDB and
# RocksDB that kvforge_bench found (bench/amplification_bench.cpp).
add_executable(kvforge_amplification_bench ${PROJECT_SOURCE_DIR}/bench/amplification_bench.cpp)
target_link_libraries(kvforge_amplification_bench PRIVATE kvforge::kvforge benchmark::benchmark kvforge_project_options)
set_target_properties(kvforge_amplification_bench PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${PROJECT_BINARY_DIR}/bench)
foreach(peer LEVELDB ROCKSDB)
    if(KVFORGE_BENCH_${peer}_INCLUDE_DIR AND KVFORGE_BENCH_${peer}_LIBRARY)
        target_compile_definitions(kvforge_amplification_bench PRIVATE KVFORGE_BENCH_HAVE_${peer})
        target_include_directories(kvforge_amplification_bench SYSTEM PRIVATE ${KVFORGE_BENCH_${peer}_INCLUDE_DIR})
        target_link_libraries(kvforge_amplification_bench PRIVATE ${KVFORGE_BENCH_${peer}_LIBRARY})
    endif()
endforeach()

# The longest put during an online backup, against none (bench/backup_bench.cpp).
add_executable(kvforge_backup_bench ${PROJECT_SOURCE_DIR}/bench/backup_bench.cpp)
target_link_libraries(kvforge_backup_bench PRIVATE kvforge::kvforge benchmark::benchmark kvforge_project_options)
set_target_properties(kvforge_backup_bench PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${PROJECT_BINARY_DIR}/bench)

# What taking a snapshot costs, against a for_each over the same store (bench/snapshot_bench.cpp).
add_executable(kvforge_snapshot_bench ${PROJECT_SOURCE_DIR}/bench/snapshot_bench.cpp)
target_link_libraries(kvforge_snapshot_bench PRIVATE kvforge::kvforge benchmark::benchmark kvforge_project_options)
set_target_properties(kvforge_snapshot_bench PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${PROJECT_BINARY_DIR}/bench)

# Filling a hash table in another table's order against key order (bench/hash_fill_bench.cpp).
add_executable(kvforge_hash_fill_bench ${PROJECT_SOURCE_DIR}/bench/hash_fill_bench.cpp)
target_link_libraries(kvforge_hash_fill_bench PRIVATE kvforge::kvforge benchmark::benchmark kvforge_project_options)
set_target_properties(kvforge_hash_fill_bench PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${PROJECT_BINARY_DIR}/bench)

# The longest put during automatic compaction, in steps and in whole jobs (bench/compaction_pause_bench.cpp).
add_executable(kvforge_compaction_pause_bench ${PROJECT_SOURCE_DIR}/bench/compaction_pause_bench.cpp)
target_link_libraries(kvforge_compaction_pause_bench PRIVATE kvforge::kvforge benchmark::benchmark kvforge_project_options)
set_target_properties(kvforge_compaction_pause_bench PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${PROJECT_BINARY_DIR}/bench)
if(KVFORGE_BENCH_LEVELDB_INCLUDE_DIR AND KVFORGE_BENCH_LEVELDB_LIBRARY)
    # compact() beside LevelDB's CompactRange on the same data.
    target_compile_definitions(kvforge_compaction_pause_bench PRIVATE KVFORGE_BENCH_HAVE_LEVELDB)
    target_include_directories(kvforge_compaction_pause_bench SYSTEM PRIVATE ${KVFORGE_BENCH_LEVELDB_INCLUDE_DIR})
    target_link_libraries(kvforge_compaction_pause_bench PRIVATE ${KVFORGE_BENCH_LEVELDB_LIBRARY})
endif()

# Readers beside a writer: a reader's open, refresh() and the writer's puts beside readers,
# with RocksDB's read-only open and secondary catch-up where kvforge_bench found it
# (bench/readers_bench.cpp).
add_executable(kvforge_readers_bench ${PROJECT_SOURCE_DIR}/bench/readers_bench.cpp)
target_link_libraries(kvforge_readers_bench PRIVATE kvforge::kvforge benchmark::benchmark kvforge_project_options)
set_target_properties(kvforge_readers_bench PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${PROJECT_BINARY_DIR}/bench)
if(KVFORGE_BENCH_ROCKSDB_INCLUDE_DIR AND KVFORGE_BENCH_ROCKSDB_LIBRARY)
    target_compile_definitions(kvforge_readers_bench PRIVATE KVFORGE_BENCH_HAVE_ROCKSDB)
    target_include_directories(kvforge_readers_bench SYSTEM PRIVATE ${KVFORGE_BENCH_ROCKSDB_INCLUDE_DIR})
    target_link_libraries(kvforge_readers_bench PRIVATE ${KVFORGE_BENCH_ROCKSDB_LIBRARY})
endif()

# The cache benchmark, bench/cache_bench: bounded<> and read_cache<> (tools/bench_cache.py).
add_executable(kvforge_cache_bench ${PROJECT_SOURCE_DIR}/bench/cache_bench.cpp)
target_link_libraries(kvforge_cache_bench PRIVATE kvforge::kvforge benchmark::benchmark kvforge_project_options)
set_target_properties(kvforge_cache_bench PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${PROJECT_BINARY_DIR}/bench)
if(absl_FOUND)
    target_compile_definitions(kvforge_cache_bench PRIVATE KVFORGE_BENCH_HAVE_ABSL)
    target_link_libraries(kvforge_cache_bench PRIVATE absl::flat_hash_map absl::hash)
endif()

if(KVFORGE_BUILD_TESTS)
    add_test(NAME kvforge_cache_bench_smoke COMMAND kvforge_cache_bench --benchmark_min_time=0)
    set_tests_properties(kvforge_cache_bench_smoke PROPERTIES
        ENVIRONMENT "KVFORGE_CACHE_BENCH_KEYS=2000;KVFORGE_CACHE_BENCH_REQUESTS=20000;KVFORGE_CACHE_BENCH_BUDGET=65536;KVFORGE_CACHE_BENCH_READ_MS=0;KVFORGE_BENCH_DIR=${PROJECT_BINARY_DIR}"
        TIMEOUT 300)
    add_test(NAME kvforge_bench_smoke COMMAND kvforge_bench --benchmark_min_time=0)
    set_tests_properties(kvforge_bench_smoke PROPERTIES
        ENVIRONMENT "KVFORGE_BENCH_KEYS=1000;KVFORGE_BENCH_SYNC_PUTS=10;KVFORGE_BENCH_READ_MS=0;KVFORGE_BENCH_DIR=${PROJECT_BINARY_DIR}"
        TIMEOUT 300)
    add_test(NAME kvforge_backup_bench_smoke COMMAND kvforge_backup_bench)
    set_tests_properties(kvforge_backup_bench_smoke PROPERTIES
        ENVIRONMENT "KVFORGE_BENCH_KEYS=2000;KVFORGE_BENCH_DIR=${PROJECT_BINARY_DIR}" TIMEOUT 300)
    add_test(NAME kvforge_snapshot_bench_smoke COMMAND kvforge_snapshot_bench --benchmark_min_time=0)
    set_tests_properties(kvforge_snapshot_bench_smoke PROPERTIES
        ENVIRONMENT "KVFORGE_BENCH_KEYS=1000;KVFORGE_BENCH_DIR=${PROJECT_BINARY_DIR}" TIMEOUT 300)
    add_test(NAME kvforge_compaction_pause_bench_smoke COMMAND kvforge_compaction_pause_bench)
    set_tests_properties(kvforge_compaction_pause_bench_smoke PROPERTIES
        ENVIRONMENT "KVFORGE_BENCH_KEYS=2000;KVFORGE_BENCH_DIR=${PROJECT_BINARY_DIR}" TIMEOUT 300)
    add_test(NAME kvforge_amplification_bench_smoke COMMAND kvforge_amplification_bench)
    set_tests_properties(kvforge_amplification_bench_smoke PROPERTIES
        ENVIRONMENT "KVFORGE_BENCH_KEYS=2000;KVFORGE_BENCH_ROUNDS=1;KVFORGE_BENCH_DIR=${PROJECT_BINARY_DIR}" TIMEOUT 300)
    add_test(NAME kvforge_any_store_bench_smoke COMMAND kvforge_any_store_bench --benchmark_min_time=0)
    set_tests_properties(kvforge_any_store_bench_smoke PROPERTIES
        ENVIRONMENT "KVFORGE_BENCH_KEYS=1000;KVFORGE_BENCH_DIR=${PROJECT_BINARY_DIR}" TIMEOUT 300)
    add_test(NAME kvforge_hash_fill_bench_smoke COMMAND kvforge_hash_fill_bench --benchmark_min_time=0)
    set_tests_properties(kvforge_hash_fill_bench_smoke PROPERTIES ENVIRONMENT "KVFORGE_BENCH_KEYS=1000" TIMEOUT 300)
    add_test(NAME kvforge_readers_bench_smoke COMMAND kvforge_readers_bench --benchmark_min_time=0)
    set_tests_properties(kvforge_readers_bench_smoke PROPERTIES
        ENVIRONMENT "KVFORGE_BENCH_KEYS=2000;KVFORGE_BENCH_DIR=${PROJECT_BINARY_DIR}" TIMEOUT 300)
    add_test(NAME kvforge_expiry_bench_smoke COMMAND kvforge_expiry_bench --benchmark_min_time=0)
    set_tests_properties(kvforge_expiry_bench_smoke PROPERTIES
        ENVIRONMENT "KVFORGE_EXPIRY_BENCH_KEYS=1000;KVFORGE_BENCH_DIR=${PROJECT_BINARY_DIR}" TIMEOUT 300)
endif()

# kvforge::redis_cluster beside raw hiredis (bench/redis_cluster_bench.cpp), where hiredis is found. It
# needs a running cluster (KVFORGE_REDIS_SEEDS; docs/benchmarks.md gives the command), so it has no
# smoke test and is built only when asked for: cmake --build DIR --target kvforge_redis_cluster_bench.
if(KVFORGE_REDIS_FOUND)
    add_executable(kvforge_redis_cluster_bench EXCLUDE_FROM_ALL ${PROJECT_SOURCE_DIR}/bench/redis_cluster_bench.cpp)
    target_link_libraries(kvforge_redis_cluster_bench PRIVATE kvforge::redis_cluster benchmark::benchmark
        kvforge_project_options)
    set_target_properties(kvforge_redis_cluster_bench PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${PROJECT_BINARY_DIR}/bench)
endif()

# The compression codecs on their own (bench/compression_bench.cpp), where libzstd and liblz4 are found.
if(KVFORGE_ZSTD_FOUND AND KVFORGE_LZ4_FOUND)
    add_executable(kvforge_compression_bench ${PROJECT_SOURCE_DIR}/bench/compression_bench.cpp)
    target_link_libraries(kvforge_compression_bench PRIVATE kvforge::zstd kvforge::lz4 benchmark::benchmark
        kvforge_project_options)
    set_target_properties(kvforge_compression_bench PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${PROJECT_BINARY_DIR}/bench)
    if(KVFORGE_BUILD_TESTS)
        add_test(NAME kvforge_compression_bench_smoke COMMAND kvforge_compression_bench --benchmark_min_time=0)
        set_tests_properties(kvforge_compression_bench_smoke PROPERTIES
            ENVIRONMENT "KVFORGE_COMPRESSION_BENCH_VALUES=100" TIMEOUT 300)
    endif()
    # The same codecs in a file_log store: puts, gets and disk bytes (bench/compressed_store_bench.cpp).
    add_executable(kvforge_compressed_store_bench ${PROJECT_SOURCE_DIR}/bench/compressed_store_bench.cpp)
    target_link_libraries(kvforge_compressed_store_bench PRIVATE kvforge::zstd kvforge::lz4 benchmark::benchmark
        kvforge_project_options)
    set_target_properties(kvforge_compressed_store_bench PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${PROJECT_BINARY_DIR}/bench)
    # RocksDB with its LZ4 and ZSTD compression beside them, where kvforge_bench found it.
    if(KVFORGE_BENCH_ROCKSDB_INCLUDE_DIR AND KVFORGE_BENCH_ROCKSDB_LIBRARY)
        target_compile_definitions(kvforge_compressed_store_bench PRIVATE KVFORGE_BENCH_HAVE_ROCKSDB)
        target_include_directories(kvforge_compressed_store_bench SYSTEM PRIVATE ${KVFORGE_BENCH_ROCKSDB_INCLUDE_DIR})
        target_link_libraries(kvforge_compressed_store_bench PRIVATE ${KVFORGE_BENCH_ROCKSDB_LIBRARY})
    endif()
    if(KVFORGE_BUILD_TESTS)
        add_test(NAME kvforge_compressed_store_bench_smoke COMMAND kvforge_compressed_store_bench --benchmark_min_time=0)
        set_tests_properties(kvforge_compressed_store_bench_smoke PROPERTIES
            ENVIRONMENT "KVFORGE_STORE_COMPRESSION_BENCH_VALUES=100;KVFORGE_BENCH_DIR=${PROJECT_BINARY_DIR}" TIMEOUT 300)
    endif()
endif()

# KVFORGE_BENCH_COMPILE_OPTIONS builds the benchmarks at another optimisation level: the test
# stage runs each once on a tiny store, to check that it works, not how fast.
separate_arguments(kvforge_bench_compile_options UNIX_COMMAND "${KVFORGE_BENCH_COMPILE_OPTIONS}")
foreach(bench IN ITEMS kvforge_bench kvforge_any_store_bench kvforge_expiry_bench kvforge_amplification_bench
        kvforge_backup_bench kvforge_snapshot_bench kvforge_hash_fill_bench kvforge_compaction_pause_bench
        kvforge_readers_bench kvforge_cache_bench kvforge_redis_cluster_bench kvforge_compression_bench
        kvforge_compressed_store_bench)
    if(TARGET ${bench})
        target_compile_options(${bench} PRIVATE ${kvforge_bench_compile_options})
    endif()
endforeach()
