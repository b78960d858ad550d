// expect: kvforge::memory keeps nothing on disk, so it takes no durability policy
#include <kvforge/kvforge.hpp>
kvforge::store<std::string, std::string, kvforge::memory, kvforge::sync_each> db;
