# vcpkg port of kvforge, used from this repository as an overlay port:
#   vcpkg install kvforge --overlay-ports=packaging/vcpkg
# It builds from this source tree; a port in a registry would take the release archive
# instead, with vcpkg_from_github(OUT_SOURCE_PATH SOURCE_PATH REPO ... REF "v${VERSION}" SHA512 ...).
# The features zstd and lz4 install those libraries, where kvforge's CMake package then finds
# them and defines kvforge::zstd and kvforge::lz4 (`vcpkg install kvforge[zstd,lz4] ...`).
# tools/consumer_tests.sh runs the same configure, install and find_package steps without vcpkg.
set(VCPKG_BUILD_TYPE release)  # header-only: a debug build would install the same files
get_filename_component(SOURCE_PATH "${CMAKE_CURRENT_LIST_DIR}/../.." ABSOLUTE)  # the repository root

vcpkg_cmake_configure(
    SOURCE_PATH "${SOURCE_PATH}"
    OPTIONS
        -DKVFORGE_BUILD_TESTS=OFF
        -DKVFORGE_BUILD_EXAMPLES=OFF
        -DKVFORGE_BUILD_BENCH=OFF
        -DKVFORGE_BUILD_TOOL=OFF
        -DKVFORGE_INSTALL=ON
)
vcpkg_cmake_install()

# kvforge installs its CMake package to share/cmake/kvforge; vcpkg wants it in share/kvforge.
vcpkg_cmake_config_fixup(CONFIG_PATH share/cmake/kvforge)
vcpkg_fixup_pkgconfig()

vcpkg_install_copyright(FILE_LIST "${SOURCE_PATH}/LICENSE")
