#pragma once
/// \file manifest_file.hpp
/// Reading a store directory's MANIFEST file (its text is manifest.hpp's).

#include <fcntl.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <system_error>

#include "../error.hpp"
#include "../manifest.hpp"
#include "data_file.hpp"

namespace kvforge::detail {

/// A manifest is a dozen short lines; a file much larger is not one.
inline constexpr std::uint64_t max_manifest_bytes = 64 << 10;

/// Reads the MANIFEST of the store in directory into out. A directory (or store) with no
/// manifest is no error: found is false and out unchanged. A manifest that cannot be
/// read, or is damaged, fails with errc::corrupt_header naming the file.
template <class IO>
bool read_manifest_file(IO& io, const std::string& directory, composition& out, bool& found, std::error_code& ec) {
    found = false;
    const std::string path = directory + "/" + std::string(manifest_file_name);
    data_file<IO> file;
    std::error_code open_error;
    if (!file.open(io, path, O_RDONLY, open_error)) {
        if (open_error == std::errc::no_such_file_or_directory || open_error == std::errc::not_a_directory) {
            return true;
        }
        ec = open_error;
        return false;
    }
    std::uint64_t size = 0;
    if (!file.size(size, ec)) return false;
    if (size > max_manifest_bytes) {
        fail(ec, errc::corrupt_header,
             path + ": " + std::to_string(size) + " bytes, far more than a manifest holds; the file is not a kvforge "
                                                  "manifest (move it away if it does not belong to the store)");
        return false;
    }
    std::string text(static_cast<std::size_t>(size), '\0');
    if (!file.read(0, text.data(), text.size(), ec)) return false;
    std::string problem;
    if (!parse_manifest(text, out, problem)) {
        fail(ec, errc::corrupt_header,
             path + ": " + problem + "; the store's composition cannot be read (restore the file from a backup)");
        return false;
    }
    found = true;
    return true;
}

}  // namespace kvforge::detail
