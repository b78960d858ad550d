# The tests: one Catch2 binary, one CTest entry per test source, and the compile-time checks.
find_package(Catch2 2 CONFIG REQUIRED)
find_package(Python3 REQUIRED COMPONENTS Interpreter)

# KVFORGE_SINGLE_INCLUDE builds the same test sources against the generated single header.
if(KVFORGE_SINGLE_INCLUDE)
    set(kvforge_test_include ${PROJECT_SOURCE_DIR}/single_include)
    add_library(kvforge_under_test INTERFACE)
    target_include_directories(kvforge_under_test INTERFACE ${kvforge_test_include})
    target_compile_features(kvforge_under_test INTERFACE cxx_std_20)
    target_link_libraries(kvforge_under_test INTERFACE Threads::Threads)
else()
    set(kvforge_test_include ${PROJECT_SOURCE_DIR}/include)
    add_library(kvforge_under_test ALIAS kvforge)
endif()

file(GLOB kvforge_test_sources CONFIGURE_DEPENDS
    ${PROJECT_SOURCE_DIR}/tests/unit/*.cpp
    ${PROJECT_SOURCE_DIR}/tests/conformance/*.cpp
    ${PROJECT_SOURCE_DIR}/tests/reliability/*.cpp)
file(GLOB kvforge_compression_test_sources CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/tests/compression/*.cpp)

# KVFORGE_TEST_SOURCES=threads keeps the sources that start threads of their own (or call
# write_during_scan, which does), and those that say "ThreadSanitizer:" in a comment (the
# store starts a thread they rely on, as a sorted index's open does): the races
# ThreadSanitizer looks for are between those threads and the store's (the async writer,
# the compaction thread, the open's sort), and the other sources would only cost its build time.
if(KVFORGE_TEST_SOURCES STREQUAL "threads")
    foreach(list_name IN ITEMS kvforge_test_sources kvforge_compression_test_sources)
        set(kept "")
        foreach(source IN LISTS ${list_name})
            file(STRINGS ${source} starts_threads REGEX "std::(j?thread|async)[^a-z_]|write_during_scan|ThreadSanitizer:")
            if(starts_threads)
                list(APPEND kept ${source})
            endif()
        endforeach()
        set(${list_name} ${kept})
    endforeach()
elseif(NOT KVFORGE_TEST_SOURCES STREQUAL "all")
    message(FATAL_ERROR "kvforge: KVFORGE_TEST_SOURCES is '${KVFORGE_TEST_SOURCES}'; it takes all or threads")
endif()
# The single header holds the umbrella's headers; the sources that test the sorted tables
# include headers outside it (stores/table/, index/disk_index.hpp, through fuzz/table_harness.hpp
# too), so its build leaves them out.
if(KVFORGE_SINGLE_INCLUDE)
    set(kept "")
    foreach(source IN LISTS kvforge_test_sources)
        file(STRINGS ${source} outside_umbrella REGEX "#include (<kvforge/(stores/table/|index/disk_index)|.*table_harness)")
        if(NOT outside_umbrella)
            list(APPEND kept ${source})
        endif()
    endforeach()
    set(kvforge_test_sources ${kept})
endif()
# KVFORGE_TEST_SYNTAX_ONLY: the compiler reads the test sources, their templates instantiated
# and their warnings errors, and builds nothing from them (-fsyntax-only, a fifth of the time
# of an -O1 build). tools/test.sh's g++ stage checks them so, while the sanitizer stages build
# and run them with clang++. A test binary is then an object library whose objects are never
# written (so its sources are read again at each build), and no CTest entry runs it.
function(kvforge_test_binary name)
    if(KVFORGE_TEST_SYNTAX_ONLY)
        list(FILTER ARGN EXCLUDE REGEX "^\\$<TARGET_OBJECTS:")
        add_library(${name} OBJECT ${ARGN})
        target_compile_options(${name} PRIVATE -fsyntax-only)
    else()
        add_executable(${name} ${ARGN})
    endif()
endfunction()

# Catch2's runner is compiled once, for every test binary.
add_library(kvforge_catch_main OBJECT ${PROJECT_SOURCE_DIR}/tests/main.cpp)
# In the tests' C++20, so that Catch2 compiles the same features (string_view printing) as they see.
target_link_libraries(kvforge_catch_main PRIVATE Catch2::Catch2 kvforge_project_options)
target_compile_features(kvforge_catch_main PRIVATE cxx_std_20)
# open_store_once.cpp holds the open_store instantiation that tests/unit share (see its header);
# instantiated_stores.cpp compiles a store of each policy by explicit instantiation, which
# unit/extern_template_test.cpp links to.
kvforge_test_binary(kvforge_tests $<TARGET_OBJECTS:kvforge_catch_main> ${PROJECT_SOURCE_DIR}/tests/support/open_store_once.cpp
    ${PROJECT_SOURCE_DIR}/tests/support/instantiated_stores.cpp ${kvforge_test_sources})
target_link_libraries(kvforge_tests PRIVATE kvforge_under_test Catch2::Catch2 kvforge_project_options)
# Where the compiled mode's library is built with the same flags (no sanitizer, the headers
# of include/), the tests take open_store's instantiation from it rather than compiling
# it again: linked only, so that its KVFORGE_COMPILED_LIB does not reach the test sources.
if(TARGET kvforge_compiled AND NOT KVFORGE_SANITIZE AND NOT KVFORGE_SINGLE_INCLUDE)
    target_link_libraries(kvforge_tests PRIVATE $<LINK_ONLY:kvforge_compiled>)
    target_compile_definitions(kvforge_tests PRIVATE KVFORGE_TEST_OPEN_STORE_FROM_LIBRARY=1)
endif()
# The conformance sources instantiate the same store configurations, so they compile in two
# groups (one for each core) rather than one by one: each configuration is then compiled
# twice instead of once per source, which halves their build time. Names at file scope must
# therefore differ across tests/conformance/. KVFORGE_UNITY_CONFORMANCE=OFF compiles them
# one by one, for a quicker rebuild after a change to one of them.
if(KVFORGE_UNITY_CONFORMANCE AND CMAKE_VERSION VERSION_GREATER_EQUAL 3.18)
    set(group a)
    foreach(source IN LISTS kvforge_test_sources)
        if(source MATCHES "/tests/conformance/")
            set_source_files_properties(${source} PROPERTIES UNITY_GROUP conformance_${group})
            if(group STREQUAL a)
                set(group b)
            else()
                set(group a)
            endif()
        endif()
    endforeach()
    set_target_properties(kvforge_tests PROPERTIES UNITY_BUILD ON UNITY_BUILD_MODE GROUP)
endif()
# The unit and reliability sources compile in groups of eight, for the same reason: a group
# parses the headers once and instantiates the stores its sources share once, which takes
# about a third off their build time. Names at file scope must therefore differ across
# tests/unit/ and tests/reliability/ too. extern_template_test.cpp stays alone: its stores
# must come from instantiated_stores.cpp, not from another source of its group.
# KVFORGE_UNITY_TESTS=OFF compiles them one by one.
if(KVFORGE_UNITY_TESTS AND CMAKE_VERSION VERSION_GREATER_EQUAL 3.18)
    set(index 0)
    foreach(source IN LISTS kvforge_test_sources)
        if(source MATCHES "/tests/(unit|reliability)/" AND NOT source MATCHES "/extern_template_test\\.cpp$")
            math(EXPR group "${index} / 8")
            set_source_files_properties(${source} PROPERTIES UNITY_GROUP tests_${group})
            math(EXPR index "${index} + 1")
        endif()
    endforeach()
    set_target_properties(kvforge_tests PROPERTIES UNITY_BUILD ON UNITY_BUILD_MODE GROUP)
endif()
# The tests check behaviour, not speed: KVFORGE_TEST_COMPILE_OPTIONS can build them at a
# lower optimisation level than the benchmarks and the tool, at a fraction of the compile time.
separate_arguments(kvforge_test_compile_options UNIX_COMMAND "${KVFORGE_TEST_COMPILE_OPTIONS}")
target_compile_options(kvforge_tests PRIVATE ${kvforge_test_compile_options})
# The fuzz regression test replays the inputs under fuzz/; the upgrade test opens the
# stores of earlier releases under tests/fixtures/.
target_compile_definitions(kvforge_tests PRIVATE KVFORGE_FUZZ_DIR="${PROJECT_SOURCE_DIR}/fuzz"
    KVFORGE_FIXTURES_DIR="${PROJECT_SOURCE_DIR}/tests/fixtures")
if(KVFORGE_CONFORMANCE STREQUAL "pairwise")
    target_compile_definitions(kvforge_tests PRIVATE KVFORGE_TEST_PAIRWISE_CONFIGS=1)
elseif(KVFORGE_CONFORMANCE STREQUAL "each")
    target_compile_definitions(kvforge_tests PRIVATE KVFORGE_TEST_EACH_CONFIGS=1)
elseif(NOT KVFORGE_CONFORMANCE STREQUAL "full")
    message(FATAL_ERROR "kvforge: KVFORGE_CONFORMANCE is '${KVFORGE_CONFORMANCE}'; it takes full, pairwise or each")
endif()

# Catch2's --filenames-as-tags tags each test case [#<file stem>], so every test source gets
# its own CTest entry (readable output, and ctest -j runs them side by side). "~[.]" keeps
# hidden tests hidden; --warn NoTests fails an entry that selects nothing. A last entry runs
# whatever no file tag selects, such as test cases defined in a shared header.
set(kvforge_sanitizer_env
    "ASAN_OPTIONS=detect_leaks=1:abort_on_error=0"
    "UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1"
    "TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1")
# kvforge_test_run(NAME COMMAND...): a CTest entry that runs a test binary, with the
# sanitizers' options; none under KVFORGE_TEST_SYNTAX_ONLY, which builds no binary.
function(kvforge_test_run name)
    if(NOT KVFORGE_TEST_SYNTAX_ONLY)
        add_test(NAME ${name} COMMAND ${ARGN})
        set_tests_properties(${name} PROPERTIES TIMEOUT 1200 ENVIRONMENT "${kvforge_sanitizer_env}")
    endif()
endfunction()
set(kvforge_unselected "")
foreach(source IN LISTS kvforge_test_sources)
    get_filename_component(stem ${source} NAME_WLE)
    if(stem IN_LIST kvforge_test_stems)
        message(FATAL_ERROR "kvforge: two test sources are named ${stem}.cpp; file tags need distinct names")
    endif()
    list(APPEND kvforge_test_stems ${stem})
    get_filename_component(suite_dir ${source} DIRECTORY)
    get_filename_component(suite ${suite_dir} NAME)
    kvforge_test_run(${suite}/${stem} kvforge_tests "[#${stem}]~[.]" --filenames-as-tags --warn NoTests)
    string(APPEND kvforge_unselected "~[#${stem}]")
endforeach()
kvforge_test_run(other_test_cases kvforge_tests "${kvforge_unselected}~[.]" --filenames-as-tags)

# The codecs' tests, a binary of their own that links libzstd and liblz4, built only when
# kvforge::zstd and kvforge::lz4 are found (Debian: libzstd-dev liblz4-dev). The codec headers
# are not part of the single header, so a KVFORGE_SINGLE_INCLUDE build leaves them out.
if(KVFORGE_ZSTD_FOUND AND KVFORGE_LZ4_FOUND AND NOT KVFORGE_SINGLE_INCLUDE)
    kvforge_test_binary(kvforge_compression_tests $<TARGET_OBJECTS:kvforge_catch_main> ${kvforge_compression_test_sources})
    target_link_libraries(kvforge_compression_tests PRIVATE kvforge_under_test kvforge::zstd kvforge::lz4
        Catch2::Catch2 kvforge_project_options)
    target_compile_options(kvforge_compression_tests PRIVATE ${kvforge_test_compile_options})
    kvforge_test_run(compression kvforge_compression_tests "~[.]" --warn NoTests)
else()
    message(STATUS "kvforge: libzstd or liblz4 not found; kvforge_compression_tests is not built")
endif()

# The Redis Cluster store's tests, a binary of their own that links hiredis, built where
# kvforge::redis_cluster is found (Debian: libhiredis-dev). They need a running cluster, so they
# are no CTest entry: `tools/test.sh redis` starts one (tools/redis_cluster.sh), builds only these
# targets and runs them with KVFORGE_REDIS_SEEDS naming the nodes. EXCLUDE_FROM_ALL keeps them out
# of the other stages' builds. kvforge_redis_conformance_tests is the conformance suite on the
# redis_cluster configurations of store_configs.hpp: the sources with something to test on a
# store without files (the others only test files, ordered scans, caches or test_clock).
if(KVFORGE_REDIS_FOUND AND NOT KVFORGE_SINGLE_INCLUDE)
    file(GLOB kvforge_redis_test_sources CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/tests/redis/*.cpp)
    add_executable(kvforge_redis_tests EXCLUDE_FROM_ALL $<TARGET_OBJECTS:kvforge_catch_main> ${kvforge_redis_test_sources})
    target_link_libraries(kvforge_redis_tests PRIVATE kvforge::redis_cluster Catch2::Catch2 kvforge_project_options)
    target_compile_options(kvforge_redis_tests PRIVATE ${kvforge_test_compile_options})
    set(kvforge_redis_conformance_sources basic_test.cpp bytes_written_test.cpp concurrency_test.cpp
        model_test.cpp persistence_test.cpp stress_test.cpp)
    list(TRANSFORM kvforge_redis_conformance_sources PREPEND ${PROJECT_SOURCE_DIR}/tests/conformance/)
    add_executable(kvforge_redis_conformance_tests EXCLUDE_FROM_ALL $<TARGET_OBJECTS:kvforge_catch_main>
        ${kvforge_redis_conformance_sources})
    target_link_libraries(kvforge_redis_conformance_tests PRIVATE kvforge::redis_cluster Catch2::Catch2
        kvforge_project_options)
    target_compile_definitions(kvforge_redis_conformance_tests PRIVATE KVFORGE_TEST_REDIS_CONFIGS=1)
    target_compile_options(kvforge_redis_conformance_tests PRIVATE ${kvforge_test_compile_options})
endif()

# The conformance suite on kvforge::disk_index (a header outside the umbrella, so outside the
# single header's build): every source but cache_test, whose bounded<> and read_cache<>
# stores the table store does not take; and the unit test of an expiring reader's refresh(),
# which runs on store_configs.hpp's expiring stores.
# Under KVFORGE_TEST_SOURCES=threads, the ones that start threads.
if(NOT KVFORGE_SINGLE_INCLUDE)
    if(KVFORGE_TEST_SOURCES STREQUAL "threads")
        set(kvforge_table_conformance_sources backup_test.cpp concurrency_test.cpp snapshot_test.cpp
            stress_test.cpp)
    else()
        set(kvforge_table_conformance_sources backup_test.cpp basic_test.cpp bytes_written_test.cpp
            concurrency_test.cpp crash_test.cpp expiry_test.cpp manifest_written_test.cpp model_test.cpp
            opening_test.cpp persistence_test.cpp readers_test.cpp scan_contract_test.cpp scan_order_test.cpp
            segments_test.cpp snapshot_test.cpp stress_test.cpp user_durability_test.cpp
            ../unit/expiry_refresh_test.cpp)
    endif()
    list(TRANSFORM kvforge_table_conformance_sources PREPEND ${PROJECT_SOURCE_DIR}/tests/conformance/)
    # In two groups, as kvforge_tests compiles them; the groups are files that include the
    # sources, since a source's UNITY_GROUP is the same in every target that compiles it.
    if(KVFORGE_UNITY_CONFORMANCE AND CMAKE_VERSION VERSION_GREATER_EQUAL 3.18)
        set(group_a "")
        set(group_b "")
        set(group a)
        foreach(source IN LISTS kvforge_table_conformance_sources)
            string(APPEND group_${group} "#include \"${source}\"\n")
            if(group STREQUAL a)
                set(group b)
            else()
                set(group a)
            endif()
        endforeach()
        set(kvforge_table_conformance_sources "")
        foreach(group IN ITEMS a b)
            set(unity_source ${CMAKE_CURRENT_BINARY_DIR}/table_conformance_${group}.cpp)
            file(CONFIGURE OUTPUT ${unity_source} CONTENT "${group_${group}}")
            list(APPEND kvforge_table_conformance_sources ${unity_source})
        endforeach()
    endif()
    kvforge_test_binary(kvforge_table_conformance_tests $<TARGET_OBJECTS:kvforge_catch_main>
        ${kvforge_table_conformance_sources})
    target_link_libraries(kvforge_table_conformance_tests PRIVATE kvforge_under_test Catch2::Catch2
        kvforge_project_options)
    target_compile_definitions(kvforge_table_conformance_tests PRIVATE KVFORGE_TEST_DISK_INDEX_CONFIGS=1
        KVFORGE_FUZZ_DIR="${PROJECT_SOURCE_DIR}/fuzz" KVFORGE_FIXTURES_DIR="${PROJECT_SOURCE_DIR}/tests/fixtures")
    if(KVFORGE_CONFORMANCE STREQUAL "each")
        target_compile_definitions(kvforge_table_conformance_tests PRIVATE KVFORGE_TEST_EACH_CONFIGS=1)
    endif()
    target_compile_options(kvforge_table_conformance_tests PRIVATE ${kvforge_test_compile_options})
    kvforge_test_run(conformance/disk_index kvforge_table_conformance_tests "~[.]" --warn NoTests)
endif()

# The compiled mode's test, a binary of its own that links kvforge::compiled (and so builds
# it). Left out of the sanitizer builds, which would need the library built with them too,
# and of the single header's, which the library is not built from.
if(TARGET kvforge_compiled AND NOT KVFORGE_SANITIZE AND NOT KVFORGE_SINGLE_INCLUDE AND KVFORGE_TEST_SOURCES STREQUAL "all")
    target_compile_options(kvforge_compiled PRIVATE ${kvforge_warning_flags})
    add_executable(kvforge_compiled_tests $<TARGET_OBJECTS:kvforge_catch_main>
        ${PROJECT_SOURCE_DIR}/tests/compiled/compiled_mode_test.cpp)
    target_link_libraries(kvforge_compiled_tests PRIVATE kvforge::compiled Catch2::Catch2 kvforge_project_options)
    target_compile_options(kvforge_compiled_tests PRIVATE ${kvforge_test_compile_options})
    add_test(NAME compiled COMMAND kvforge_compiled_tests "~[.]" --warn NoTests)
    set_tests_properties(compiled PROPERTIES TIMEOUT 600)
endif()

# The checks below run the compiler directly, with GCC/Clang options.
add_test(NAME single_include_fresh
    COMMAND ${Python3_EXECUTABLE} ${PROJECT_SOURCE_DIR}/tools/amalgamate.py --check)
# KVFORGE_COMPILE_CHECKS=OFF leaves them to another build: they compile without sanitizers,
# and what they check (a header includes what it uses, a misuse fails with its message) is
# the same with g++ and clang++, so tools/test.sh runs them in its gcc stage alone.
if(CMAKE_CXX_COMPILER_ID MATCHES "GNU|Clang" AND KVFORGE_COMPILE_CHECKS)
    # The codec headers, and their compile-fail cases, are checked where their library is found.
    set(kvforge_compile_check_without "")
    if(NOT KVFORGE_ZSTD_FOUND OR KVFORGE_SINGLE_INCLUDE)
        list(APPEND kvforge_compile_check_without --without zstd)
    endif()
    if(NOT KVFORGE_LZ4_FOUND OR KVFORGE_SINGLE_INCLUDE)
        list(APPEND kvforge_compile_check_without --without lz4)
    endif()
    if(NOT KVFORGE_REDIS_FOUND OR KVFORGE_SINGLE_INCLUDE)
        list(APPEND kvforge_compile_check_without --without redis)
    endif()
    # disk_index.hpp is outside the umbrella, so outside the single header too.
    if(KVFORGE_SINGLE_INCLUDE)
        list(APPEND kvforge_compile_check_without --without disk_index)
    endif()
    set(kvforge_compile_check ${Python3_EXECUTABLE} ${PROJECT_SOURCE_DIR}/tools/compile_check.py)
    # Whether a header includes what it uses depends on the standard library's headers, not on
    # the compiler: a sanitizer build (clang's, in tools/test.sh) leaves this to the gcc build.
    if(NOT KVFORGE_SANITIZE)
        add_test(NAME headers_self_contained
            COMMAND ${kvforge_compile_check} headers --include ${PROJECT_SOURCE_DIR}/include
                    ${kvforge_compile_check_without} -- ${CMAKE_CXX_COMPILER} ${kvforge_warning_flags})
    endif()
    add_test(NAME policy_headers_suffice
        COMMAND ${kvforge_compile_check} pass --include ${PROJECT_SOURCE_DIR}/include
                ${PROJECT_SOURCE_DIR}/tests/policy_headers -- ${CMAKE_CXX_COMPILER} ${kvforge_warning_flags})
    # The cases share one precompiled umbrella (with g++), written before them by a fixture.
    set(kvforge_compile_fail_pch ${CMAKE_CURRENT_BINARY_DIR}/compile_fail_pch)
    add_test(NAME compile_fail/precompile_umbrella
        COMMAND ${kvforge_compile_check} precompile --include ${kvforge_test_include}
                --pch ${kvforge_compile_fail_pch} -- ${CMAKE_CXX_COMPILER})
    set_tests_properties(compile_fail/precompile_umbrella PROPERTIES FIXTURES_SETUP kvforge_umbrella_pch)
    file(GLOB kvforge_compile_fail_cases CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/tests/compile_fail/*.cpp)
    foreach(case IN LISTS kvforge_compile_fail_cases)
        get_filename_component(stem ${case} NAME_WLE)
        add_test(NAME compile_fail/${stem}
            COMMAND ${kvforge_compile_check} fail --include ${kvforge_test_include} --pch ${kvforge_compile_fail_pch}
                    ${case} ${kvforge_compile_check_without} -- ${CMAKE_CXX_COMPILER})
        set_tests_properties(compile_fail/${stem} PROPERTIES FIXTURES_REQUIRED kvforge_umbrella_pch)
    endforeach()
endif()

# The command-line tool, tested end to end: tests/tool/kvforge_tool_test.py runs the built
# binary and checks its output and exit codes, on stores that make_stores writes too.
if(TARGET kvforge_tool)
    add_executable(kvforge_tool_test_stores ${PROJECT_SOURCE_DIR}/tests/tool/make_stores.cpp)
    target_link_libraries(kvforge_tool_test_stores PRIVATE kvforge_under_test kvforge_project_options)
    target_compile_options(kvforge_tool_test_stores PRIVATE ${kvforge_test_compile_options})
    add_test(NAME tool/kvforge
        COMMAND ${Python3_EXECUTABLE} ${PROJECT_SOURCE_DIR}/tests/tool/kvforge_tool_test.py
                $<TARGET_FILE:kvforge_tool> $<TARGET_FILE:kvforge_tool_test_stores>)
    set_tests_properties(tool/kvforge PROPERTIES TIMEOUT 1200 ENVIRONMENT "${kvforge_sanitizer_env}")
endif()

# CTest starts the tests it timed longest first, from its record of earlier runs; a fresh build
# has none, and a long test that starts last holds up the end of the run. These costs (seconds
# under AddressSanitizer, the slowest build) stand in for that record until there is one.
foreach(test_cost IN ITEMS reliability/power_loss_test=220 headers_self_contained=160 conformance/disk_index=115
        tool/kvforge=105 conformance/cache_test=70 compression=65 reliability/bit_rot_test=65
        unit/sorted_segments_test=55 conformance/crash_test=55 reliability/races_test=45)
    string(REPLACE "=" ";" test_cost ${test_cost})
    list(GET test_cost 0 test_name)
    list(GET test_cost 1 cost)
    if(TEST ${test_name})
        set_tests_properties(${test_name} PROPERTIES COST ${cost})
    endif()
endforeach()
