// expect: two cache policies given
#include <kvforge/kvforge.hpp>
kvforge::store<std::string, std::string, kvforge::file_log, kvforge::read_cache<>, kvforge::read_cache<kvforge::lru>> db;
