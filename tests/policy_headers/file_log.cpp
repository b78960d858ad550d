// A file_log store with its default policies needs <kvforge/store.hpp> and the store
// policy's header.
#include <kvforge/store.hpp>
#include <kvforge/stores/file_log.hpp>

#include <string>

bool file_log_store(const std::string& path) {
    kvforge::store<std::string, std::string, kvforge::file_log> db{path};
    db.put("alice", "admin");
    const auto role = db.get("alice");
    db.erase("bob");
    db.close();
    return role == "admin";
}
