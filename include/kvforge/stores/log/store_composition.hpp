#pragma once
/// \file store_composition.hpp
/// A log store's MANIFEST against the composition of the store<> that opens it.
///
/// Every open reads the MANIFEST, when there is one, before anything else and refuses a
/// composition that cannot read the files (manifest.hpp says which fields bind). A
/// writable open then writes it, through MANIFEST.tmp and a rename, when it is missing
/// (a new store, or one of format 1) or records another store, index or durability
/// policy than this open's, so that tools reopen the store as it was last used.

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
        if (!found) return refuse_unrecorded_layers(ec);
        const std::string path = directory_.file_path(store_file_name::manifest());
        if (on_disk.format > format_version) {
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
    /// A store without a MANIFEST (format 1, or codec names no manifest line can hold)
    /// records neither expiry nor compression, so its values have no deadline header and
    /// no compression flag: an expiring or compressed open would read each value's first
    /// byte as one. Refused when the store holds data.
    bool refuse_unrecorded_layers(std::error_code& ec) const {
        if (composition_.expiry == "none" && composition_.compression == "none") return true;
        std::vector<store_file_name> names;
        if (!directory_.list(names, ec)) return false;
        if (!store_directory<IO>::holds_data(names)) return true;
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
