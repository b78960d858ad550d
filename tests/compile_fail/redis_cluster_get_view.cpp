// expect: get_view() needs kvforge::mmap_file
#include <kvforge/kvforge.hpp>
#include <kvforge/stores/redis_cluster.hpp>
void f(kvforge::store<std::string, std::string, kvforge::redis_cluster>& db) { (void)db.get_view("k"); }
