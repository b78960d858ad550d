// kvforge verify DIR: reads and checks every record; exit 3 listing the damage.

#include <cstdio>
#include <string>

#include <kvforge/error.hpp>

#include "../cli.hpp"
#include "../commands.hpp"
#include "../errors.hpp"
#include "../exit_codes.hpp"
#include "../plural.hpp"
#include "../progress.hpp"
#include "../store_files.hpp"
#include "../tool_store.hpp"

namespace kvforge_tool {

namespace {

int run(const std::vector<std::string>& args) {
    const arguments parsed(args, {});
    parsed.expect_positionals(1, 1, "DIR");
    const std::string& dir = parsed.positional()[0];
    kvforge::verify_report report;
    std::uint64_t bytes_cut = 0;
    {
        const activity running("verify " + dir);
        try {
            const opened_store store = open_existing(dir, access::as_is);
            bytes_cut = store.db.stats().recovered_bytes_cut;
            std::error_code ec;
            report = store.db.verify(ec);
            if (ec) fail_store(ec, "verify " + dir, dir);
        } catch (const store_failure& refused) {
            // A store damaged before its log's tail refuses to open: read its files as they are.
            std::error_code ec;
            if (refused.code() != kvforge::errc::corrupt_record || !find_damage(dir, report, ec) || report.ok()) throw;
        }
    }
    if (bytes_cut > 0) {
        std::printf("%s: opening cut %llu bytes of an incomplete record off the end of the log (a write that a "
                    "crash cut short; nothing acknowledged)\n",
                    dir.c_str(), static_cast<unsigned long long>(bytes_cut));
    }
    for (const kvforge::damaged_record& damage : report.damaged) {
        std::printf("damaged: %s at offset %llu: %s\n", damage.file.c_str(),
                    static_cast<unsigned long long>(damage.offset), damage.problem.c_str());
    }
    std::printf("%s: %llu records checked, %zu damaged\n", dir.c_str(),
                static_cast<unsigned long long>(report.records_checked), report.damaged.size());
    if (report.ok()) return exit_ok;
    std::fflush(stdout);  // the list first, then the verdict, wherever both go
    std::fprintf(stderr, "kvforge: %s is damaged (%s, listed on stdout); run `kvforge repair %s` to keep every "
                         "intact record\n",
                 dir.c_str(), count_of(report.damaged.size(), "place").c_str(), dir.c_str());
    return exit_store_error;
}

}  // namespace

const command verify_command = {
    "verify", "verify DIR                  check every record (exit 3 listing the damage)",
    "usage: kvforge verify DIR\n"
    "\n"
    "Reads every record of the store in DIR and checks it against its checksum. Prints\n"
    "each damaged place (file and offset) and a summary; exits 0 when the store is intact\n"
    "and 3 when it is damaged (then `kvforge repair DIR` keeps every intact record).\n"
    "Opening a store cuts off an incomplete record that a crash left at the end of its\n"
    "log, as every open does; verify says when it did.\n",
    run};

}  // namespace kvforge_tool
