#include "errors.hpp"

#include <kvforge/error.hpp>

namespace kvforge_tool {

namespace {

/// What to do about an error of this code, or empty when kvforge's message says enough.
std::string advice_for(const std::error_code& ec, const std::string& dir) {
    if (ec == kvforge::errc::store_locked) return "close the program that has the store open, then run this again";
    if (ec == kvforge::errc::corrupt_record || ec == kvforge::errc::corrupt_header) {
        return "run `kvforge verify " + dir + "` to list the damage and `kvforge repair " + dir +
               "` to keep every intact record";
    }
    if (ec == kvforge::errc::not_a_store) return "check the path: this is not a kvforge store";
    if (ec == kvforge::errc::unsupported_version) return "open it with a newer kvforge";
    if (ec == std::errc::permission_denied) return "check the permissions of " + dir + " and its files";
    if (ec == std::errc::no_space_on_device) return "free some space on the disk of " + dir;
    return {};
}

}  // namespace

void fail_store(const std::error_code& ec, std::string_view doing, std::string_view directory) {
    const std::string& detail = kvforge::last_error_message();
    std::string message = std::string(doing) + ": " + (detail.empty() ? ec.message() : detail);
    // A message that names a kvforge command already says what to do.
    const std::string advice =
        detail.find("`kvforge ") == std::string::npos ? advice_for(ec, std::string(directory)) : std::string();
    if (!advice.empty()) message += "; " + advice;
    throw store_failure(message, ec);
}

}  // namespace kvforge_tool
