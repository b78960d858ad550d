#pragma once
/// \file destroy.hpp
/// kvforge::destroy: removes a closed store's files, and then its directory.

#include <algorithm>
#include <cstdint>
#include <new>
#include <string_view>
#include <system_error>
#include <vector>

#include "concepts.hpp"
#include "detail/store_directory.hpp"
#include "detail/store_files.hpp"
#include "error.hpp"
#include "io/posix.hpp"

namespace kvforge {

/// Removes the persistent store in directory path through the I/O policy io: every file
/// of kvforge's own in it, then the directory when that leaves it empty. Entries kvforge
/// did not write, which a store's directory (one with a MANIFEST) may hold beside its
/// files, are left where they are, with the directory. Refuses, with nothing removed, an
/// empty path (errc::invalid_argument), a missing directory (errc::store_not_found), a
/// directory without a MANIFEST holding anything kvforge did not write
/// (errc::not_a_store) and a store that is open, in this process or another
/// (errc::store_locked); it holds the store's lock while it works.
template <io_policy IO>
void destroy(std::string_view path, IO io, std::error_code& ec) noexcept {
    ec.clear();
    try {
        detail::store_directory<IO> directory;
        detail::directory_mode mode;
        mode.create = false;
        if (!directory.open(io, path, mode, ec)) return;
        std::vector<detail::store_file_name> names;
        if (!directory.list(names, ec)) return;
        // The newest data file goes last, after the leftovers, hints and older segments:
        // a destroy cut short leaves a directory that still opens as a store (holding
        // what the segments left hold), and can be run again. Compression dictionaries go
        // after it, so that no store is ever left without the dictionaries its values
        // need, and the MANIFEST after them, so that no data file is ever left without
        // the composition it is read by, and a directory that also holds a user's files
        // stays a store's until the last of kvforge's data is gone.
        std::uint32_t newest = 0;
        for (const detail::store_file_name& name : names) {
            if (name.kind() == detail::store_file_kind::data && !name.is_temporary()) {
                newest = std::max(newest, name.generation());
            }
        }
        const auto last = newest != 0 ? detail::store_file_name::data(newest) : detail::store_file_name::lock();
        // Hints before their data files: one left without its data file names a lost segment.
        // The lists of segments and of tables before what they list, for the same reason:
        // files a list no longer names are a store's, or leftovers that an open removes.
        for (const detail::store_file_name& name : names) {
            const bool names_others = name.kind() == detail::store_file_kind::hint ||
                                      name.kind() == detail::store_file_kind::segment_list ||
                                      name.kind() == detail::store_file_kind::table_list;
            if (names_others && !directory.remove(name, ec)) return;
        }
        for (const detail::store_file_name& name : names) {
            if (name.kind() == detail::store_file_kind::lock || name == last) continue;
            if (name.kind() == detail::store_file_kind::dictionary && !name.is_temporary()) continue;
            if (name == detail::store_file_name::manifest()) continue;
            if (!directory.remove(name, ec)) return;
        }
        if (newest != 0 && !directory.remove(last, ec)) return;
        for (const detail::store_file_name& name : names) {
            if (name.kind() == detail::store_file_kind::dictionary && !directory.remove(name, ec)) return;
        }
        if (!directory.remove(detail::store_file_name::manifest(), ec)) return;
        // LOCK is removed while it is held; an opener that comes now finds no store.
        if (!directory.remove(detail::store_file_name::lock(), ec) || !directory.sync(ec)) return;
        directory.close();
        directory.remove_directory(ec);
    } catch (const std::bad_alloc&) {
        detail::fail(ec, std::make_error_code(std::errc::not_enough_memory), "destroy: out of memory");
    }
}

/// As destroy(path, io, ec) with the default I/O policy, kvforge::posix_io.
inline void destroy(std::string_view path, std::error_code& ec) noexcept { destroy(path, posix_io{}, ec); }

/// As destroy(path, ec); throws kvforge::error on failure.
inline void destroy(std::string_view path) {
    std::error_code ec;
    destroy(path, ec);
    detail::throw_if(ec);
}

}  // namespace kvforge
