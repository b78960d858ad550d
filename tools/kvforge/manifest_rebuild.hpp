#pragma once
// Rebuilding a store's lost MANIFEST from what the headers of its data files and tables
// record: the codecs' fingerprint (named when it is a pair of built-in codecs) and the
// fingerprint of the store's expiry and compression (named when it is one of the tool's
// clock and kvforge's codecs). A store with tables is a store over them (disk_index). When
// the headers do not record enough, spec words (`--as`) say the rest, and are checked
// against what is recorded.

#include <optional>
#include <string>

namespace kvforge_tool {

/// When the store in directory has no MANIFEST and its data files are of format 2 (they
/// need one), writes it and returns a line saying what it recorded; returns nothing when
/// there is nothing to rebuild. `words` (spec words, may be empty) name the expiry,
/// compression, store, index and durability. Throws store_failure (exit 3) when the data
/// files do not record enough and no words were given, or the words contradict them.
[[nodiscard]] std::optional<std::string> rebuild_lost_manifest(const std::string& directory,
                                                               const std::optional<std::string>& words);

}  // namespace kvforge_tool
