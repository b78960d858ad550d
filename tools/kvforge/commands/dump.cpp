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
#include "../tool_store.hpp"

namespace kvforge_tool {

namespace {

int run(const std::vector<std::string>& args) {
    const arguments parsed(args, {});
    parsed.expect_positionals(1, 1, "DIR");
    const std::string& dir = parsed.positional()[0];
    const opened_store store = open_existing(dir, access::scan, read_only_options());
    const kvforge::composition& c = store.db.composition();
    dump_writer writer(stdout);
    writer.header({c.key_codec, c.value_codec, c.codec_fingerprint});
    progress_bar progress("dump " + dir, store.db.size());
    std::uint64_t done = 0;
    std::error_code ec;
    for (const auto& [key, value] : store.db.scan_from("", ec)) {
        writer.record(key, value);
        progress.update(++done);
    }
    if (ec) fail_store(ec, "dump " + dir, dir);
    if (!writer.finish()) throw store_failure("write the dump to stdout: " + std::string(std::strerror(errno)));
    return exit_ok;
}

}  // namespace

const command dump_command = {
    "dump", "dump DIR > FILE             every record in the portable dump format",
    "usage: kvforge dump DIR > FILE\n"
    "\n"
    "Writes every record of the store in DIR to stdout in the dump format: a header naming\n"
    "the codecs, one line per record (key, tab, value, every byte that is not printable\n"
    "ASCII escaped), and an end line with the count and a CRC-32C. `kvforge load` reads it\n"
    "back byte for byte, into a store of any composition. The format is described in\n"
    "docs/dump-format.md. On a terminal, progress is shown on stderr.\n",
    run};

}  // namespace kvforge_tool
