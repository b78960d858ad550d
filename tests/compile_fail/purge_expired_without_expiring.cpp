// expect: purge_expired() needs kvforge::expiring<>
#include <kvforge/kvforge.hpp>
int main() {
    kvforge::store<std::string, std::string, kvforge::sorted_index> db;
    return static_cast<int>(db.purge_expired());
}
