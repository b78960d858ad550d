// kvforge backup DIR DEST: a verified copy of the store in a new or empty directory.

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
    const arguments parsed(args, {{"link"}});
    parsed.expect_positionals(2, 2, "DIR DEST");
    const std::string& dir = parsed.positional()[0];
    const std::string& dest = parsed.positional()[1];
    {
        // Read-only: the backup changes nothing in DIR, and runs beside other readers.
        opened_store store = open_existing(dir, access::as_is, read_only_options());
        const activity running("backup " + dir + " to " + dest);
        std::error_code ec;
        store.db.backup(dest, kvforge::backup_options{.link_files = parsed.flag("link")}, ec);
        if (ec) fail_store(ec, "backup " + dir + " to " + dest, dest);
    }
    const opened_store copy = open_existing(dest, access::as_is, read_only_options());
    const kvforge::stats held = copy.db.stats();
    std::printf("backed up %s to %s: %s, %s live, %s on disk; the copy was verified\n", dir.c_str(), dest.c_str(),
                count_of(held.live_keys, "key").c_str(), human_bytes(held.live_bytes).c_str(),
                human_bytes(held.disk_bytes).c_str());
    return exit_ok;
}

}  // namespace

const command backup_command = {
    "backup", "backup DIR DEST             copy the store into a new or empty directory, verified",
    "usage: kvforge backup DIR DEST [--link]\n"
    "\n"
    "Copies the store in DIR into DEST, which must not exist (its parent must) or be an\n"
    "empty directory; one that holds anything is refused and left as it is. The copy is\n"
    "a store of the same composition, written with its MANIFEST last (a DEST without a\n"
    "MANIFEST is no backup), synced, then opened and verified. DIR is opened read-only and\n"
    "not changed. A program can back up a store it has open while it writes: db.backup(DEST).\n"
    "Every file is copied (a reflink where the file system offers one), so the backup\n"
    "survives damage to DIR's files.\n"
    "\n"
    "  --link   hard-link DIR's closed segments into DEST instead (same file system):\n"
    "           no time or space spent, but a byte damaged in place in DIR is damaged\n"
    "           in DEST too\n",
    run};

}  // namespace kvforge_tool
