// kvforge del DIR KEY: one erase.

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
    const arguments parsed(args, {{"hex"}});
    parsed.expect_positionals(2, 2, "DIR KEY");
    const std::string& dir = parsed.positional()[0];
    opened_store store = open_existing(dir, access::as_is);
    const text_form key_form(store.db.composition().key_codec, parsed.flag("hex"));
    const std::string key = read_argument(key_form, parsed.positional()[1], "KEY");
    std::error_code ec;
    const bool erased = store.db.erase(key, ec);
    if (!ec) store.db.close(ec);
    if (ec) fail_store(ec, "delete from " + dir, dir);
    if (!erased) {
        std::fprintf(stderr, "kvforge: no key '%s' in %s\n", key_form.show(key).c_str(), dir.c_str());
        return exit_absent;
    }
    return exit_ok;
}

}  // namespace

const command del_command = {
    "del", "del DIR KEY                 remove KEY (exit 1 if absent)",
    "usage: kvforge del DIR KEY [--hex]\n"
    "\n"
    "Removes KEY from the store in DIR and syncs the removal to disk. Exits 1 when KEY was\n"
    "not there.\n"
    "\n"
    "  --hex   KEY is hex\n"
    "  --      ends the options, for a KEY that starts with --\n",
    run};

}  // namespace kvforge_tool
