#pragma once
/// \file sorted_index.hpp
/// kvforge::sorted_index: keys kept in order, for scan() and ordered iteration.

#include "../concepts.hpp"
#include "../detail/btree.hpp"

namespace kvforge {

/// Index policy: a B+tree over encoded keys in memcmp order, so integer keys sort numerically.
struct sorted_index {
    using policy_kind = kvforge::policy_kind::index;
    using table = detail::btree_table;
    static constexpr bool ordered = true;
};

static_assert(index_policy<sorted_index>);

}  // namespace kvforge
