// expect: which kvforge::file_log writes; use it with file_log, not mmap_file
#include <kvforge/index/disk_index.hpp>
#include <kvforge/kvforge.hpp>
kvforge::store<std::string, std::string, kvforge::mmap_file, kvforge::disk_index> db;
