// A memory store needs <kvforge/store.hpp> alone.
#include <kvforge/store.hpp>

#include <string>

bool memory_store() {
    kvforge::store<std::string, std::string> db;
    db.put("alice", "admin");
    const auto role = db.get("alice");
    db.erase("alice");
    return role == "admin" && !db.contains("alice");
}
