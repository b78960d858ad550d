// expect: two index policies given
#include <kvforge/kvforge.hpp>
kvforge::store<std::string, std::string, kvforge::hash_index, kvforge::sorted_index> db;
