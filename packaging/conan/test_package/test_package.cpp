// Checks that the packaged kvforge compiles, links and works: one memory store.

#include <kvforge/kvforge.hpp>

#include <cstdio>
#include <string>

int main() {
    kvforge::store<std::string, std::string> cache;
    cache.put("kvforge", "packaged");
    const bool ok = cache.get("kvforge") == "packaged";
    std::printf("kvforge %d.%d.%d: %s\n", KVFORGE_VERSION_MAJOR, KVFORGE_VERSION_MINOR, KVFORGE_VERSION_PATCH,
                ok ? "works" : "FAILED");
    return ok ? 0 : 1;
}
