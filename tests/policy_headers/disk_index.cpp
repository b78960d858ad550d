// A store over sorted tables needs <kvforge/store.hpp>, the store policy's header and the
// index's, which is outside the umbrella.
#include <kvforge/index/disk_index.hpp>
#include <kvforge/store.hpp>
#include <kvforge/stores/file_log.hpp>

#include <string>

bool disk_index_store(const std::string& path) {
    kvforge::store<std::string, std::string, kvforge::file_log, kvforge::disk_index> db{path};
    db.put("alice", "admin");
    const auto role = db.get("alice");
    std::string first;
    for (const auto& [key, value] : db.scan_prefix("a")) first = key;
    db.close();
    return role == "admin" && first == "alice";
}
