#pragma once
/// \file mmap_file.hpp
/// kvforge::mmap_file: file_log's files and guarantees, with reads served from a
/// memory mapping of the data file instead of pread.

#include <string_view>

#include "../concepts.hpp"
#include "log/engine.hpp"

namespace kvforge {

/// Store policy: the same directory, records, recovery, compaction and durability as
/// kvforge::file_log (the files of one open as the other), but records are read through
/// a shared read-only mapping of the data file: get() copies straight from it, visit()
/// and scan() hand out views into it, and get_view() returns a kvforge::pinned_value
/// that keeps its bytes valid whatever the store does meanwhile.
///
/// Writes go through the durability policy's writer with pwrite, never through the
/// mapping, so no page is dirtied by the mapping and msync is never needed: sync_each,
/// buffered and async_worker promise exactly what they promise for file_log. The
/// mapping is reserved longer than the file (doubling, from 1 MiB) so that appends land
/// inside it; when the file outgrows it a longer one replaces it for new reads, and
/// views taken before keep the old one alive.
///
/// If another program truncates the data file while it is mapped, reading a record
/// beyond the new end raises SIGBUS and the process dies; the lock file keeps other
/// kvforge stores away, but not programs that ignore it.
struct mmap_file {
    using policy_kind = kvforge::policy_kind::store;
    static constexpr bool persistent = true;
    static constexpr std::string_view name = "mmap_file";
    static constexpr std::string_view short_name = "mmap";  ///< also accepted in a store spec
    static constexpr bool keeps_files = true;       ///< file_log's files, in the store's directory
    static constexpr bool index_in_process = true;  ///< the index in this process's heap
    /// Reads copy from a mapping of the files, which the page cache serves: a
    /// kvforge::read_cache<> in front would only add work (see policy_pack.hpp).
    static constexpr bool mapped = true;
    template <class Policies>
    using backend = detail::log_backend<Policies, true>;
};

static_assert(store_policy<mmap_file>);

}  // namespace kvforge
