#include "key_args.hpp"

#include "cli.hpp"

namespace kvforge_tool {

std::string read_argument(const text_form& form, std::string_view text, std::string_view what) {
    std::string bytes;
    std::string problem;
    if (!form.read(text, bytes, problem)) {
        throw usage_error(std::string(what) + " " + problem + (form.is_hex() ? "" : "; or give its bytes in hex with --hex"));
    }
    return bytes;
}

}  // namespace kvforge_tool
