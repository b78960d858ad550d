#pragma once
// The records of a log store's data file as its bytes hold them, for tests that check
// what a write or a compaction put on disk.

#include <kvforge/kvforge.hpp>

#include <cstdint>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "file_bytes.hpp"

namespace kvforge_test {

/// A record of a data file: its type, its key (a put's or an erase's; others: empty), and
/// where its bytes lie in the file.
struct data_file_record {
    kvforge::detail::record_type type;
    std::string key;
    std::uint64_t offset = 0;
    std::uint64_t size = 0;
};

/// The records of the data file at file, in file order. Throws std::runtime_error, which
/// fails the test, at bytes that hold no whole record.
inline std::vector<data_file_record> data_file_records(const std::filesystem::path& file) {
    namespace kd = kvforge::detail;
    const std::string bytes = read_file(file);
    std::vector<data_file_record> records;
    std::string_view rest = std::string_view(bytes).substr(kd::file_header::size);
    while (!rest.empty()) {
        kd::record_info info;
        if (kd::parse_record(rest, info) != kd::parse_status::ok) {
            throw std::runtime_error(file.string() + ": no whole record at offset " +
                                     std::to_string(bytes.size() - rest.size()));
        }
        records.push_back({info.type, std::string(rest.substr(info.key_offset, info.key_size)),
                           bytes.size() - rest.size(), info.size});
        rest.remove_prefix(info.size);
    }
    return records;
}

}  // namespace kvforge_test
