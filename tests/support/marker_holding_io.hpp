#pragma once
// posix_io, but a pwrite of bytes that hold `marker`, once `point` is armed, waits for
// its release(): a job held as it copies a record the test wrote with the marker in it.
// The test writes such records, makes them reach the file (sync or flush), then arms.

#include <kvforge/io/posix.hpp>

#include <sys/types.h>

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

#include "held_call.hpp"

namespace kvforge_test {

struct marker_holding_io : kvforge::posix_io {
    std::string marker;  // empty: nothing is held
    std::shared_ptr<held_call> point = std::make_shared<held_call>();

    ssize_t pwrite(int fd, const void* data, std::size_t size, off_t offset) noexcept {
        const std::string_view bytes(static_cast<const char*>(data), size);
        if (!marker.empty() && bytes.find(marker) != std::string_view::npos) point->pass();
        return kvforge::posix_io::pwrite(fd, data, size, offset);
    }
};

}  // namespace kvforge_test
