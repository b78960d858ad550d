#pragma once
/// \file hash_index.hpp
/// kvforge::hash_index: O(1) point operations, no order.

#include <string_view>

#include "../concepts.hpp"
#include "../detail/hash_table.hpp"

namespace kvforge {

/// Index policy: an open-addressing hash table (cache-line groups of 7 slots probed at once, no tombstones).
/// The reference for writing an index policy: name the kind, the table and whether it is ordered.
struct hash_index {
    using policy_kind = kvforge::policy_kind::index;
    static constexpr std::string_view name = "hash_index";
    static constexpr std::string_view short_name = "hash";  ///< also accepted in a store spec
    using table = detail::hash_table;
    static constexpr bool ordered = false;
};

static_assert(index_policy<hash_index>);

}  // namespace kvforge
