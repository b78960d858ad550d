#pragma once
/// \file disk_index.hpp
/// kvforge::disk_index, an index that lives on disk in sorted tables: a store<K, V,
/// file_log, disk_index> keeps its records in them, and only its recent writes in memory
/// (stores/table/table_engine.hpp), so that it may hold more keys than RAM. Outside the
/// umbrella header: include this one to use it.

#include <cstdint>
#include <string_view>

#include "../concepts.hpp"
#include "../detail/btree.hpp"
#include "../manifest.hpp"
#include "../stores/table/table_backend.hpp"

namespace kvforge {

/// Index policy: the keys in sorted tables on disk, with the recent writes in a write
/// buffer in memory; ordered, with every scan a sorted_index has.
struct disk_index {
    using policy_kind = kvforge::policy_kind::index;
    static constexpr std::string_view name = detail::disk_index_name;
    static constexpr std::string_view short_name = "disk";
    using table = detail::btree_table;  ///< the write buffer's
    static constexpr bool ordered = true;
    /// The format its stores record in their MANIFEST, which a release without tables refuses.
    static constexpr std::uint32_t store_format = detail::table_store_format;
    /// The backend file_log uses with this index in place of its log engine.
    template <class Policies>
    using store_backend = detail::table_backend<Policies>;
};

static_assert(index_policy<disk_index>);

}  // namespace kvforge
