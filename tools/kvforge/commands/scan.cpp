// kvforge scan DIR: records in key order, one per line.

#include <charconv>
#include <cstdint>
#include <cstdio>
#include <optional>
#include <string>

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

int run(const std::vector<std::string>& args) {
    const arguments parsed(args, {{"prefix", true}, {"from", true}, {"to", true}, {"keys-only"}, {"reverse"},
                                  {"limit", true}, {"hex"}, {"skip-damaged"}});
    parsed.expect_positionals(1, 1, "DIR");
    if (parsed.value("prefix") && (parsed.value("from") || parsed.value("to"))) {
        throw usage_error("--prefix and --from/--to exclude each other");
    }
    const std::optional<std::uint64_t> limit = limit_of(parsed);
    const std::string& dir = parsed.positional()[0];
    kvforge::verify_report damage;
    const opened_store store = open_for_reading(dir, parsed.flag("skip-damaged"), damage);
    std::error_code ec;
    const bool hex = parsed.flag("hex");
    const text_form key_form(store.db.composition().key_codec, hex);
    const text_form value_form(store.db.composition().value_codec, hex);
    const bool keys_only = parsed.flag("keys-only");
    const bool reverse = parsed.flag("reverse");

    const kvforge::scan_order order = reverse ? kvforge::descending : kvforge::ascending;
    // A reverse scan of --from without --to runs from the last key down: --from bounds it below.
    std::string lowest;
    tool_store::range_type range = [&] {
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
    }();

    std::uint64_t printed = 0;
    for (const auto& [key, value] : range) {
        if ((limit && printed == *limit) || key < lowest) break;
        std::string line = key_form.show(key);
        if (!keys_only) line.append(1, '\t') += value_form.show(value);
        line += '\n';
        std::fputs(line.c_str(), stdout);
        ++printed;
    }
    if (ec) fail_store(ec, "scan " + dir, dir);
    return report_skipped(dir, damage);
}

}  // namespace

const command scan_command = {
    "scan", "scan DIR [options]          records in key order, one per line: KEY<TAB>VALUE",
    "usage: kvforge scan DIR [--prefix P | --from A [--to B]] [--keys-only] [--reverse] [--limit N] [--hex]\n"
    "                        [--skip-damaged]\n"
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
    "               left out (file and offset), and exit 3 if there were any. Changes no file.\n",
    run};

}  // namespace kvforge_tool
