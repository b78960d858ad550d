// kvforge verify DIR: reads and checks every record; exit 3 listing the damage.

#include <cstdio>
#include <string>

#include <kvforge/stores/log/log_scan.hpp>
#include <kvforge/error.hpp>

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
    kvforge::verify_report report;
    {
        const activity running("verify " + dir);
        try {
            const opened_store store = open_existing(dir, access::as_is, read_only_options());
            std::error_code ec;
            report = store.db.verify(ec);
            if (ec) fail_store(ec, "verify " + dir, dir);
        } catch (const store_failure& refused) {
            // A damaged store refuses to open: a salvaging open reads past the damage and lists it.
            if (!refused_for_damage(refused.code())) throw;
            report = damage_found_by_salvage(dir);
            if (report.ok()) throw;
        }
    }
    // Read-only, the open left a torn tail in place: a write that a crash cut short, not
    // damage. Only the segment appended to can end so (verify() names a cut closed one
    // otherwise), and only after what its hint proves.
    if (!report.damaged.empty() && report.damaged.back().problem == kvforge::detail::torn_tail_problem) {
        const kvforge::damaged_record tail = report.damaged.back();
        report.damaged.pop_back();
        std::printf("%s: %s ends at offset %llu in an incomplete record (a write that a crash cut short; nothing "
                    "acknowledged); the next open for writing cuts it off\n",
                    dir.c_str(), tail.file.c_str(), static_cast<unsigned long long>(tail.offset));
    }
    for (const kvforge::damaged_record& damage : report.damaged) {
        std::printf("damaged: %s at offset %llu: %s\n", damage.file.c_str(),
                    static_cast<unsigned long long>(damage.offset), damage.problem.c_str());
    }
    std::printf("%s: %s checked, %zu damaged\n", dir.c_str(), count_of(report.records_checked, "record").c_str(),
                report.damaged.size());
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
    "verify changes no file: it opens the store read-only, beside other readers. An\n"
    "incomplete record that a crash left at the end of the log is named, not counted as\n"
    "damage; the next open for writing cuts it off. A data file shorter than its hint file\n"
    "proves it was, a closed segment that ends inside a record, a data file that is missing\n"
    "while its hint file is there, and a damaged file header are damage.\n",
    run};

}  // namespace kvforge_tool
