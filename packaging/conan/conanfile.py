"""Conan 2 recipe for kvforge, a header-only C++20 library.

From the repository root:  conan create packaging/conan -s compiler.cppstd=20
The package is what kvforge's own `cmake --install` produces (tests, examples,
benchmarks and the command-line tool off), without the CMake and pkg-config files: Conan writes its own from
package_info(). tools/consumer_tests.sh runs the same configure, install and
find_package steps without Conan.
"""

import os

from conan import ConanFile
from conan.errors import ConanInvalidConfiguration
from conan.tools.build import check_min_cppstd
from conan.tools.cmake import CMake, CMakeToolchain, cmake_layout
from conan.tools.files import copy, rmdir


class KvforgeConan(ConanFile):
    name = "kvforge"
    version = "0.1.0"
    description = "A header-only C++20 key-value store assembled from policies"
    license = "MIT"
    topics = ("key-value", "storage", "database", "header-only")
    package_type = "header-library"  # Conan clears the package id: one package for every configuration
    settings = "os", "arch", "compiler", "build_type"
    no_copy_source = True

    def export_sources(self):
        # The recipe lives two levels below the repository root.
        root = os.path.join(self.recipe_folder, "..", "..")
        for pattern in ("CMakeLists.txt", "cmake/*", "include/*", "LICENSE"):
            copy(self, pattern, src=root, dst=self.export_sources_folder)

    def validate(self):
        check_min_cppstd(self, 20)
        if self.settings.os == "Windows":
            raise ConanInvalidConfiguration("kvforge needs POSIX (files, mmap, fdatasync)")

    def layout(self):
        cmake_layout(self)

    def generate(self):
        toolchain = CMakeToolchain(self)
        toolchain.cache_variables["KVFORGE_BUILD_TESTS"] = False
        toolchain.cache_variables["KVFORGE_BUILD_EXAMPLES"] = False
        toolchain.cache_variables["KVFORGE_BUILD_BENCH"] = False
        toolchain.cache_variables["KVFORGE_BUILD_TOOL"] = False  # the package is the headers alone
        toolchain.cache_variables["KVFORGE_INSTALL"] = True
        toolchain.generate()

    def build(self):
        CMake(self).configure()

    def package(self):
        CMake(self).install()
        copy(self, "LICENSE", src=self.source_folder, dst=os.path.join(self.package_folder, "licenses"))
        rmdir(self, os.path.join(self.package_folder, "share"))

    def package_info(self):
        self.cpp_info.bindirs = []
        self.cpp_info.libdirs = []
        self.cpp_info.set_property("cmake_file_name", "kvforge")
        self.cpp_info.set_property("cmake_target_name", "kvforge::kvforge")
        self.cpp_info.set_property("pkg_config_name", "kvforge")
        if self.settings.os in ("Linux", "FreeBSD"):
            self.cpp_info.system_libs = ["pthread"]
