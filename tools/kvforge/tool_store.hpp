#pragma once
// Opening stores for the tool. The tool reads a store's bytes whatever codecs wrote
// them: it opens every store with std::string keys and values and the codecs its files
// name (kvforge::detail::open_store_adopting), then shows the bytes in the codec's text
// form. Users' programs go through kvforge::open_store, which checks their codecs.
//
// This is the one translation unit of the tool that instantiates the compositions.

#include <kvforge/any_store.hpp>
#include <kvforge/options.hpp>

#include <string>
#include <string_view>

#include "store_files.hpp"

namespace kvforge_tool {

using tool_store = kvforge::any_store<std::string, std::string>;

/// A store the tool has open, with what its files said.
struct opened_store {
    store_on_disk disk;
    tool_store db;
    bool in_cluster = false;  ///< a store in a Redis Cluster: no directory, no files, no MANIFEST
};

/// What names a store in a Redis Cluster where the commands take a directory:
/// "redis_cluster:HOST:PORT,HOST:PORT/NAME".
inline constexpr std::string_view cluster_prefix = "redis_cluster:";

/// Whether where names a store in a Redis Cluster rather than a directory.
[[nodiscard]] bool names_cluster_store(const std::string& where);

/// Opens the store in a Redis Cluster at location (cluster_prefix, seeds, '/', name) with
/// the spec words `words` (durability, threading) besides redis_cluster and expiring; keys
/// and values are the bytes as they are. Throws usage_error for words that are no spec,
/// store_failure when the cluster cannot be reached or the tool was built without hiredis.
[[nodiscard]] tool_store open_cluster_store(const std::string& location, const std::string& words,
                                            const kvforge::options& opts);

/// How a command uses a store.
enum class access {
    scan,   ///< reads in key order: opened with a sorted index (the index is rebuilt at open)
    as_is,  ///< opened as its manifest says
};

/// The options of the commands that only read a store: they change no file (not even a
/// torn tail, or a MANIFEST a format 1 store lacks), and run beside other readers.
[[nodiscard]] kvforge::options read_only_options();

/// Opens the existing store in directory (or in a Redis Cluster, see cluster_prefix); throws store_failure (exit 3) when there is
/// none, or it fails to open, saying what to do.
[[nodiscard]] opened_store open_existing(const std::string& directory, access how, const kvforge::options& opts = {});

/// Opens the store in directory (or in a Redis Cluster, see cluster_prefix; its keys and
/// values must then be bytes, which is all a cluster store without a MANIFEST can say),
/// creating it with the spec words `words` (no path) when
/// there is none, to hold bytes of these codecs, and with `expiring` when codecs.expiry
/// names a clock, so that the keys' deadlines have a place. Throws usage_error for words
/// that are no spec, store_failure when the store fails to open or holds other codecs.
[[nodiscard]] opened_store open_or_create(const std::string& directory, const std::string& words,
                                          const kvforge::composition& codecs);

/// Whether an open refused with ec refused damage that a salvaging open reads past: a
/// damaged record or file header, a data file shorter than its hint proves, a lost segment.
[[nodiscard]] bool refused_for_damage(const std::error_code& ec);

/// Opens the existing store in directory read-only with options::salvage: every intact
/// record is served, the damaged ones left out, whatever the hint files say; no file is
/// changed. Throws as open_existing.
[[nodiscard]] opened_store open_salvaging(const std::string& directory, access how);

/// The damage of the store in directory as a read-only salvaging open finds it: its
/// verify(), which lists what that open found missing, cut or damaged in a header besides
/// the damaged records; changes no file. Throws store_failure when that open fails.
[[nodiscard]] kvforge::verify_report damage_found_by_salvage(const std::string& directory);

/// Opens the store in directory to read it in key order, read-only: as it is, or with
/// skip_damaged through open_salvaging, filling damage with what that open left out (its
/// verify()). For scan and dump, which then end with report_skipped(directory, damage).
[[nodiscard]] opened_store open_for_reading(const std::string& directory, bool skip_damaged,
                                            kvforge::verify_report& damage);

/// Prints on stderr what a command that read past damage (open_salvaging) left out of the
/// store in directory: its damaged places (file and offset); exit_store_error when there
/// were any, else exit_ok.
[[nodiscard]] int report_skipped(const std::string& directory, const kvforge::verify_report& damage);

}  // namespace kvforge_tool
