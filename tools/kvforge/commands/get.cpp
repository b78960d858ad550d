// kvforge get DIR KEY: one value on stdout.

#include <cstdio>
#include <string>

#include "../cli.hpp"
#include "../commands.hpp"
#include "../errors.hpp"
#include "../exit_codes.hpp"
#include "../key_args.hpp"
#include "../tool_store.hpp"

namespace kvforge_tool {

namespace {

int run(const std::vector<std::string>& args) {
    const arguments parsed(args, {{"hex"}, {"raw"}});
    parsed.expect_positionals(2, 2, "DIR KEY");
    if (parsed.flag("hex") && parsed.flag("raw")) throw usage_error("--hex and --raw exclude each other");
    const std::string& dir = parsed.positional()[0];
    const opened_store store = open_existing(dir, access::as_is, read_only_options());
    const kvforge::composition& c = store.db.composition();
    const std::string key = read_argument(text_form(c.key_codec, parsed.flag("hex")), parsed.positional()[1], "KEY");
    std::string value;
    std::error_code ec;
    if (!store.db.get(key, value, ec)) {
        if (ec) fail_store(ec, "get from " + dir, dir);
        std::fprintf(stderr, "kvforge: no key '%s' in %s\n", text_form(c.key_codec, parsed.flag("hex")).show(key).c_str(),
                     dir.c_str());
        return exit_absent;
    }
    if (parsed.flag("raw")) {
        std::fwrite(value.data(), 1, value.size(), stdout);
    } else {
        std::printf("%s\n", text_form(c.value_codec, parsed.flag("hex")).show(value).c_str());
    }
    return exit_ok;
}

}  // namespace

const command get_command = {
    "get", "get DIR KEY                 print the value of KEY (exit 1 if absent)",
    "usage: kvforge get DIR KEY [--hex | --raw]\n"
    "\n"
    "Prints the value of KEY. Keys and values are read and shown in the form of the store's\n"
    "codecs: text for bytes (with \\\\, \\t, \\n, \\r and \\xHH escapes for other bytes, as\n"
    "scan prints them: a backslash is written \\\\), decimal numbers for the integer and\n"
    "floating-point codecs, hex for others.\n"
    "Exits 1, printing nothing on stdout, when KEY is absent.\n"
    "\n"
    "  --hex   KEY is hex, and the value is printed in hex\n"
    "  --raw   the value's bytes as they are, with no newline (for binary values)\n"
    "  --      ends the options, for a KEY that starts with --\n",
    run};

}  // namespace kvforge_tool
