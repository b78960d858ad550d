// kvforge: looks inside and operates on kvforge stores. Each subcommand is in
// commands/<name>.cpp; this file finds it, and turns failures into messages and exit codes.

#include <kvforge/error.hpp>
#include <kvforge/version.hpp>

#include <cstdio>
#include <exception>
#include <new>
#include <string>
#include <vector>

#include "cli.hpp"
#include "commands.hpp"
#include "errors.hpp"
#include "exit_codes.hpp"

namespace {

using namespace kvforge_tool;

const command* const all_commands[] = {&stat_command, &get_command,     &put_command,     &del_command,
                                       &scan_command, &dump_command,    &load_command,    &verify_command,
                                       &compact_command, &convert_command, &repair_command, &backup_command};

void print_overview(std::FILE* out) {
    std::fprintf(out,
                 "usage: kvforge COMMAND [ARGUMENTS] [OPTIONS]\n"
                 "       kvforge COMMAND --help\n"
                 "\n"
                 "Looks inside kvforge stores and operates on them. DIR is a store's directory; the tool\n"
                 "opens any store as its MANIFEST says, with no flags. A store in a Redis Cluster is named\n"
                 "redis_cluster:HOST:PORT,HOST:PORT/NAME in place of DIR (all but scan and backup; its\n"
                 "keys and values are bytes).\n"
                 "\n"
                 "commands:\n");
    for (const command* c : all_commands) std::fprintf(out, "  %.*s\n", static_cast<int>(c->synopsis.size()), c->synopsis.data());
    std::fprintf(out,
                 "\n"
                 "Keys and values show in the form of the store's codecs: text with \\xHH escapes for\n"
                 "bytes that are not printable ASCII, decimal numbers for integer and floating-point\n"
                 "codecs, hex for others (--hex: hex for all). Long work shows progress on stderr when\n"
                 "it is a terminal.\n"
                 "\n"
                 "exit status: 0 success, 1 key absent, 2 usage error, 3 store error (stderr says which\n"
                 "file and what to do)\n");
}

/// Whether args ask for help before any `--`.
bool asks_for_help(const std::vector<std::string>& args) {
    for (const std::string& arg : args) {
        if (arg == "--") return false;
        if (arg == "--help" || arg == "-h") return true;
    }
    return false;
}

}  // namespace

int main(int argc, char** argv) {
    if (argc < 2) {
        print_overview(stderr);
        return exit_usage;
    }
    const std::string name = argv[1];
    if (name == "--help" || name == "-h" || name == "help") {
        print_overview(stdout);
        return exit_ok;
    }
    if (name == "--version") {
        std::printf("kvforge %d.%d.%d\n", KVFORGE_VERSION_MAJOR, KVFORGE_VERSION_MINOR, KVFORGE_VERSION_PATCH);
        return exit_ok;
    }
    const command* chosen = nullptr;
    for (const command* c : all_commands) {
        if (c->name == name) chosen = c;
    }
    if (chosen == nullptr) {
        std::fprintf(stderr, "kvforge: unknown command '%s'; `kvforge --help` lists the commands\n", name.c_str());
        return exit_usage;
    }
    const std::vector<std::string> args(argv + 2, argv + argc);
    if (asks_for_help(args)) {
        std::fputs(std::string(chosen->help).c_str(), stdout);
        return exit_ok;
    }
    try {
        const int status = chosen->run(args);
        if (std::fflush(stdout) != 0) {
            std::perror("kvforge: write to stdout");
            return exit_store_error;
        }
        return status;
    } catch (const usage_error& e) {
        const std::string help(chosen->help);
        std::fprintf(stderr, "kvforge %s: %s\n%s(`kvforge %s --help` says more)\n", name.c_str(), e.what(),
                     help.substr(0, help.find('\n') + 1).c_str(), name.c_str());
        return exit_usage;
    } catch (const store_failure& e) {
        std::fprintf(stderr, "kvforge: %s\n", e.what());
    } catch (const kvforge::error& e) {
        std::fprintf(stderr, "kvforge: %s\n", e.what());
    } catch (const std::bad_alloc&) {
        std::fprintf(stderr, "kvforge: out of memory\n");
    } catch (const std::exception& e) {
        std::fprintf(stderr, "kvforge: %s\n", e.what());
    }
    return exit_store_error;
}
