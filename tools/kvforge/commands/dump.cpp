// kvforge dump DIR: every record in the dump format, on stdout.

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string>

#include "../cli.hpp"
#include "../commands.hpp"
#include "../dump_format.hpp"
#include "../errors.hpp"
#include "../exit_codes.hpp"
#include "../progress.hpp"
#include "../records.hpp"
#include "../tool_store.hpp"

namespace kvforge_tool {

namespace {

int run(const std::vector<std::string>& args) {
    const arguments parsed(args, {{"skip-damaged"}});
    parsed.expect_positionals(1, 1, "DIR");
    const std::string& dir = parsed.positional()[0];
    kvforge::verify_report damage;
    const opened_store store = open_for_reading(dir, parsed.flag("skip-damaged"), damage);
    std::error_code ec;
    const kvforge::composition& c = store.db.composition();
    dump_writer writer(stdout);
    writer.header({c.key_codec, c.value_codec, c.codec_fingerprint, c.expiry});
    progress_bar progress("dump " + dir, store.db.size());
    std::uint64_t done = 0;
    for_each_record(
        store.db,
        [&](const std::string& key, const std::string& value, dump_deadline deadline) {
            writer.record(key, value, deadline);
            progress.update(++done);
        },
        ec);
    if (ec) fail_store(ec, "dump " + dir, dir);
    if (!writer.finish()) throw store_failure("write the dump to stdout: " + std::string(std::strerror(errno)));
    return report_skipped(dir, damage);
}

}  // namespace

const command dump_command = {
    "dump", "dump DIR > FILE             every record in the portable dump format",
    "usage: kvforge dump DIR [--skip-damaged] > FILE\n"
    "\n"
    "Writes every record of the store in DIR to stdout in the dump format: a header naming\n"
    "the codecs and the store's expiry, one line per record (key, tab, value, every byte that\n"
    "is not printable ASCII escaped; for a key with a deadline, a tab and the deadline in\n"
    "nanoseconds since the Unix epoch), and an end line with the count and a CRC-32C. A key\n"
    "whose deadline has passed is left out. `kvforge load` reads it back byte for byte, deadlines\n"
    "included, into a store of any composition. The format is described in docs/dump-format.md.\n"
    "On a terminal, progress is shown on stderr.\n"
    "\n"
    "  --skip-damaged  go on past damage (damaged records, a lost or cut data file, a damaged\n"
    "                  header): dump every intact record, list on stderr the damaged places\n"
    "                  left out (file and offset), and exit 3 if there were any. Changes no file.\n",
    run};

}  // namespace kvforge_tool
