#pragma once
// Whole files as bytes, for tests that inspect or damage a store's files.

#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <string_view>

namespace kvforge_test {

/// Every byte of the file at path; empty when it cannot be read.
inline std::string read_file(const std::filesystem::path& path) {
    std::ifstream in(path, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), {}};
}

/// Replaces the file at path with bytes, creating it if need be.
inline void write_file(const std::filesystem::path& path, std::string_view bytes) {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

}  // namespace kvforge_test
