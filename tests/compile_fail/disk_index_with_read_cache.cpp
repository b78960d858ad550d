// expect: kvforge::disk_index takes no kvforge::read_cache<> yet
#include <kvforge/index/disk_index.hpp>
#include <kvforge/kvforge.hpp>
kvforge::store<std::string, std::string, kvforge::file_log, kvforge::disk_index, kvforge::read_cache<>> db;
