#pragma once
// A file in memory with data_file's read and write, for the sorted table tests and fuzzer.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <system_error>

namespace kvforge_test {

/// A file's bytes in a string, written and read as kvforge::detail::data_file does.
struct memory_file {
    std::string bytes;

    bool write(std::uint64_t offset, std::string_view data, std::error_code&) {
        if (bytes.size() < offset + data.size()) bytes.resize(offset + data.size());
        bytes.replace(offset, data.size(), data);
        return true;
    }

    /// Reads exactly size bytes, or fails with an I/O error as a file too short would.
    bool read(std::uint64_t offset, char* into, std::size_t size, std::error_code& ec) const {
        if (offset > bytes.size() || size > bytes.size() - offset) {
            ec = std::make_error_code(std::errc::io_error);
            return false;
        }
        bytes.copy(into, size, offset);
        return true;
    }
};

}  // namespace kvforge_test
