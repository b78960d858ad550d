#pragma once
/// \file table_composition.hpp
/// A table store's MANIFEST against the composition of the store<> that opens it.
///
/// A store over sorted tables records format 3 (table_store_format) and index disk_index in
/// its MANIFEST, which it writes before its first record. An open refuses, changing
/// nothing, a MANIFEST of a newer format or of a composition that cannot read the files
/// (a log store's, other codecs); it refuses as well a store that holds records but has
/// lost its MANIFEST, whose codecs nothing else records. A writable open rewrites the
/// MANIFEST when it records another durability, so that tools reopen the store as it was
/// last used.

#include <fcntl.h>

#include <cstdint>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

#include "../../composition.hpp"
#include "../../detail/manifest_file.hpp"
#include "../../detail/store_directory.hpp"
#include "../../detail/store_files.hpp"
#include "../../error.hpp"
#include "../../manifest.hpp"
#include "../log/record_format.hpp"

namespace kvforge::detail {

template <class IO>
class table_composition {
public:
    /// wanted is the composition of the store<> that opens; its format becomes 3.
    table_composition(IO& io, const store_directory<IO>& directory, composition wanted)
        : io_(io), directory_(directory), composition_(std::move(wanted)) {
        composition_.format = table_store_format;
    }

    /// Reads the MANIFEST and refuses what this open cannot read; to_write is the MANIFEST
    /// to write (empty when the one on disk is this open's). names is the directory's.
    bool check(const std::vector<store_file_name>& names, std::string& to_write, std::error_code& ec) const {
        composition on_disk;
        bool found = false;
        if (!read_manifest_file(io_, directory_.path(), on_disk, found, ec)) return false;
        to_write.clear();
        const std::string path = directory_.file_path(store_file_name::manifest());
        if (!found) {
            const std::string holder = first_holding_records(names, ec);
            if (ec) return false;
            if (!holder.empty()) {
                fail(ec, errc::corrupt_header,
                     path + " is missing, and " + holder +
                         " holds records, whose key and value codecs only the MANIFEST records; the store is not "
                         "opened under a guess (nothing was changed). Restore the MANIFEST from a backup, or "
                         "rebuild it from the store's files with `kvforge repair " +
                         directory_.path() + "`");
                return false;
            }
            to_write = format_manifest(composition_);
            return true;
        }
        const std::string difference = first_binding_difference(on_disk, composition_);
        if (!difference.empty()) {
            fail(ec, errc::codec_mismatch,
                 path + ": " + difference + "; " + binding_remedy(on_disk, composition_) + " (nothing was changed)");
            return false;
        }
        if (on_disk.format > table_store_format) {
            fail(ec, errc::unsupported_version,
                 path + ": written in format version " + std::to_string(on_disk.format) +
                     "; this kvforge reads tables up to version " + std::to_string(table_store_format) +
                     " (nothing was changed)");
            return false;
        }
        if (!(on_disk == composition_)) to_write = format_manifest(composition_);
        return true;
    }

    /// The composition this open records (format 3).
    [[nodiscard]] const composition& wanted() const noexcept { return composition_; }

private:
    /// TABLES, or the first log holding a record (more than its header), or empty. A log of
    /// its header alone is what a crash while the store was made leaves.
    std::string first_holding_records(const std::vector<store_file_name>& names, std::error_code& ec) const {
        for (const store_file_name& name : names) {
            if (name.is_temporary()) continue;
            if (name.kind() == store_file_kind::table_list || name.kind() == store_file_kind::table) {
                return directory_.file_path(name);
            }
            if (name.kind() != store_file_kind::data) continue;
            data_file<IO> file;
            std::uint64_t size = 0;
            if (!directory_.open_file(file, name, O_RDONLY, ec) || !file.size(size, ec)) return {};
            if (size > file_header::size) return directory_.file_path(name);
        }
        return {};
    }

    IO& io_;
    const store_directory<IO>& directory_;
    composition composition_;
};

}  // namespace kvforge::detail
