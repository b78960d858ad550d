#pragma once
/// \file file_mapping.hpp
/// A read-only shared mapping of a data file, unmapped when its last owner lets go.
///
/// mmap_file stores read records through such a mapping. It is created longer than
/// the file, so appends land inside it without remapping; when the file outgrows it,
/// a longer mapping replaces it for new reads, while views handed out earlier keep
/// the old one (and so their bytes) alive through their shared_ptr.

#include <sys/mman.h>

#include <cerrno>
#include <cstddef>
#include <memory>
#include <string>
#include <system_error>
#include <utility>

#include "../../error.hpp"

namespace kvforge::detail {

template <class IO>
class file_mapping {
public:
    /// Maps length bytes of the file fd from its start; nullptr with ec set on failure.
    static std::shared_ptr<const file_mapping> map(const IO& io, int fd, std::size_t length, const std::string& path,
                                                   std::error_code& ec) {
        IO copy = io;
        void* address = copy.mmap(nullptr, length, PROT_READ, MAP_SHARED, fd, 0);
        if (address == MAP_FAILED) {
            fail_errno(ec, errno, "map " + path + " (" + std::to_string(length) + " bytes)");
            return nullptr;
        }
        return std::shared_ptr<const file_mapping>(new file_mapping(std::move(copy), address, length));
    }

    file_mapping(const file_mapping&) = delete;
    file_mapping& operator=(const file_mapping&) = delete;
    ~file_mapping() { io_.munmap(address_, length_); }

    [[nodiscard]] const char* data() const noexcept { return static_cast<const char*>(address_); }
    [[nodiscard]] std::size_t length() const noexcept { return length_; }

private:
    file_mapping(IO io, void* address, std::size_t length) : io_(std::move(io)), address_(address), length_(length) {}

    IO io_;  // a copy, since a view may outlive the store that made it
    void* address_;
    std::size_t length_;
};

}  // namespace kvforge::detail
