// kvforge repair DIR: keeps every intact record of a damaged store, drops the rest.

#include <cstdio>
#include <optional>
#include <string>

#include <kvforge/error.hpp>
#include <kvforge/options.hpp>

#include "../cli.hpp"
#include "../commands.hpp"
#include "../errors.hpp"
#include "../exit_codes.hpp"
#include "../manifest_rebuild.hpp"
#include "../plural.hpp"
#include "../progress.hpp"
#include "../tool_store.hpp"

namespace kvforge_tool {

namespace {

/// Runs step, a salvage of the store in dir. Damage it cannot get past is reported with
/// what is left to do, rather than the advice to run repair, which is running.
template <class Step>
auto salvaging(const std::string& dir, Step&& step) {
    try {
        return step();
    } catch (const store_failure& failed) {
        if (!refused_for_damage(failed.code())) throw;
        throw store_failure("repair " + dir + ": " + kvforge::last_error_message() +
                                "; a salvage cannot get past this damage (restore the store from a backup)",
                            failed.code());
    }
}

int run(const std::vector<std::string>& args) {
    const arguments parsed(args, {{"as", true}});
    parsed.expect_positionals(1, 1, "DIR");
    const std::string& dir = parsed.positional()[0];
    // A lost MANIFEST first: without it the store does not open.
    if (const std::optional<std::string> rebuilt = rebuild_lost_manifest(dir, parsed.value("as"))) {
        std::printf("%s: %s\n", dir.c_str(), rebuilt->c_str());
    }
    kvforge::verify_report damage;
    kvforge::verify_report after;
    std::uint64_t kept = 0;
    std::error_code ec;
    {
        const activity running("repair " + dir);
        try {
            const opened_store store = open_existing(dir, access::as_is);
            damage = store.db.verify(ec);
            if (ec) fail_store(ec, "verify " + dir, dir);
        } catch (const store_failure& refused) {
            // A damaged store refuses to open: a salvaging open reads past the damage and lists it.
            if (!refused_for_damage(refused.code())) throw;
            damage = salvaging(dir, [&] { return damage_found_by_salvage(dir); });
            if (damage.ok()) throw;
        }
        if (!damage.ok()) {
            // A salvaging open reads and checks every record of the log, whatever a hint file says.
            salvaging(dir, [&] {
                kvforge::options salvage;
                salvage.salvage = true;
                opened_store store = open_existing(dir, access::as_is, salvage);
                after = store.db.verify(ec);
                if (ec) fail_store(ec, "verify " + dir + " after the repair", dir);
                kept = store.db.size();
                store.db.close(ec);
                if (ec) fail_store(ec, "repair " + dir, dir);
            });
        }
    }
    if (damage.ok()) {
        std::printf("%s: nothing to repair: %s checked, none damaged\n", dir.c_str(),
                    count_of(damage.records_checked, "record").c_str());
        return exit_ok;
    }
    // Not "dropped": a place may be a list rebuilt from the files it names, which loses nothing.
    std::printf("%s: found %s; every intact record is kept:\n", dir.c_str(),
                count_of(damage.damaged.size(), "damaged place").c_str());
    for (const kvforge::damaged_record& place : damage.damaged) {
        std::printf("  %s at offset %llu: %s\n", place.file.c_str(), static_cast<unsigned long long>(place.offset),
                    place.problem.c_str());
    }
    if (!after.ok()) throw store_failure(dir + ": still damaged after the repair; restore it from a backup");
    std::printf("%s: kept %s; %s checked after the repair, none damaged\n", dir.c_str(), count_of(kept, "key").c_str(),
                count_of(after.records_checked, "record").c_str());
    return exit_ok;
}

}  // namespace

const command repair_command = {
    "repair", "repair DIR                  keep every intact record, report what was dropped",
    "usage: kvforge repair DIR [--as SPEC]\n"
    "\n"
    "Salvages the store in DIR: lists each damaged place of its log, rewrites the log with\n"
    "every intact record and without the damaged ones, and verifies the result. The records\n"
    "of a data file whose header is damaged are found and checked one by one; a lost or\n"
    "truncated data file is reported with what its hint file says was lost. A key whose\n"
    "latest record was damaged keeps its previous value, if an intact record has one. A\n"
    "store with no damage is left as it is. Keep a copy of DIR first if its data matters:\n"
    "what is dropped is gone.\n"
    "\n"
    "A store whose MANIFEST was lost gets it back first, from what its data files' headers\n"
    "record (codecs, expiry, compression).\n"
    "\n"
    "  --as SPEC   for a lost MANIFEST the data files do not record enough for: spec words\n"
    "              saying what the store is, e.g. --as file_log,expiring,zstd\n",
    run};

}  // namespace kvforge_tool
