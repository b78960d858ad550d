// expect: no codec for the key type; specialise kvforge::codec<Key>
#include <kvforge/kvforge.hpp>
struct with_padding {
    char tag;
    long value;
};
kvforge::store<with_padding, std::string> db;
