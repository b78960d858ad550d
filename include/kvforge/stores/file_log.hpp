#pragma once
/// \file file_log.hpp
/// kvforge::file_log: an append-only log of checksummed records on disk, with the
/// index in memory.

#include <string_view>

#include "../concepts.hpp"
#include "log/engine.hpp"

namespace kvforge {

namespace detail {

/// The log engine, or the backend an index policy brings in its place (disk_index's).
template <class Policies>
struct file_log_backend {
    using type = log_backend<Policies>;
};
template <class Policies>
    requires requires { typename Policies::index::template store_backend<Policies>; }
struct file_log_backend<Policies> {
    using type = typename Policies::index::template store_backend<Policies>;
};

}  // namespace detail

/// Store policy: records appended to segment files in the store's directory; the index
/// maps each key to its record, which get() reads and checks against its checksum. A
/// record of a closed segment (or one the active segment held when the store was
/// opened) is copied from a read-only mapping of those bytes, which never change again;
/// a record appended since is read with one pread. Takes a durability policy (default
/// kvforge::buffered<>). See docs/format.md for the files and docs/guide.md for the
/// guarantees and what sets it apart from kvforge::mmap_file.
struct file_log {
    using policy_kind = kvforge::policy_kind::store;
    static constexpr bool persistent = true;
    static constexpr std::string_view name = "file_log";
    static constexpr bool keeps_files = true;       ///< segments, hints, MANIFEST and LOCK in the store's directory
    static constexpr bool index_in_process = true;  ///< the index in this process's heap
    template <class Policies>
    using backend = typename detail::file_log_backend<Policies>::type;
};

static_assert(store_policy<file_log>);

}  // namespace kvforge
