// The program every consumer test builds: it writes to a file_log store in a temporary
// directory, reopens it and reads back, checks a memory store (in memory_check.cpp), and
// exits non-zero on any mismatch. It has two translation units that both include kvforge,
// so a definition in a kvforge header that is not inline fails to link.

#include <kvforge/kvforge.hpp>

#include <cstdio>
#include <cstdlib>
#include <exception>
#include <filesystem>
#include <string>

bool memory_store_works();  // memory_check.cpp

namespace {

using users_db = kvforge::store<std::string, std::string, kvforge::file_log>;

bool file_log_store_works(const std::string& path) {
    {
        users_db db{path};
        db.put("alice", "admin");
        db.put("bob", "dev");
        db.erase("bob");
    }  // closed here: the reopened store must read everything back from its files
    users_db db{path};
    return db.get("alice") == "admin" && !db.get("bob") && !db.contains("carol");
}

}  // namespace

int main() {
    std::string dir = (std::filesystem::temp_directory_path() / "kvforge-consumer-XXXXXX").string();
    if (mkdtemp(dir.data()) == nullptr) {
        std::perror("consumer: mkdtemp");
        return EXIT_FAILURE;
    }
    bool ok = false;
    try {
        ok = memory_store_works() && file_log_store_works(dir + "/users");
    } catch (const std::exception& e) {
        std::fprintf(stderr, "consumer: %s\n", e.what());
    }
    std::filesystem::remove_all(dir);
    std::printf("kvforge %d.%d.%d: memory and file_log stores %s\n", KVFORGE_VERSION_MAJOR, KVFORGE_VERSION_MINOR,
                KVFORGE_VERSION_PATCH, ok ? "work" : "FAILED");
    return ok ? EXIT_SUCCESS : EXIT_FAILURE;
}
