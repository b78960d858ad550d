#pragma once
// What the tool learns from a store's files before opening it. Everything here that
// knows file names and headers follows docs/format.md (format version 1); it is the one
// place to change when the file layout does.

#include <kvforge/manifest.hpp>
#include <kvforge/stats.hpp>

#include <string>
#include <system_error>
#include <vector>

namespace kvforge_tool {

/// A store's directory as its files describe it.
struct store_on_disk {
    bool exists = false;        ///< a MANIFEST or a data file is there
    bool has_manifest = false;  ///< the composition comes from the MANIFEST; else from the data file's header
    bool codecs_known = false;  ///< the codec names are known (from the manifest, or a built-in pair whose
                                ///< fingerprint the header carries); else they are "?"
    kvforge::composition composition;  ///< store, index and durability are empty without a manifest
};

/// Reads what the files in directory say; false with ec set when they cannot be read.
/// A directory without a store (or no directory) gives exists = false and no error.
[[nodiscard]] bool inspect_store(const std::string& directory, store_on_disk& out, std::error_code& ec);

/// Whether path is a directory holding no file at all, or does not exist.
[[nodiscard]] bool is_empty_or_absent(const std::string& path);

}  // namespace kvforge_tool
