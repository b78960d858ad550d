#pragma once
/// \file sorted_index.hpp
/// kvforge::sorted_index: keys kept in order, for scan() and ordered iteration.

#include <string_view>

#include "../concepts.hpp"
#include "../detail/btree.hpp"

namespace kvforge {

/// Index policy: a B+tree over encoded keys in memcmp order, so integer keys sort numerically.
struct sorted_index {
    using policy_kind = kvforge::policy_kind::index;
    static constexpr std::string_view name = "sorted_index";
    static constexpr std::string_view short_name = "sorted";  ///< also accepted in a store spec
    using table = detail::btree_table;
    static constexpr bool ordered = true;
};

static_assert(index_policy<sorted_index>);

}  // namespace kvforge
