// expect: two store policies given
#include <kvforge/kvforge.hpp>
struct other_store {
    using policy_kind = kvforge::policy_kind::store;
    static constexpr bool persistent = false;
    static constexpr std::string_view name = "other";
};
kvforge::store<std::string, std::string, kvforge::memory, other_store> db;
