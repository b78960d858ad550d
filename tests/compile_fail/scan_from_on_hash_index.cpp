// expect: scan_from() needs an ordered index; use kvforge::sorted_index
#include <kvforge/kvforge.hpp>
int main() {
    kvforge::store<std::string, std::string> db;
    (void)db.scan_from("a", kvforge::descending);
}
