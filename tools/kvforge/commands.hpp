#pragma once
// The tool's subcommands: each lives in commands/<name>.cpp with its help text.

#include <string>
#include <string_view>
#include <vector>

namespace kvforge_tool {

/// One subcommand: its name, a one-line synopsis for `kvforge --help`, its own --help
/// text, and what runs it (with the arguments after its name; returns the exit code).
struct command {
    std::string_view name;
    std::string_view synopsis;
    std::string_view help;
    int (*run)(const std::vector<std::string>& args);
};

extern const command stat_command;
extern const command get_command;
extern const command put_command;
extern const command del_command;
extern const command scan_command;
extern const command dump_command;
extern const command load_command;
extern const command verify_command;
extern const command compact_command;
extern const command convert_command;
extern const command repair_command;
extern const command backup_command;

}  // namespace kvforge_tool
