#!/usr/bin/env bash
# Takes kvforge in each way a user can, in tiny projects outside the source tree, and runs the
# program each one builds (tests/consumers/program.cpp + memory_check.cpp: a memory store and a
# file_log store, written and read back), and where the codec targets are taken in too,
# compression_program (tests/consumers/compression.cpp: zstd and lz4 through kvforge::zstd and
# kvforge::lz4, meson's kvforge-zstd and kvforge-lz4, or the pkg-config files of those names):
#
#   add_subdirectory  CMake, the tree copied into the project; no kvforge test target may appear
#   install           cmake --install to a temporary prefix, as the Conan and vcpkg recipes run it
#   unbuilt           cmake --install of the whole tree, configured and not built: the headers only
#   tool              cmake --install of the whole tree, built with KVFORGE_BUILD_COMPILED: bin/kvforge
#                     is installed and runs
#   find_package      CMake package from that prefix, version 0.1; version 99 must fail
#   compiled          the compiled mode from the tool step's install: kvforge::compiled found as a
#                     package and kvforge-compiled.pc; the program (tests/consumers/compiled.cpp)
#                     must leave open_store's work to the library, and at -O2 its store's engine
#   fetch_content     CMake FetchContent from a .tar.gz of the tree
#   meson             the tree as subprojects/kvforge, dependency('kvforge'), and dependency('kvforge-compiled')
#   single_header     single_include/kvforge/kvforge.hpp alone, with g++ and with clang++
#   pkg_config        pkg-config --cflags --libs kvforge from the prefix
#   recipes           the Conan test_package against the prefix; recipe versions match the headers
#
# Stops at the first failure and keeps its work directory to look into; removes it on success.
# KVFORGE_GCC and KVFORGE_CLANG choose the compilers (default g++ and clang++-14).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

gcc=${KVFORGE_GCC:-g++}
clang=${KVFORGE_CLANG:-clang++-14}
bash tools/install-deps.sh g++ clang-14 cmake ninja-build meson pkg-config libzstd-dev liblz4-dev

work=$(mktemp -d "${TMPDIR:-/tmp}/kvforge-consumers.XXXXXX")
current="setup"
start=$SECONDS
finish() {
    local status=$?
    if [ $status -eq 0 ]; then
        rm -rf "$work"
    else
        printf '\n==== consumer_tests.sh: FAILED in %s (exit %d); work directory kept: %s ====\n' \
            "$current" $status "$work" >&2
    fi
}
trap finish EXIT
export TMPDIR=$work  # the programs' stores go there too

banner() { current=${1%%:*}; printf '\n==== %s ====\n' "$*"; }
fail() { echo "consumer_tests.sh: $*" >&2; exit 1; }

# cmake_consumer NAME [CMAKE_OPTIONS...]: configure and build tests/consumers/NAME, run its program.
cmake_consumer() {
    local name=$1
    shift
    cmake -S "$work/consumers/$name" -B "$work/build/$name" -G Ninja --log-level=WARNING \
        -DCMAKE_CXX_COMPILER="$gcc" "$@"
    cmake --build "$work/build/$name" -j2
    "$work/build/$name/program"
    "$work/build/$name/compression_program"
}

# no_kvforge_internals BUILD_DIR: a consumer build must not get kvforge's tests, examples or benchmarks.
no_kvforge_internals() {
    local targets
    targets=$(cmake --build "$1" --target help)
    if grep -E 'kvforge_(tests|compression_|example_|bench|tool)' <<<"$targets"; then
        fail "kvforge's own targets leaked into the consumer build $1"
    fi
}

version=$(sed -n 's/^#define KVFORGE_VERSION_\(MAJOR\|MINOR\|PATCH\) \([0-9]*\)$/\2/p' include/kvforge/version.hpp | paste -sd.)

# The tree as a user gets it: every file git knows of, committed or new, and none of build/.
mkdir "$work/kvforge"
git ls-files -z --cached --others --exclude-standard |
    tar --null --ignore-failed-read -T - -cf - | tar -xf - -C "$work/kvforge"
cp -R tests/consumers "$work/consumers"

banner "add_subdirectory: kvforge copied into the project"
cp -R "$work/kvforge" "$work/consumers/add_subdirectory/kvforge"
cmake_consumer add_subdirectory
no_kvforge_internals "$work/build/add_subdirectory"

# Conan runs this in the recipe's build() and package() (CMakeToolchain sets the same options),
# vcpkg in vcpkg_cmake_configure() and vcpkg_cmake_install(). Conan exports only these files, so
# the package is built from them alone.
banner "install: cmake --install of CMakeLists.txt, cmake/ and include/ to a temporary prefix"
prefix=$work/prefix
mkdir "$work/exported"
tar -C "$work/kvforge" -cf - CMakeLists.txt cmake include | tar -xf - -C "$work/exported"
cmake -S "$work/exported" -B "$work/build/package" -G Ninja --log-level=WARNING -DCMAKE_CXX_COMPILER="$gcc" \
    -DKVFORGE_BUILD_TESTS=OFF -DKVFORGE_BUILD_EXAMPLES=OFF -DKVFORGE_BUILD_BENCH=OFF -DKVFORGE_BUILD_TOOL=OFF \
    -DKVFORGE_INSTALL=ON
cmake --install "$work/build/package" --prefix "$prefix" >/dev/null
diff <(cd "$work/exported/include" && find . -type f | sort) <(cd "$prefix/include" && find . -type f | sort) ||
    fail "the installed headers differ from include/"
for file in kvforgeConfig.cmake kvforgeConfigVersion.cmake kvforgeTargets.cmake; do
    [ -f "$prefix/share/cmake/kvforge/$file" ] || fail "share/cmake/kvforge/$file is not installed"
done
[ -f "$prefix/share/cmake/kvforge/kvforgeCompression.cmake" ] || fail "share/cmake/kvforge/kvforgeCompression.cmake is not installed"
for pc in kvforge kvforge-zstd kvforge-lz4; do
    [ -f "$prefix/share/pkgconfig/$pc.pc" ] || fail "share/pkgconfig/$pc.pc is not installed"
done
if [ -e "$prefix/lib" ] || [ -e "$prefix/bin" ]; then
    fail "a header-only library must install nothing under lib/ or bin/"
fi
# ARCH_INDEPENDENT: the version file must accept a project with other pointers (here 32-bit ones).
cat >"$work/arch_check.cmake" <<'EOF'
cmake_minimum_required(VERSION 3.14)
include(${version_file})
if(PACKAGE_VERSION_UNSUITABLE OR NOT PACKAGE_VERSION_COMPATIBLE)
    message(FATAL_ERROR "kvforgeConfigVersion.cmake refuses a 32-bit project: it must be ARCH_INDEPENDENT")
endif()
EOF
cmake -Dversion_file="$prefix/share/cmake/kvforge/kvforgeConfigVersion.cmake" -DCMAKE_SIZEOF_VOID_P=4 \
    -DPACKAGE_FIND_VERSION="$version" -DPACKAGE_FIND_VERSION_MAJOR="${version%%.*}" -P "$work/arch_check.cmake"
echo "installed $(find "$prefix" -type f | wc -l) files to $prefix"

# The whole tree, configured and not built: a header-only library installs without a build,
# so the headers go in and the tool, which was not built, is left out.
banner "unbuilt: cmake --install of the whole tree, configured and never built, installs the headers"
cmake -S "$work/kvforge" -B "$work/build/unbuilt" -G Ninja --log-level=WARNING -DCMAKE_CXX_COMPILER="$gcc" \
    -DCMAKE_BUILD_TYPE= -DKVFORGE_BUILD_TESTS=OFF -DKVFORGE_BUILD_EXAMPLES=OFF -DKVFORGE_BUILD_BENCH=OFF
cmake --install "$work/build/unbuilt" --prefix "$work/unbuilt-prefix" >/dev/null ||
    fail "cmake --install of a configured, unbuilt tree failed"
[ -f "$work/unbuilt-prefix/include/kvforge/kvforge.hpp" ] || fail "an unbuilt tree's install left out the headers"
[ ! -e "$work/unbuilt-prefix/bin/kvforge" ] || fail "an unbuilt tree's install put a kvforge tool in bin/"
echo "the headers installed from an unbuilt tree"

# The whole tree, as a user who builds kvforge from source installs it: the tool comes along,
# and with KVFORGE_BUILD_COMPILED the compiled mode's library, which the next step but one
# checks. (One build of both keeps the two cores busy to its end. Built without optimisation,
# no build type: these steps check what is installed; the gcc stage compiled the library at
# -O1 already, and the meson and asan stages build the tool.)
banner "tool: cmake --install of the whole tree installs bin/kvforge, which runs"
cmake -S "$work/kvforge" -B "$work/build/whole" -G Ninja --log-level=WARNING -DCMAKE_CXX_COMPILER="$gcc" \
    -DCMAKE_BUILD_TYPE= -DKVFORGE_BUILD_TESTS=OFF -DKVFORGE_BUILD_EXAMPLES=OFF -DKVFORGE_BUILD_BENCH=OFF \
    -DKVFORGE_BUILD_COMPILED=ON
cmake --build "$work/build/whole" -j2
whole_prefix=$work/whole-prefix
cmake --install "$work/build/whole" --prefix "$whole_prefix" >/dev/null
[ -x "$whole_prefix/bin/kvforge" ] || fail "cmake --install did not install bin/kvforge"
"$whole_prefix/bin/kvforge" put "$work/tool-store" greeting hello --as file_log,sorted
[ "$("$whole_prefix/bin/kvforge" get "$work/tool-store" greeting)" = hello ] ||
    fail "the installed kvforge tool did not read back what it wrote"
echo "bin/kvforge installed; it writes and reads a store"

# What a vcpkg user does too, after the port's vcpkg_cmake_config_fixup() has moved these CMake files.
banner "find_package: kvforge 0.1 from the prefix"
cmake_consumer find_package -DCMAKE_PREFIX_PATH="$prefix"
echo "find_package(kvforge 99) must fail:"
if cmake -S "$work/consumers/find_package" -B "$work/build/find_package_99" -G Ninja \
        -DCMAKE_PREFIX_PATH="$prefix" -DKVFORGE_WANTED_VERSION=99 >"$work/find_package_99.log" 2>&1; then
    fail "find_package(kvforge 99) found kvforge $version"
fi
grep -B1 'compatible with requested version "99"' "$work/find_package_99.log" ||
    fail "find_package(kvforge 99) failed for another reason; see $work/find_package_99.log"

# What a user who wants the compiled mode installs: the library, its CMake targets and its .pc,
# here from the tool step's build.
banner "compiled: the compiled mode installed, found with find_package and with pkg-config"
for file in lib/libkvforge_compiled.a lib/cmake/kvforge/kvforgeCompiledTargets.cmake lib/pkgconfig/kvforge-compiled.pc; do
    [ -f "$whole_prefix/$file" ] || fail "$file is not installed with KVFORGE_BUILD_COMPILED"
done
cmake -S "$work/consumers/compiled" -B "$work/build/compiled" -G Ninja --log-level=WARNING \
    -DCMAKE_CXX_COMPILER="$gcc" -DCMAKE_PREFIX_PATH="$whole_prefix"
cmake --build "$work/build/compiled" -j2
"$work/build/compiled/compiled_program"
# The program names open_store's work (kvforge::detail::open_any_store, whose demangled
# name is too long for nm -C) and the library defines it: it was not compiled here.
# (nm's output is kept first: grep -q stops reading, which pipefail would count as nm failing.)
symbols=$(nm "$(find "$work/build/compiled" -name 'compiled.cpp.o')")
grep -q ' U _ZN7kvforge6detail14open_any_store' <<<"$symbols" ||
    fail "the compiled mode's program does not take open_store's work from the library"
if grep -E -q ' [TtWw] _ZN7kvforge6detail14open_any_store' <<<"$symbols"; then
    fail "the compiled mode's program compiled open_store's work itself"
fi
echo "the program leaves open_store's work to libkvforge_compiled.a"
compiled_pc_path=$whole_prefix/lib/pkgconfig:$whole_prefix/share/pkgconfig
echo "kvforge-compiled: $(PKG_CONFIG_PATH=$compiled_pc_path pkg-config --cflags --libs kvforge-compiled)"
# shellcheck disable=SC2046  # the flags are words
"$gcc" -std=c++20 $(PKG_CONFIG_PATH=$compiled_pc_path pkg-config --cflags kvforge-compiled) \
    "$work/consumers/compiled.cpp" $(PKG_CONFIG_PATH=$compiled_pc_path pkg-config --libs kvforge-compiled) \
    -o "$work/pkg-config-compiled"
"$work/pkg-config-compiled"
# Optimised, the compiler still compiles what it inlines of a store the library holds, but
# none of its engine's members: it calls the library's (kvforge::detail::log_backend).
# shellcheck disable=SC2046  # the flags are words
"$gcc" -std=c++20 -O2 $(PKG_CONFIG_PATH=$compiled_pc_path pkg-config --cflags kvforge-compiled) \
    -c "$work/consumers/compiled.cpp" -o "$work/compiled-O2.o"
symbols=$(nm "$work/compiled-O2.o")
grep -q ' U _ZN7kvforge6detail11log_backend' <<<"$symbols" ||
    fail "the compiled mode's program at -O2 does not take its store's engine from the library"
if grep -E -q ' [TtWw] _ZN7kvforge6detail11log_backend' <<<"$symbols"; then
    fail "the compiled mode's program at -O2 compiled its store's engine itself"
fi
echo "at -O2, the program leaves its store's engine to libkvforge_compiled.a"

banner "fetch_content: FetchContent from kvforge-$version.tar.gz"
archive=$work/kvforge-$version.tar.gz
tar -C "$work" -czf "$archive" kvforge
cmake_consumer fetch_content -DKVFORGE_ARCHIVE="$archive" \
    -DKVFORGE_ARCHIVE_SHA256="$(sha256sum "$archive" | cut -d' ' -f1)"
no_kvforge_internals "$work/build/fetch_content"

# --force-fallback-for: use the subproject even where a kvforge is installed on the system.
# --buildtype=plain: no -g (meson's default adds it), which would only slow this check.
banner "meson: subprojects/kvforge through dependency('kvforge')"
mkdir "$work/consumers/meson/subprojects"
cp -R "$work/kvforge" "$work/consumers/meson/subprojects/kvforge"
CXX=$gcc meson setup "$work/build/meson" "$work/consumers/meson" --force-fallback-for=kvforge --buildtype=plain >"$work/meson-setup.log" ||
    { cat "$work/meson-setup.log"; fail "meson setup failed"; }
meson compile -C "$work/build/meson" -j 2
"$work/build/meson/program"
"$work/build/meson/compression_program"
"$work/build/meson/compiled_program"

banner "single_header: single_include/kvforge/kvforge.hpp alone, two translation units"
mkdir -p "$work/single/kvforge"
cp single_include/kvforge/kvforge.hpp "$work/single/kvforge/"
for cxx in "$gcc" "$clang"; do
    echo "$cxx -std=c++20 -I<folder> -pthread"
    "$cxx" -std=c++20 -I"$work/single" -pthread "$work/consumers/program.cpp" "$work/consumers/memory_check.cpp" \
        -o "$work/single/program"
    "$work/single/program"
done

banner "pkg_config: pkg-config --cflags --libs kvforge from the prefix"
export PKG_CONFIG_PATH=$prefix/share/pkgconfig
echo "cflags: $(pkg-config --cflags kvforge)  libs: $(pkg-config --libs kvforge)"
[ "$(cd "$(pkg-config --variable=includedir kvforge)" && pwd -P)" = "$(cd "$prefix/include" && pwd -P)" ] ||
    fail "kvforge.pc points to $(pkg-config --variable=includedir kvforge), not to $prefix/include"
# shellcheck disable=SC2046  # the flags are words
"$gcc" -std=c++20 $(pkg-config --cflags kvforge) "$work/consumers/program.cpp" "$work/consumers/memory_check.cpp" \
    $(pkg-config --libs kvforge) -o "$work/pkg-config-program"
"$work/pkg-config-program"
echo "codecs: $(pkg-config --cflags --libs kvforge-zstd kvforge-lz4)"
# shellcheck disable=SC2046  # the flags are words
"$gcc" -std=c++20 $(pkg-config --cflags kvforge-zstd kvforge-lz4) "$work/consumers/compression.cpp" \
    $(pkg-config --libs kvforge-zstd kvforge-lz4) -o "$work/pkg-config-compression"
"$work/pkg-config-compression"

# Conan's test_package is plain CMake: here it finds kvforge's own package, under Conan the one
# that package_info() describes (same file name kvforge, same target kvforge::kvforge).
banner "recipes: Conan test_package against the prefix; versions of the recipes"
cmake -S packaging/conan/test_package -B "$work/build/test_package" -G Ninja --log-level=WARNING \
    -DCMAKE_CXX_COMPILER="$gcc" -DCMAKE_PREFIX_PATH="$prefix"
cmake --build "$work/build/test_package" -j2
"$work/build/test_package/test_package"
[ "$(pkg-config --modversion kvforge)" = "$version" ] || fail "kvforge.pc says $(pkg-config --modversion kvforge), not $version"
grep -q "^    version = \"$version\"$" packaging/conan/conanfile.py || fail "conanfile.py is not at version $version"
grep -q "^  \"version\": \"$version\",$" packaging/vcpkg/vcpkg.json || fail "vcpkg.json is not at version $version"
echo "kvforge.pc, conanfile.py and vcpkg.json are at version $version"

current="summary"
printf '\n==== consumer_tests.sh: every way of taking in kvforge works (%ds) ====\n' $((SECONDS - start))
