// expect: specialise kvforge::codec<Key> with static std::string name(), std::string_view encode(const Key&, std::string& scratch) and bool decode(std::string_view, Key&)
#include <kvforge/kvforge.hpp>
struct with_padding {
    char tag;
    long value;
};
kvforge::store<with_padding, std::string> db;
