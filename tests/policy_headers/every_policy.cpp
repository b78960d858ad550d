// Each policy a store names comes from its own header, next to <kvforge/store.hpp>.
#include <kvforge/cache/bounded.hpp>
#include <kvforge/cache/lru.hpp>
#include <kvforge/cache/read_cache.hpp>
#include <kvforge/durability/async_worker.hpp>
#include <kvforge/durability/sync_each.hpp>
#include <kvforge/index/sorted_index.hpp>
#include <kvforge/store.hpp>
#include <kvforge/stores/file_log.hpp>
#include <kvforge/stores/mmap_file.hpp>
#include <kvforge/threading/thread_safe.hpp>

#include <cstdint>
#include <string>

bool every_policy(const std::string& path) {
    kvforge::store<std::string, std::string, kvforge::sorted_index, kvforge::thread_safe,
                   kvforge::bounded<kvforge::lru>>
        cache{kvforge::options{.memory_budget = 1 << 20}};
    kvforge::store<std::string, std::string, kvforge::mmap_file, kvforge::sorted_index, kvforge::sync_each> sorted{
        path + "/sorted"};
    kvforge::store<std::string, std::string, kvforge::file_log, kvforge::async_worker<>, kvforge::read_cache<>> logged{
        path + "/logged"};
    cache.put("alice", "admin");
    sorted.put("alice", "admin");
    const std::uint64_t sequence = logged.put("alice", "admin");
    logged.wait_durable(sequence);
    bool found = cache.get("alice") == sorted.get("alice") && logged.get("alice") == "admin";
    for (auto&& [key, value] : sorted.scan("a", "b")) found = found && key == "alice" && value == "admin";
    return found;
}
