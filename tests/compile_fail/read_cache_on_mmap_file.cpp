// expect: kvforge::read_cache<> cannot speed up kvforge::mmap_file
#include <kvforge/kvforge.hpp>
kvforge::store<std::string, std::string, kvforge::mmap_file, kvforge::read_cache<>> db;
