// expect: every argument after Key and Value must be a kvforge policy
#include <kvforge/kvforge.hpp>
kvforge::store<std::string, std::string, int> db;
