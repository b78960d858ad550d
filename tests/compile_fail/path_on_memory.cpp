// expect: a memory store takes no path; construct it with no arguments, or choose kvforge::file_log
#include <kvforge/kvforge.hpp>
kvforge::store<std::string, std::string> db{"data/users"};
