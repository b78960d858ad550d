// The consumer program's second translation unit (see program.cpp): a memory store.

#include <kvforge/kvforge.hpp>

#include <string>

bool memory_store_works() {
    kvforge::store<std::string, std::string> cache;
    cache.put("alice", "admin");
    cache.put("bob", "dev");
    cache.erase("bob");
    return cache.get("alice") == "admin" && !cache.get("bob") && cache.size() == 1;
}
