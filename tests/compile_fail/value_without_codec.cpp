// expect: specialise kvforge::codec<Value> with static std::string name(), std::string_view encode(const Value&, std::string& scratch) and bool decode(std::string_view, Value&)
#include <kvforge/kvforge.hpp>
#include <map>
kvforge::store<std::string, std::map<int, int>> db;
