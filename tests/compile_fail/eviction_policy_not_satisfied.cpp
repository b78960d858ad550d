// expect: does not satisfy kvforge::eviction_policy
#include <kvforge/kvforge.hpp>
struct not_a_policy {};
kvforge::store<std::string, std::string, kvforge::memory, kvforge::bounded<not_a_policy>> cache{kvforge::options{.memory_budget = 1 << 20}};
