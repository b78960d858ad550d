#include "tool_store.hpp"

#include <kvforge/open_store.hpp>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <string_view>
#include <system_error>

#include "cli.hpp"
#include "compositions.hpp"
#include "errors.hpp"
#include "exit_codes.hpp"
#include "plural.hpp"

namespace kvforge_tool {

namespace {

/// The codecs to open a store with. Names of "?" stand for codecs the tool does not know
/// (a format 1 store records only their fingerprint): no MANIFEST may record those.
kvforge::detail::codec_choice codecs_of(const kvforge::composition& c) {
    return {c.key_codec, c.value_codec, c.codec_fingerprint, c.key_codec != "?" && c.value_codec != "?"};
}

store_on_disk inspect(const std::string& directory) {
    store_on_disk disk;
    std::error_code ec;
    if (!inspect_store(directory, disk, ec)) fail_store(ec, "read " + directory, directory);
    return disk;
}

tool_store open_adopting(const std::string& spec, const std::string& directory, const kvforge::options& opts,
                         const kvforge::composition& codecs) {
    std::error_code ec;
    // open_store's default compositions and kvforge's codecs (six compositions, all with
    // file_log and a sorted index: see kvforge/compression/compositions.hpp).
    tool_store db = kvforge::detail::open_store_adopting<std::string, std::string, tool_compositions>(
        spec, opts, codecs_of(codecs), ec);
    if (ec == kvforge::errc::invalid_argument) throw usage_error(kvforge::last_error_message());
    if (ec) fail_store(ec, "open " + directory, directory);
    return db;
}

/// Spec words for a new store that keeps deadlines when expiry (a MANIFEST's expiry
/// field) names a clock: `expiring` added unless the words have it.
std::string with_expiry(const std::string& words, const std::string& expiry) {
    if (expiry == "none") return words;
    for (std::size_t start = 0; start <= words.size();) {
        const std::size_t end = std::min(words.find(',', start), words.size());
        if (std::string_view(words).substr(start, end - start) == "expiring") return words;
        start = end + 1;
    }
    return words.empty() ? "expiring" : words + ",expiring";
}

}  // namespace

kvforge::options read_only_options() {
    kvforge::options opts;
    opts.read_only = true;
    return opts;
}

/// Why there is no store at directory, and what to do: the advice differs for an empty
/// path, a path that is a file, a directory of other files, and a new or empty directory.
std::string no_store_here(const std::string& directory) {
    namespace fs = std::filesystem;
    if (directory.empty()) return "an empty path names no store; give the store's directory (\".\" for this one)";
    std::error_code ec;
    const fs::file_status status = fs::status(directory, ec);
    if (fs::exists(status) && !fs::is_directory(status)) {
        return directory + " is a file, not a store: a kvforge store is a directory of files; give the store's "
                           "directory";
    }
    if (fs::is_directory(status) && !fs::is_empty(directory, ec)) {
        return directory + ": no kvforge store here (no MANIFEST and no data-*.kvlog file), only other files; check "
                           "the path (a new store needs a directory of its own)";
    }
    return directory + ": no kvforge store here (" + (fs::exists(status) ? "the directory is empty" : "no such directory") +
           "); check the path, or make a store there with `kvforge load " + directory +
           " --as file_log < DUMP` or `kvforge put " + directory + " KEY VALUE --as file_log`";
}

/// Refuses a store compressed by a codec of a program's own, which the tool cannot decompress.
void refuse_unknown_compression(const std::string& directory, const kvforge::composition& c) {
    for (const char* known : {"none", "zstd", "zstd-trained", "lz4"}) {
        if (c.compression == known) return;
    }
    throw store_failure(directory + ": its values are compressed by '" + c.compression +
                        "', a codec of the program that wrote the store; the kvforge tool reads stores compressed by "
                        "zstd, zstd-trained and lz4 only: open it with that program (nothing was changed)");
}

/// Opens the store in a Redis Cluster at location, as open_cluster_store does.
opened_store open_in_cluster(const std::string& location, const std::string& words, const kvforge::options& opts) {
    opened_store opened{{}, open_cluster_store(location, words, opts), true};
    opened.disk.exists = true;
    opened.disk.codecs_known = true;
    opened.disk.composition = opened.db.composition();
    return opened;
}

/// Refuses codecs other than bytes for a store in a cluster, which has no MANIFEST to name them.
void refuse_codecs_in_cluster(const std::string& location, const kvforge::composition& codecs) {
    const std::string bytes(kvforge::codec<std::string>::name());
    if (codecs.key_codec == bytes && codecs.value_codec == bytes) return;
    throw store_failure(location + ": a store in a Redis Cluster keeps no MANIFEST to name its codecs, so the tool "
                                   "writes keys and values of the codec '" + bytes + "' only, not '" +
                        codecs.key_codec + "' and '" + codecs.value_codec + "' (nothing was written)");
}

opened_store open_existing(const std::string& directory, access how, const kvforge::options& opts) {
    if (names_cluster_store(directory)) return open_in_cluster(directory, "", opts);
    opened_store opened{inspect(directory), {}};
    if (!opened.disk.exists) {
        throw store_failure(no_store_here(directory));
    }
    refuse_unknown_compression(directory, opened.disk.composition);
    // A sorted index serves every command and costs nothing on disk: the index is built at
    // open. A store over sorted tables is ordered already, and opens with its own index only.
    const bool ordered = opened.disk.composition.index == "disk_index";
    const std::string spec = (how == access::scan && !ordered ? "sorted:" : ":") + directory;
    opened.db = open_adopting(spec, directory, opts, opened.disk.composition);
    return opened;
}

opened_store open_or_create(const std::string& directory, const std::string& words, const kvforge::composition& codecs) {
    if (words.find(':') != std::string::npos) {
        throw usage_error("--as takes spec words only, e.g. --as mmap_file,sorted,buffered; the directory is " +
                          directory);
    }
    if (names_cluster_store(directory)) {
        refuse_codecs_in_cluster(directory, codecs);
        return open_in_cluster(directory, words, {});
    }
    opened_store opened{inspect(directory), {}};
    if (opened.disk.exists && opened.disk.composition.codec_fingerprint != codecs.codec_fingerprint) {
        throw store_failure(directory + ": holds keys and values of the codecs '" + opened.disk.composition.key_codec +
                            "' and '" + opened.disk.composition.value_codec + "', not '" + codecs.key_codec +
                            "' and '" + codecs.value_codec + "'; give a new directory to make a store of those");
    }
    if (opened.disk.exists) {
        refuse_unknown_compression(directory, opened.disk.composition);
        opened.db = open_adopting(words + ":" + directory, directory, {}, opened.disk.composition);
    } else {
        opened.db = open_adopting(with_expiry(words, codecs.expiry) + ":" + directory, directory, {}, codecs);
    }
    return opened;
}

bool refused_for_damage(const std::error_code& ec) {
    return ec == kvforge::errc::corrupt_record || ec == kvforge::errc::corrupt_header ||
           ec == kvforge::errc::not_a_store;
}

opened_store open_salvaging(const std::string& directory, access how) {
    if (names_cluster_store(directory)) {
        throw store_failure(directory + ": a store in a Redis Cluster has no files to read past damage in; its "
                                        "nodes keep their own data");
    }
    kvforge::options opts = read_only_options();
    opts.salvage = true;
    return open_existing(directory, how, opts);
}

kvforge::verify_report damage_found_by_salvage(const std::string& directory) {
    const opened_store store = open_salvaging(directory, access::as_is);
    std::error_code ec;
    kvforge::verify_report report = store.db.verify(ec);
    if (ec) fail_store(ec, "verify " + directory, directory);
    return report;
}

opened_store open_for_reading(const std::string& directory, bool skip_damaged, kvforge::verify_report& damage) {
    if (!skip_damaged) return open_existing(directory, access::scan, read_only_options());
    opened_store store = open_salvaging(directory, access::scan);
    std::error_code ec;
    damage = store.db.verify(ec);
    if (ec) fail_store(ec, "verify " + directory, directory);
    return store;
}

int report_skipped(const std::string& directory, const kvforge::verify_report& damage) {
    if (damage.ok()) return exit_ok;
    std::fflush(stdout);  // the records first, then what was left out, wherever both go
    std::fprintf(stderr, "kvforge: %s: skipped %s (the records there are left out):\n", directory.c_str(),
                 count_of(damage.damaged.size(), "damaged place").c_str());
    for (const kvforge::damaged_record& place : damage.damaged) {
        std::fprintf(stderr, "  %s at offset %llu: %s\n", place.file.c_str(),
                     static_cast<unsigned long long>(place.offset), place.problem.c_str());
    }
    return exit_store_error;
}

}  // namespace kvforge_tool
