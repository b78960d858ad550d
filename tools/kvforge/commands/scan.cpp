// kvforge scan DIR: records in key order, one per line.

#include <charconv>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <optional>
#include <string>
#include <thread>
#include <unordered_map>
#include <utility>

#include "../cli.hpp"
#include "../commands.hpp"
#include "../errors.hpp"
#include "../exit_codes.hpp"
#include "../key_args.hpp"
#include "../tool_store.hpp"

namespace kvforge_tool {

namespace {

std::optional<std::uint64_t> limit_of(const arguments& parsed) {
    const std::optional<std::string> text = parsed.value("limit");
    if (!text) return std::nullopt;
    std::uint64_t limit = 0;
    const auto result = std::from_chars(text->data(), text->data() + text->size(), limit);
    if (result.ec != std::errc() || result.ptr != text->data() + text->size()) {
        throw usage_error("--limit takes a number of records, not '" + *text + "'");
    }
    return limit;
}

/// Milliseconds between two refreshes of --follow.
std::chrono::milliseconds interval_of(const arguments& parsed) {
    const std::optional<std::string> text = parsed.value("interval");
    if (!text) return std::chrono::milliseconds(200);
    std::uint64_t millis = 0;
    const auto result = std::from_chars(text->data(), text->data() + text->size(), millis);
    if (result.ec != std::errc() || result.ptr != text->data() + text->size() || millis == 0 || millis > 3600000) {
        throw usage_error("--interval takes milliseconds from 1 to 3600000, not '" + *text + "'");
    }
    return std::chrono::milliseconds(millis);
}

int run(const std::vector<std::string>& args) {
    const arguments parsed(args, {{"prefix", true}, {"from", true}, {"to", true}, {"keys-only"}, {"reverse"},
                                  {"limit", true}, {"hex"}, {"skip-damaged"}, {"follow"}, {"interval", true}});
    parsed.expect_positionals(1, 1, "DIR");
    if (parsed.value("prefix") && (parsed.value("from") || parsed.value("to"))) {
        throw usage_error("--prefix and --from/--to exclude each other");
    }
    const bool follow = parsed.flag("follow");
    if (follow && (parsed.flag("reverse") || parsed.value("limit") || parsed.flag("skip-damaged"))) {
        throw usage_error("--follow prints the records as they come, and takes none of --reverse, --limit, --skip-damaged");
    }
    if (parsed.value("interval") && !follow) throw usage_error("--interval goes with --follow");
    const std::chrono::milliseconds interval = interval_of(parsed);
    const std::optional<std::uint64_t> limit = limit_of(parsed);
    const std::string& dir = parsed.positional()[0];
    if (names_cluster_store(dir)) {
        throw store_failure(dir + ": a store in a Redis Cluster has no order across keys, so scan cannot list it in "
                                  "key order; `kvforge dump " + dir + "` lists every record");
    }
    kvforge::verify_report damage;
    opened_store store = open_for_reading(dir, parsed.flag("skip-damaged"), damage);
    std::error_code ec;
    const bool hex = parsed.flag("hex");
    const text_form key_form(store.db.composition().key_codec, hex);
    const text_form value_form(store.db.composition().value_codec, hex);
    const bool keys_only = parsed.flag("keys-only");
    const bool reverse = parsed.flag("reverse");

    const kvforge::scan_order order = reverse ? kvforge::descending : kvforge::ascending;
    // A reverse scan of --from without --to runs from the last key down: --from bounds it below.
    std::string lowest;
    const auto range_of = [&] {
        if (const auto prefix = parsed.value("prefix")) {
            return store.db.scan_prefix(read_argument(key_form, *prefix, "--prefix"), order, ec);
        }
        const std::string from = parsed.value("from") ? read_argument(key_form, *parsed.value("from"), "--from") : "";
        if (const auto to = parsed.value("to")) {
            return store.db.scan(from, read_argument(key_form, *to, "--to"), order, ec);
        }
        if (!reverse) return store.db.scan_from(from, ec);
        lowest = from;
        return store.db.scan(order, ec);
    };
    const auto print = [&](const std::string& key, const std::string& value) {
        std::string line = key_form.show(key);
        if (!keys_only) line.append(1, '\t') += value_form.show(value);
        line += '\n';
        std::fputs(line.c_str(), stdout);
    };

    // --follow keeps what it printed of each key (a hash of its value) to print, after each
    // refresh that applied something, the records that are new or changed since.
    std::unordered_map<std::string, std::size_t> printed_values;
    std::uint64_t printed = 0;
    for (const auto& [key, value] : range_of()) {
        if ((limit && printed == *limit) || key < lowest) break;
        print(key, value);
        if (follow) printed_values.emplace(key, std::hash<std::string>{}(value));
        ++printed;
    }
    if (ec) fail_store(ec, "scan " + dir, dir);
    if (!follow) return report_skipped(dir, damage);
    for (;;) {
        std::fflush(stdout);
        const std::uint64_t applied = store.db.refresh(ec);
        if (ec) fail_store(ec, "refresh " + dir, dir);
        if (applied == 0) {
            std::this_thread::sleep_for(interval);
            continue;
        }
        std::unordered_map<std::string, std::size_t> now;
        for (const auto& [key, value] : range_of()) {
            const std::size_t hash = std::hash<std::string>{}(value);
            const auto before = printed_values.find(key);
            if (before == printed_values.end() || before->second != hash) print(key, value);
            now.emplace(key, hash);
        }
        if (ec) fail_store(ec, "scan " + dir, dir);
        printed_values = std::move(now);
    }
}

}  // namespace

const command scan_command = {
    "scan", "scan DIR [options]          records in key order, one per line: KEY<TAB>VALUE",
    "usage: kvforge scan DIR [--prefix P | --from A [--to B]] [--keys-only] [--reverse] [--limit N] [--hex]\n"
    "                        [--skip-damaged] [--follow [--interval MS]]\n"
    "\n"
    "Prints records in key order (the order of their encoded bytes, which is numeric for\n"
    "integer keys), one per line: the key, a tab, the value, in the form of the store's\n"
    "codecs (see kvforge get --help); tabs and newlines inside keys and values are escaped.\n"
    "\n"
    "  --prefix P   only keys that start with P\n"
    "  --from A     from key A on (inclusive)\n"
    "  --to B       up to key B (exclusive)\n"
    "  --keys-only  keys without their values\n"
    "  --reverse    last key first\n"
    "  --limit N    at most N records\n"
    "  --hex        keys and values (and P, A, B) in hex\n"
    "  --skip-damaged  go on past damage (damaged records, a lost or cut data file, a damaged\n"
    "               header): print every intact record, list on stderr the damaged places\n"
    "               left out (file and offset), and exit 3 if there were any. Changes no file.\n"
    "  --follow     after the records, go on beside the program that writes the store: refresh\n"
    "               every --interval MS (default 200) and print each record in the range that\n"
    "               is new or changed since, until interrupted (erased keys are not shown)\n",
    run};

}  // namespace kvforge_tool
