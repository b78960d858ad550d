#pragma once
// A directory's whole contents, for tests that check that a call changed no file.

#include <filesystem>
#include <map>
#include <string>

#include "file_bytes.hpp"

namespace kvforge_test {

/// Every entry under root by relative path: a file's bytes, or a mark for a directory
/// or a symbolic link (with its target). Empty when root does not exist.
inline std::map<std::string, std::string> tree(const std::filesystem::path& root) {
    namespace fs = std::filesystem;
    std::map<std::string, std::string> entries;
    std::error_code ec;
    if (!fs::exists(fs::symlink_status(root, ec))) return entries;
    for (const auto& entry : fs::recursive_directory_iterator(root)) {
        const std::string name = fs::relative(entry.path(), root).string();
        if (entry.is_symlink()) {
            entries[name] = "(symlink to " + fs::read_symlink(entry.path()).string() + ")";
        } else if (entry.is_directory()) {
            entries[name] = "(directory)";
        } else {
            entries[name] = read_file(entry.path());
        }
    }
    return entries;
}

}  // namespace kvforge_test
