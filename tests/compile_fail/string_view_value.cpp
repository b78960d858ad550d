// expect: use std::string, not std::string_view
#include <kvforge/kvforge.hpp>
kvforge::store<std::string, std::string_view> db;
