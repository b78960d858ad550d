// kvforge convert SRC DEST --as SPEC: a copy of a store, of another composition.

#include <cstdio>
#include <string>

#include <kvforge/destroy.hpp>

#include "../cli.hpp"
#include "../commands.hpp"
#include "../errors.hpp"
#include "../exit_codes.hpp"
#include "../plural.hpp"
#include "../progress.hpp"
#include "../records.hpp"
#include "../store_files.hpp"
#include "../tool_store.hpp"

namespace kvforge_tool {

namespace {

/// Copies every record of source into target, then verifies target.
int copy_and_check(const std::string& source_dir, const opened_store& source, const std::string& target_dir,
                   opened_store& target) {
    std::error_code ec;
    record_writer writer(target.db);
    {
        progress_bar progress("convert " + source_dir, source.db.size());
        std::error_code write_error;
        std::uint64_t read = 0;
        for_each_record(
            source.db,
            [&](const std::string& key, const std::string& value, dump_deadline deadline) {
                if (!write_error) writer.put(key, value, deadline, write_error);
                progress.update(++read);
            },
            ec);
        if (ec) fail_store(ec, "convert: read " + source_dir, source_dir);
        if (!write_error) writer.flush(write_error);
        if (!write_error) target.db.sync(write_error);
        ec = write_error;
    }
    if (ec) {
        fail_store(
            ec,
            "convert " + source_dir + " to " + target_dir + " after " + std::to_string(writer.written()) + " records",
            target_dir);
    }
    const std::uint64_t copied = writer.written();
    const kvforge::verify_report check = target.db.verify(ec);
    if (!ec) target.db.close(ec);
    if (ec) fail_store(ec, "check " + target_dir, target_dir);
    const kvforge::composition& made = target.db.composition();
    std::printf("converted %s from %s to %s (%s,%s,%s); verified: %s checked, %zu damaged\n",
                count_of(copied, "record").c_str(), source_dir.c_str(), target_dir.c_str(), made.store.c_str(),
                made.index.c_str(), made.durability.c_str(), count_of(check.records_checked, "record").c_str(),
                check.damaged.size());
    return check.ok() ? exit_ok : exit_store_error;
}

int run(const std::vector<std::string>& args) {
    const arguments parsed(args, {{"as", true}});
    parsed.expect_positionals(2, 2, "SRC DEST");
    const std::optional<std::string> words = parsed.value("as");
    if (!words) throw usage_error("--as SPEC is needed: the composition of the new store, e.g. --as mmap_file,hash");
    const std::string& source_dir = parsed.positional()[0];
    const std::string& target_dir = parsed.positional()[1];
    if (!is_empty_or_absent(target_dir)) {
        throw store_failure(target_dir + " exists and is not empty; convert writes a new store: give a directory "
                                         "that does not exist yet");
    }
    const opened_store source = open_existing(source_dir, access::scan, read_only_options());
    opened_store target;
    try {
        target = open_or_create(target_dir, *words, source.db.composition());
    } catch (const usage_error& refused) {
        if (source.db.composition().expiry == "none") throw;
        throw usage_error(std::string(refused.what()) + " (" + source_dir +
                          " has expiry, so DEST is made with `expiring`, which the tool has with file_log only, and "
                          "with a codec over a sorted index or tables only: e.g. --as file_log,hash or --as "
                          "file_log,disk_index,zstd)");
    }
    if (target.in_cluster && target.db.size() != 0) {
        throw store_failure(target_dir + " holds records already; convert writes a new store: give a name that no "
                                         "store in the cluster has yet");
    }

    try {
        return copy_and_check(source_dir, source, target_dir, target);
    } catch (const store_failure& failed) {
        // DEST holds some of SRC's records, and would verify as a whole store: convert made
        // it, so it removes it (a store in a cluster keeps what was written: say so).
        std::error_code cleanup;
        target.db.close(cleanup);
        if (target.in_cluster) {
            throw store_failure(std::string(failed.what()) + "; " + target_dir +
                                    " holds the records written before the failure: remove them before trying again",
                                failed.code());
        }
        kvforge::destroy(target_dir, cleanup);
        throw store_failure(
            std::string(failed.what()) + "; " + target_dir +
                (cleanup ? " is left incomplete: remove it before trying again" : ", left incomplete, was removed"),
            failed.code());
    }
}

}  // namespace

const command convert_command = {
    "convert", "convert SRC DEST --as SPEC  copy a store into a new one of another composition",
    "usage: kvforge convert SRC DEST --as SPEC\n"
    "\n"
    "Copies every record of the store in SRC into a new store in DEST made as SPEC says\n"
    "(spec words, no path: e.g. --as mmap_file,hash,buffered or --as file_log,sorted,sync_each),\n"
    "with SRC's codecs, then verifies DEST. Keys keep their deadlines: when SRC has expiry,\n"
    "DEST is made with `expiring` too, and a key whose deadline has passed is not copied.\n"
    "DEST must not exist or be empty; SRC is only read.\n",
    run};

}  // namespace kvforge_tool
