// expect: kvforge::read_cache<> caches a persistent store's values
#include <kvforge/kvforge.hpp>
kvforge::store<std::string, std::string, kvforge::memory, kvforge::read_cache<>> db;
