#pragma once
// The .tmp files in a store's directory, for tests of what compaction leaves behind.

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>
#include <system_error>

#include <kvforge/stores/log/record_format.hpp>

namespace kvforge_test {

/// Every .tmp file in the directory.
inline std::size_t temporary_files(const std::string& path) {
    std::size_t count = 0;
    for (const auto& entry : std::filesystem::directory_iterator(path)) {
        count += entry.path().filename().string().find(".tmp") != std::string::npos;
    }
    return count;
}

/// Segments being written as .tmp files that hold records: a compaction job's outputs, not
/// the spare segment prepared after a rollover, which holds only its header.
inline std::size_t outputs_being_written(const std::string& path) {
    std::size_t count = 0;
    for (const auto& entry : std::filesystem::directory_iterator(path)) {
        if (!entry.path().filename().string().ends_with(".kvlog.tmp")) continue;
        // The compaction thread may remove a spare between the listing and this.
        std::error_code gone;
        const std::uintmax_t size = entry.file_size(gone);
        count += !gone && size > kvforge::detail::file_header::size;
    }
    return count;
}

}  // namespace kvforge_test
