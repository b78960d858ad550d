#include "manifest_rebuild.hpp"

#include <kvforge/detail/data_file.hpp>
#include <kvforge/detail/store_directory.hpp>
#include <kvforge/detail/store_files.hpp>
#include <kvforge/detail/store_spec.hpp>
#include <kvforge/io/posix.hpp>
#include <kvforge/manifest.hpp>
#include <kvforge/open_store.hpp>
#include <kvforge/stores/log/record_format.hpp>

#include <fcntl.h>

#include <algorithm>
#include <cstdint>
#include <system_error>
#include <vector>

#include "cli.hpp"
#include "compositions.hpp"
#include "errors.hpp"
#include "store_files.hpp"

namespace kvforge_tool {

namespace {

using kvforge::detail::file_header;
using kvforge::detail::store_file_kind;
using kvforge::detail::store_file_name;
using directory_type = kvforge::detail::store_directory<kvforge::posix_io>;
using data_file = kvforge::detail::data_file<kvforge::posix_io>;

/// What the headers of a store's format 2 data files and tables that hold records say.
struct recorded_headers {
    std::string first;  ///< the first such file's path; empty when there is none
    std::uint64_t codec_fingerprint = 0;
    std::uint64_t layers = 0;
    bool agree = true;       ///< every such file records the same fingerprints
    bool tables = false;     ///< a table or a TABLES file is there: the store is over sorted tables
    bool unrecorded = false; ///< a file records no fingerprints (a store over tables wrote them so once)
};

recorded_headers read_headers(const directory_type& directory) {
    std::vector<store_file_name> names;
    std::error_code ec;
    if (!directory.list(names, ec)) fail_store(ec, "list " + directory.path(), directory.path());
    recorded_headers found;
    for (const store_file_name& name : names) {
        if (name.is_temporary()) continue;
        const bool table = name.kind() == store_file_kind::table;
        found.tables = found.tables || table || name.kind() == store_file_kind::table_list;
        if (name.kind() != store_file_kind::data && !table) continue;
        data_file file;
        std::uint64_t size = 0;
        char bytes[file_header::size];
        file_header header;
        if (!directory.open_file(file, name, O_RDONLY, ec) || !file.size(size, ec)) {
            fail_store(ec, "read " + directory.file_path(name), directory.path());
        }
        const auto available = static_cast<std::size_t>(std::min<std::uint64_t>(size, sizeof bytes));
        // A damaged header is the salvage's to report; it records nothing here.
        if (!file.read(0, bytes, available, ec) ||
            file_header::decode({bytes, available},
                                table ? kvforge::detail::file_kind::table : kvforge::detail::file_kind::data,
                                header) !=
                file_header::problem::none ||
            header.version < 2 || size <= header.bytes()) {
            continue;
        }
        // Files of the same store that record them say the same: these say nothing.
        if (header.codec_fingerprint == 0 && header.layers == 0) {
            found.unrecorded = true;
            continue;
        }
        if (found.first.empty()) {
            found.first = directory.file_path(name);
            found.codec_fingerprint = header.codec_fingerprint;
            found.layers = header.layers;
        } else if (header.codec_fingerprint != found.codec_fingerprint || header.layers != found.layers) {
            found.agree = false;
        }
    }
    return found;
}

/// The expiry and compression whose layers_fingerprint is `layers`, among the tool's clock
/// and kvforge's codecs; false when none is.
bool name_layers(std::uint64_t layers, std::string& expiry, std::string& compression) {
    for (const std::string& clock : {std::string("none"), kvforge::expiring<>::manifest_name()}) {
        for (const char* codec : {"none", "zstd", "zstd-trained", "lz4"}) {
            if (kvforge::detail::layers_fingerprint(clock, codec) == layers) {
                expiry = clock;
                compression = codec;
                return true;
            }
        }
    }
    return false;
}

/// Spec words, as open_store reads them, into the parts of a composition they name.
void apply_words(const std::string& words, kvforge::composition& c) {
    if (words.find(':') != std::string::npos) {
        throw usage_error("--as takes spec words only, e.g. --as file_log,expiring,zstd; the directory is given apart");
    }
    const std::vector<kvforge::detail::spec_word> vocabulary =
        kvforge::detail::vocabulary_of<tool_compositions>::get();
    kvforge::detail::parsed_spec parsed;
    std::error_code ec;
    // A path, which the words need for a file store, is not what is read here.
    if (!kvforge::detail::parse_store_spec(words + ":.", vocabulary, parsed, ec)) {
        throw usage_error("--as " + kvforge::last_error_message());
    }
    namespace kind = kvforge::policy_kind;
    if (const std::string_view store = parsed.choice(kind::store::name); !store.empty()) c.store = store;
    if (const std::string_view index = parsed.choice(kind::index::name); !index.empty()) c.index = index;
    if (const std::string_view durability = parsed.choice(kind::durability::name); !durability.empty()) {
        c.durability = durability;
    }
    c.expiry = parsed.choice(kind::expiry::name).empty() ? "none" : kvforge::expiring<>::manifest_name();
    const std::string_view compression = parsed.choice(kind::compression::name);
    c.compression = compression.empty() ? "none" : std::string(compression);
}

void write_manifest(const directory_type& directory, const std::string& text) {
    const store_file_name manifest = store_file_name::manifest();
    data_file file;
    std::error_code ec;
    if (!directory.open_file(file, manifest.temporary(), O_WRONLY | O_CREAT | O_TRUNC, ec) ||
        !file.write(0, text, ec) || !file.sync(ec) || !directory.rename(manifest.temporary(), manifest, ec) ||
        !directory.sync(ec)) {
        fail_store(ec, "write " + directory.file_path(manifest), directory.path());
    }
}

}  // namespace

std::optional<std::string> rebuild_lost_manifest(const std::string& directory_path,
                                                  const std::optional<std::string>& words) {
    store_on_disk disk;
    std::error_code ec;
    if (!inspect_store(directory_path, disk, ec)) fail_store(ec, "read " + directory_path, directory_path);
    if (!disk.exists || disk.has_manifest) return std::nullopt;
    // Held for the rebuild, so that no store opens it meanwhile.
    kvforge::posix_io io;
    directory_type directory;
    kvforge::detail::directory_mode mode;
    mode.create = false;
    if (!directory.open(io, directory_path, mode, ec)) fail_store(ec, "open " + directory_path, directory_path);
    const recorded_headers recorded = read_headers(directory);
    const std::string manifest_path = directory.file_path(store_file_name::manifest());
    const std::string restore = "; restore " + manifest_path + " from a backup of the store";
    if (recorded.first.empty()) {
        if (recorded.tables && recorded.unrecorded) {
            throw store_failure(directory_path + ": MANIFEST is lost, and the headers of the store's tables and "
                                                 "logs record no codecs (it was written before kvforge recorded them "
                                                 "there), so none can be rebuilt from them" +
                                restore);
        }
        return std::nullopt;  // format 1, or no records: the store opens without one
    }
    if (!recorded.agree) {
        throw store_failure(directory_path + ": MANIFEST is lost, and the data files record different codecs or "
                                             "compositions, so none can be rebuilt from them" +
                            restore);
    }
    // The codec names: inspect_store found them when the fingerprint is of built-in codecs.
    if (!disk.codecs_known || disk.composition.codec_fingerprint != recorded.codec_fingerprint) {
        throw store_failure(directory_path + ": MANIFEST is lost, and the data files' codec fingerprint is of no "
                                             "codecs kvforge has built in (they are a program's own)" +
                            restore + ", or let that program open the store with kvforge::store");
    }
    const std::string tables_index(kvforge::detail::disk_index_name);
    kvforge::composition rebuilt;
    rebuilt.store = "file_log";
    rebuilt.index = recorded.tables ? tables_index : "hash_index";
    rebuilt.durability = "buffered";
    rebuilt.key_codec = disk.composition.key_codec;
    rebuilt.value_codec = disk.composition.value_codec;
    rebuilt.codec_fingerprint = recorded.codec_fingerprint;
    const bool named = recorded.layers != 0 && name_layers(recorded.layers, rebuilt.expiry, rebuilt.compression);
    if (words) {
        kvforge::composition said = rebuilt;
        apply_words(*words, said);
        if (recorded.layers != 0 &&
            kvforge::detail::layers_fingerprint(said.expiry, said.compression) != recorded.layers) {
            throw store_failure(directory_path + ": --as " + *words + " says expiry '" + said.expiry +
                                "' and compression '" + said.compression + "', but " + recorded.first +
                                (named ? " records expiry '" + rebuilt.expiry + "' and compression '" +
                                             rebuilt.compression + "'; leave --as out, or give those"
                                       : " records others (a clock or codec of a program's own)") +
                                " (nothing was changed)");
        }
        if ((said.index == tables_index) != recorded.tables) {
            throw store_failure(directory_path + ": --as " + *words + " says index '" + said.index + "', but " +
                                (recorded.tables ? "the store holds sorted tables, which only disk_index reads"
                                                 : "the store holds no sorted tables: it is a log store") +
                                "; leave the index out of --as (nothing was changed)");
        }
        rebuilt = said;
    } else if (!named) {
        throw store_failure(
            directory_path + ": MANIFEST is lost, and " + recorded.first +
            (recorded.layers == 0
                 ? " does not record whether the store has expiry or compression (it was written before kvforge "
                   "recorded them)"
                 : " records an expiry or compression the tool does not know (a clock or codec of a program's own)") +
            "; say what the store is with --as, e.g. `kvforge repair " + directory_path +
            " --as file_log,expiring,zstd` (words: expiring; zstd, zstd-trained or lz4), or" +
            restore.substr(1) + " (nothing was changed)");
    }
    // A store over tables records a format of its own, which a release without tables refuses.
    rebuilt.format = recorded.tables ? kvforge::detail::table_store_format : kvforge::detail::format_version;
    const std::string text = kvforge::detail::format_manifest(rebuilt);
    write_manifest(directory, text);
    return manifest_path + " was lost; rebuilt from the data files" + (words ? " and --as" : "") + ": " +
           (recorded.tables ? "a store over sorted tables, " : "") + "codecs '" + rebuilt.key_codec + "' and '" +
           rebuilt.value_codec + "', expiry " + rebuilt.expiry + ", compression " + rebuilt.compression;
}

}  // namespace kvforge_tool
