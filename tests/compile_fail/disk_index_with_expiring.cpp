// expect: kvforge::disk_index does not take kvforge::expiring<> yet
#include <kvforge/index/disk_index.hpp>
#include <kvforge/kvforge.hpp>
kvforge::store<std::string, std::string, kvforge::file_log, kvforge::disk_index, kvforge::expiring<>> db;
