// expect: a bounded store needs its memory budget
#include <kvforge/kvforge.hpp>
kvforge::store<std::string, std::string, kvforge::memory, kvforge::bounded<>> cache;
