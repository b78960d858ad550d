// kvforge backup DIR DEST: not in this kvforge yet.

#include <string>

#include "../cli.hpp"
#include "../commands.hpp"

namespace kvforge_tool {

namespace {

int run(const std::vector<std::string>& /*args*/) {
    throw usage_error("backup needs the store's online backup, which this kvforge does not have yet; meanwhile, "
                      "while no program writes to the store, `kvforge convert DIR DEST --as SPEC` makes a copy");
}

}  // namespace

const command backup_command = {
    "backup", "backup DIR DEST             (not in this kvforge yet; see kvforge convert)",
    "usage: kvforge backup DIR DEST\n"
    "\n"
    "A point-in-time copy of a store while writers go on needs the store's online backup,\n"
    "which this kvforge does not have yet. While no program writes to the store, `kvforge\n"
    "convert DIR DEST --as SPEC` copies every record into a new store and verifies it.\n",
    run};

}  // namespace kvforge_tool
