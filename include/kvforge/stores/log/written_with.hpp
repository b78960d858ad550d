#pragma once
/// \file written_with.hpp
/// The check that a data file or table holds values as the store opening it reads them:
/// its header's fingerprints against the composition its MANIFEST records. A MANIFEST
/// copied in from another store, or rebuilt under a guess, would otherwise have values
/// read under another reading of their bytes.

#include <string>
#include <system_error>

#include "../../composition.hpp"
#include "../../error.hpp"
#include "record_format.hpp"

namespace kvforge::detail {

/// Whether header's codecs and layers (expiry, compression) are the store's, as
/// `store` (its MANIFEST's composition) names them; if not, fails ec with
/// errc::codec_mismatch naming path. A header whose layers are 0 was written before
/// headers recorded them and is read as the MANIFEST says.
inline bool check_written_with(const file_header& header, const composition& store, const std::string& path,
                               std::error_code& ec) {
    if (header.codec_fingerprint != store.codec_fingerprint) {
        fail(ec, errc::codec_mismatch,
             path + ": written with other key or value codecs than this store's ('" + store.key_codec + "' and '" +
                 store.value_codec + "'); open it with the types it was written with (nothing was changed)");
        return false;
    }
    if (header.layers != 0 && header.layers != layers_fingerprint(store.expiry, store.compression)) {
        fail(ec, errc::codec_mismatch,
             path + ": written with another expiry or compression than this store's (expiry '" + store.expiry +
                 "', compression '" + store.compression +
                 "'), which its MANIFEST records; the MANIFEST is not this store's: restore the store's own from "
                 "a backup, or remove it and rebuild it with `kvforge repair` (nothing was changed)");
        return false;
    }
    return true;
}

}  // namespace kvforge::detail
