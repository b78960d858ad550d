// expect: scan() needs an ordered index; use kvforge::sorted_index
#include <kvforge/kvforge.hpp>
int main() {
    kvforge::store<std::string, std::string, kvforge::hash_index> db;
    for (auto&& [k, v] : db.scan("a", "m")) (void)k;
}
