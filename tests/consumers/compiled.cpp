// The compiled mode's consumer program: it links kvforge::compiled (CMake), the meson
// dependency kvforge-compiled or pkg-config's kvforge-compiled, so kvforge.hpp declares
// open_store<std::string, std::string> and the common stores instead of compiling them.
// It opens a store by spec, reopens it from its MANIFEST, uses a store type the library
// holds, and exits non-zero on any mismatch.

#include <kvforge/kvforge.hpp>

#include <cstdio>
#include <cstdlib>
#include <exception>
#include <filesystem>
#include <string>

#ifndef KVFORGE_COMPILED_LIB
#error "the compiled mode's target must define KVFORGE_COMPILED_LIB"
#endif

namespace {

bool stores_work(const std::string& dir) {
    {
        auto blocks = kvforge::open_store<std::string, std::string>("file_log,sorted:" + dir + "/blocks");
        blocks.put("block-1", "first");
        blocks.put("block-2", "second");
        blocks.erase("block-1");
    }
    auto blocks = kvforge::open_store<std::string, std::string>(dir + "/blocks");  // from its MANIFEST
    {
        kvforge::store<std::string, std::string, kvforge::file_log> users(dir + "/users");
        users.put("alice", "admin");
    }
    kvforge::store<std::string, std::string, kvforge::file_log> users(dir + "/users");
    return blocks.get("block-2") == "second" && !blocks.contains("block-1") && users.get("alice") == "admin";
}

}  // namespace

int main() {
    std::string dir = (std::filesystem::temp_directory_path() / "kvforge-compiled-XXXXXX").string();
    if (mkdtemp(dir.data()) == nullptr) {
        std::perror("compiled consumer: mkdtemp");
        return EXIT_FAILURE;
    }
    bool ok = false;
    try {
        ok = stores_work(dir);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "compiled consumer: %s\n", e.what());
    }
    std::filesystem::remove_all(dir);
    if (!ok) {
        std::fprintf(stderr, "compiled consumer: a store read back something else\n");
        return EXIT_FAILURE;
    }
    std::printf("kvforge %d.%d.%d: compiled mode stores work\n", KVFORGE_VERSION_MAJOR, KVFORGE_VERSION_MINOR,
                KVFORGE_VERSION_PATCH);
    return EXIT_SUCCESS;
}
