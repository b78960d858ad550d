// kvforge convert SRC DEST --as SPEC: a copy of a store, of another composition.

#include <cstdio>
#include <string>

#include <kvforge/copy.hpp>

#include "../cli.hpp"
#include "../commands.hpp"
#include "../errors.hpp"
#include "../exit_codes.hpp"
#include "../progress.hpp"
#include "../store_files.hpp"
#include "../tool_store.hpp"

namespace kvforge_tool {

namespace {

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
    opened_store target = open_or_create(target_dir, *words, source.db.composition());

    std::error_code ec;
    std::uint64_t copied = 0;
    {
        progress_bar progress("convert " + source_dir, source.db.size());
        kvforge::copy_options opts;
        opts.on_progress = [&](const kvforge::copy_progress& p) { progress.update(p.done); };
        copied = kvforge::copy(source.db, target.db, opts, ec);
    }
    if (ec) fail_store(ec, "convert " + source_dir + " to " + target_dir, target_dir);
    const kvforge::verify_report check = target.db.verify(ec);
    if (!ec) target.db.close(ec);
    if (ec) fail_store(ec, "check " + target_dir, target_dir);
    const kvforge::composition& made = target.db.composition();
    std::printf("converted %llu records from %s to %s (%s,%s,%s); verified: %llu records checked, %zu damaged\n",
                static_cast<unsigned long long>(copied), source_dir.c_str(), target_dir.c_str(), made.store.c_str(),
                made.index.c_str(), made.durability.c_str(), static_cast<unsigned long long>(check.records_checked),
                check.damaged.size());
    return check.ok() ? exit_ok : exit_store_error;
}

}  // namespace

const command convert_command = {
    "convert", "convert SRC DEST --as SPEC  copy a store into a new one of another composition",
    "usage: kvforge convert SRC DEST --as SPEC\n"
    "\n"
    "Copies every record of the store in SRC into a new store in DEST made as SPEC says\n"
    "(spec words, no path: e.g. --as mmap_file,hash,buffered or --as file_log,sorted,sync_each),\n"
    "with SRC's codecs, then verifies DEST. DEST must not exist or be empty; SRC is only read.\n",
    run};

}  // namespace kvforge_tool
