#pragma once
/// \file store_composition.hpp
/// A log store's MANIFEST against the composition of the store<> that opens it.
///
/// Every open reads the MANIFEST, when there is one, before anything else and refuses a
/// composition that cannot read the files (manifest.hpp says which fields bind). A store
/// without one whose data files are of format 2 and hold records has lost it: the
/// MANIFEST alone says whether each value starts with an expiry header or a compression
/// flag, so such a store is refused, never read under a guessed composition (`kvforge
/// repair` rebuilds the file from what the data files' headers record). A
/// writable open then writes it, through MANIFEST.tmp and a rename, when it is missing
/// (a new store, or one of format 1) or records another store, index or durability
/// policy than this open's, so that tools reopen the store as it was last used.

#include <fcntl.h>

#include <algorithm>
#include <cstdint>
#include <string>
#include <system_error>
#include <vector>

#include "../../detail/manifest_file.hpp"
#include "../../detail/store_directory.hpp"
#include "../../detail/store_files.hpp"
#include "../../error.hpp"
#include "../../manifest.hpp"
#include "record_format.hpp"

namespace kvforge::detail {

/// Checks a store's MANIFEST against the composition wanted, and says what to record.
/// It refers to the engine's I/O policy, directory and composition, which do not change
/// while the store is open.
template <class IO>
class store_composition {
public:
    store_composition(IO& io, const store_directory<IO>& directory, const composition& wanted) noexcept
        : io_(io), directory_(directory), composition_(wanted) {}

    /// Reads the MANIFEST, when the store has one, and refuses (changing nothing) a
    /// store written in a newer format or with a composition this open cannot read.
    bool check(composition& on_disk, bool& found, std::error_code& ec) const {
        if (!read_manifest_file(io_, directory_.path(), on_disk, found, ec)) return false;
        if (!found) return check_without_manifest(ec);
        const std::string path = directory_.file_path(store_file_name::manifest());
        // A store over sorted tables (format 3) is named as such, not as a newer format.
        if (on_disk.format > format_version && on_disk.index != disk_index_name) {
            fail(ec, errc::unsupported_version,
                 path + ": written in format version " + std::to_string(on_disk.format) +
                     "; this kvforge reads up to version " + std::to_string(format_version) + " (nothing was changed)");
            return false;
        }
        const std::string difference = first_binding_difference(on_disk, composition_);
        if (!difference.empty()) {
            fail(ec, errc::codec_mismatch,
                 path + ": " + difference + "; " + binding_remedy(on_disk, composition_) + " (nothing was changed)");
            return false;
        }
        return true;
    }

    /// The MANIFEST to write when the store has none or it records another composition
    /// (only store, index or durability can differ here: check() refused the rest);
    /// empty when there is none to write. Codec names that cannot stand in a manifest
    /// line (spaces, control bytes) leave the store without one, as a format 1 store is:
    /// the data file's header still binds its codecs.
    [[nodiscard]] std::string manifest_to_write(const composition& on_disk, bool found) const {
        if (found && on_disk == composition_) return {};
        return format_manifest(composition_);
    }

    /// Writes the MANIFEST when manifest_to_write says that it is due, through files (the
    /// engine's segment_files, which counts its syncs and bytes).
    template <class Files>
    bool record(Files& files, const composition& on_disk, bool found, std::error_code& ec) const {
        const std::string text = manifest_to_write(on_disk, found);
        return text.empty() || files.write_file(store_file_name::manifest(), text, ec);
    }

private:
    /// What the data files of a store without a MANIFEST say: the first of each format
    /// that holds a record (its header is followed by more bytes), or empty. A file
    /// holding its header alone is what a crash while a store was made leaves (the
    /// MANIFEST follows its first data file), and holds nothing to misread.
    struct unrecorded_files {
        std::string format1_records;
        std::string format2_records;
        std::string table_list;  ///< TABLES, when the directory is a disk_index store's
        /// Whether every format 2 file holding records was written with these expiry and
        /// compression (its header's layers are the open's; 0, not recorded, passes for none).
        bool layers_agree = true;
    };

    bool find_data_files(unrecorded_files& found, std::error_code& ec) const {
        std::vector<store_file_name> names;
        if (!directory_.list(names, ec)) return false;
        std::sort(names.begin(), names.end(),
                  [](const store_file_name& a, const store_file_name& b) { return a.generation() < b.generation(); });
        for (const store_file_name& name : names) {
            if (name.kind() == store_file_kind::table_list && !name.is_temporary()) {
                found.table_list = directory_.file_path(name);
            }
            if (name.kind() != store_file_kind::data || name.is_temporary()) continue;
            data_file<IO> file;
            std::uint64_t size = 0;
            char bytes[file_header::size];
            file_header header;
            // A file that cannot be read or has a damaged header is recovery's to report.
            std::error_code ignored;
            if (!directory_.open_file(file, name, O_RDONLY, ignored) || !file.size(size, ignored)) continue;
            const auto available = static_cast<std::size_t>(std::min<std::uint64_t>(size, sizeof bytes));
            if (!file.read(0, bytes, available, ignored) ||
                file_header::decode({bytes, available}, file_kind::data, header) != file_header::problem::none ||
                size <= header.bytes()) {
                continue;
            }
            std::string& first = header.version < 2 ? found.format1_records : found.format2_records;
            if (first.empty()) first = directory_.file_path(name);
            const bool plain = composition_.expiry == "none" && composition_.compression == "none";
            if (header.version >= 2 && header.layers != layers_fingerprint(composition_.expiry, composition_.compression) &&
                !(header.layers == 0 && plain)) {
                found.layers_agree = false;
            }
        }
        return true;
    }

    /// A store without a MANIFEST: refused when a format 2 data file holds records (the
    /// MANIFEST was lost), or when a format 1 one does and this open has expiry or
    /// compression (refuse_unrecorded_layers). A composition whose codec names no
    /// manifest line can hold never had one: it opens when the data files' headers
    /// record its expiry and compression.
    bool check_without_manifest(std::error_code& ec) const {
        unrecorded_files found;
        if (!find_data_files(found, ec)) return false;
        if (!found.table_list.empty()) {
            fail(ec, errc::corrupt_header,
                 directory_.file_path(store_file_name::manifest()) + " is missing, and " + found.table_list +
                     " lists sorted tables, which only kvforge::disk_index reads; the store is not opened as a log "
                     "store (nothing was changed). Restore the MANIFEST from a backup, or rebuild it from the "
                     "store's files with `kvforge repair " +
                     directory_.path() + "`, and open the store with kvforge::disk_index");
            return false;
        }
        const bool never_recorded = format_manifest(composition_).empty() && found.layers_agree;
        if (!found.format2_records.empty() && !never_recorded) {
            const std::string manifest = directory_.file_path(store_file_name::manifest());
            fail(ec, errc::corrupt_header,
                 manifest + " is missing, and " + found.format2_records +
                     " holds records of format 2, whose values are read as the MANIFEST says (with or without an "
                     "expiry header, compressed or not); the store is not opened under a guess (nothing was "
                     "changed). Restore the MANIFEST from a backup, or rebuild it from the data files with "
                     "`kvforge repair " +
                     directory_.path() + "`");
            return false;
        }
        return found.format1_records.empty() || refuse_unrecorded_layers(ec);
    }

    /// A store without a MANIFEST (format 1, or codec names no manifest line can hold)
    /// records neither expiry nor compression, so its values have no deadline header and
    /// no compression flag: an expiring or compressed open would read each value's first
    /// byte as one. Refused, since the store holds records.
    bool refuse_unrecorded_layers(std::error_code& ec) const {
        if (composition_.expiry == "none" && composition_.compression == "none") return true;
        if (composition_.expiry != "none") {
            fail(ec, errc::codec_mismatch,
                 directory_.path() +
                     ": a store without a MANIFEST was written without expiry, and this store opens "
                     "it with expiry (" +
                     composition_.expiry +
                     "); open it without kvforge::expiring<>, or copy it into an expiring store with kvforge::copy "
                     "(nothing was changed)");
        } else {
            fail(ec, errc::codec_mismatch,
                 directory_.path() +
                     ": a store without a MANIFEST was written without compression, and this store "
                     "opens it with compression (" +
                     composition_.compression +
                     "); open it without kvforge::compressed<>, or copy it into a compressed store with "
                     "kvforge::copy (nothing was changed)");
        }
        return false;
    }

    IO& io_;
    const store_directory<IO>& directory_;
    const composition& composition_;
};

}  // namespace kvforge::detail
