// expect: the index policy does not satisfy the concept kvforge::index_policy, which lists what it must provide
#include <kvforge/kvforge.hpp>
struct broken_index {
    using policy_kind = kvforge::policy_kind::index;
    struct table {};
    static constexpr bool ordered = false;
};
kvforge::store<std::string, std::string, broken_index> db;
