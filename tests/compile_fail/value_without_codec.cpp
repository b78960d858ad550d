// expect: no codec for the value type; specialise kvforge::codec<Value>
#include <kvforge/kvforge.hpp>
#include <map>
kvforge::store<std::string, std::map<int, int>> db;
