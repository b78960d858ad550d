// expect: two threading policies given
#include <kvforge/kvforge.hpp>
kvforge::store<std::string, std::string, kvforge::thread_safe, kvforge::single_thread> db;
