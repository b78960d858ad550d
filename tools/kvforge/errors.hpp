#pragma once
// Failures that end a command: how they are reported on stderr and which exit code they give.

#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>

namespace kvforge_tool {

/// A failure of the store or of a file: main prints "kvforge: <what>" and exits 3.
class store_failure : public std::runtime_error {
public:
    explicit store_failure(const std::string& what, std::error_code code = {})
        : std::runtime_error(what), code_(code) {}

    /// The error kvforge reported, when it was one of its calls that failed.
    [[nodiscard]] const std::error_code& code() const noexcept { return code_; }

private:
    std::error_code code_;
};

/// Throws store_failure for an error that a kvforge call on the store in directory
/// reported through ec: what the tool was doing, kvforge's message (which names the
/// file), and what to do about it.
[[noreturn]] void fail_store(const std::error_code& ec, std::string_view doing, std::string_view directory);

}  // namespace kvforge_tool
