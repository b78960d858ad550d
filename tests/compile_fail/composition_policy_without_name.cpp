// expect: every policy of a composition list needs a name
// A policy in a list open_store chooses from must say the word a spec names it by.
#include <kvforge/kvforge.hpp>

#include <string>

struct nameless_index {
    using policy_kind = kvforge::policy_kind::index;
    using table = kvforge::detail::hash_table;
    static constexpr bool ordered = false;
};

int main() {
    using list = kvforge::composition_list<kvforge::policies<kvforge::memory, nameless_index>>;
    auto db = kvforge::open_store<std::string, std::string, list>("memory");
    return db.is_open() ? 0 : 1;
}
