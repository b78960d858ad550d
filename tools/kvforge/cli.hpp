#pragma once
// Reading a subcommand's arguments: options (--name, --name VALUE, --name=VALUE) in any
// place, positionals in order, and `--` to end options (for keys that start with '-').

#include <cstddef>
#include <initializer_list>
#include <map>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace kvforge_tool {

/// A mistake in how the tool was called; main prints it with the command's usage line and exits 2.
class usage_error : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

/// An option a subcommand accepts.
struct option_spec {
    std::string_view name;     ///< without the leading "--"
    bool takes_value = false;  ///< --name VALUE, else a flag
};

/// A subcommand's arguments, read against its options.
class arguments {
public:
    /// Reads args (after the subcommand's name); throws usage_error for an unknown option,
    /// an option without its value, or a flag given a value. --help is always accepted.
    arguments(const std::vector<std::string>& args, std::initializer_list<option_spec> options);

    [[nodiscard]] bool help() const noexcept { return help_; }
    [[nodiscard]] bool flag(std::string_view name) const { return flags_.count(std::string(name)) != 0; }
    [[nodiscard]] std::optional<std::string> value(std::string_view name) const;
    [[nodiscard]] const std::vector<std::string>& positional() const noexcept { return positional_; }

    /// Throws usage_error unless there are between min and max positionals; names them in the message.
    void expect_positionals(std::size_t min, std::size_t max, std::string_view names) const;

private:
    bool help_ = false;
    std::set<std::string> flags_;
    std::map<std::string, std::string> values_;
    std::vector<std::string> positional_;
};

}  // namespace kvforge_tool
