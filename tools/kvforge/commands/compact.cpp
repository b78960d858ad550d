// kvforge compact DIR: rewrites the live records and drops the dead ones.

#include <cstdio>
#include <string>

#include "../cli.hpp"
#include "../commands.hpp"
#include "../errors.hpp"
#include "../exit_codes.hpp"
#include "../plural.hpp"
#include "../progress.hpp"
#include "../tool_store.hpp"

namespace kvforge_tool {

namespace {

int run(const std::vector<std::string>& args) {
    const arguments parsed(args, {});
    parsed.expect_positionals(1, 1, "DIR");
    const std::string& dir = parsed.positional()[0];
    opened_store store = open_existing(dir, access::as_is);
    if (store.in_cluster) {
        std::printf("%s: nothing to compact: the cluster's nodes reclaim their own memory\n", dir.c_str());
        return exit_ok;
    }
    const kvforge::stats before = store.db.stats();
    std::error_code ec;
    {
        const activity running("compact " + dir);
        store.db.compact(ec);
        if (!ec) store.db.close(ec);
    }
    if (ec) fail_store(ec, "compact " + dir, dir);
    const opened_store reopened = open_existing(dir, access::as_is);
    const kvforge::stats after = reopened.db.stats();
    std::printf("compacted %s: %s on disk before, %s after; %s, %s live\n", dir.c_str(),
                human_bytes(before.disk_bytes).c_str(), human_bytes(after.disk_bytes).c_str(),
                count_of(after.live_keys, "key").c_str(), human_bytes(after.live_bytes).c_str());
    return exit_ok;
}

}  // namespace

const command compact_command = {
    "compact", "compact DIR                 reclaim the space of replaced and erased records",
    "usage: kvforge compact DIR\n"
    "\n"
    "Rewrites the live records of the store in DIR into a new data file and drops the old\n"
    "one, reclaiming the space of replaced and erased records, and prints the bytes on disk\n"
    "before and after.\n",
    run};

}  // namespace kvforge_tool
