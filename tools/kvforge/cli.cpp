#include "cli.hpp"

#include <algorithm>

namespace kvforge_tool {

arguments::arguments(const std::vector<std::string>& args, std::initializer_list<option_spec> options) {
    bool options_ended = false;
    for (std::size_t i = 0; i < args.size(); ++i) {
        const std::string& arg = args[i];
        if (options_ended || arg.size() < 2 || arg.compare(0, 2, "--") != 0) {
            positional_.push_back(arg);
            continue;
        }
        if (arg == "--") {
            options_ended = true;
            continue;
        }
        const std::size_t equals = arg.find('=');
        const std::string name = arg.substr(2, equals == std::string::npos ? std::string::npos : equals - 2);
        if (name == "help") {
            help_ = true;
            continue;
        }
        const auto spec = std::find_if(options.begin(), options.end(),
                                       [&](const option_spec& o) { return o.name == name; });
        if (spec == options.end()) throw usage_error("unknown option --" + name);
        if (!spec->takes_value) {
            if (equals != std::string::npos) throw usage_error("--" + name + " takes no value");
            flags_.insert(name);
        } else if (equals != std::string::npos) {
            values_[name] = arg.substr(equals + 1);
        } else if (i + 1 < args.size()) {
            values_[name] = args[++i];
        } else {
            throw usage_error("--" + name + " needs a value");
        }
    }
}

std::optional<std::string> arguments::value(std::string_view name) const {
    const auto found = values_.find(std::string(name));
    if (found == values_.end()) return std::nullopt;
    return found->second;
}

void arguments::expect_positionals(std::size_t min, std::size_t max, std::string_view names) const {
    if (positional_.size() < min) throw usage_error("missing arguments: expected " + std::string(names));
    if (positional_.size() > max) {
        throw usage_error("unexpected argument '" + positional_[max] + "': expected " + std::string(names));
    }
}

}  // namespace kvforge_tool
