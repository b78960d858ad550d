#pragma once
/// \file assign_bytes.hpp
/// Copying a value's bytes into a caller's std::string, the last step of every get.

#include <cstddef>
#include <cstring>
#include <string>
#include <string_view>

namespace kvforge::detail {

/// Replaces out's contents with bytes, reusing out's storage. std::string::assign
/// takes a general replace path that costs about a fifth of a whole lookup of a
/// 100-byte value; this is a resize and one copy. bytes may view out itself.
inline void assign_bytes(std::string& out, std::string_view bytes) {
    const std::size_t size = bytes.size();
    if (size <= out.size()) {
        // Copy first: bytes may lie in out, and shrinking writes the terminating NUL.
        if (size != 0) std::memmove(out.data(), bytes.data(), size);
        out.resize(size);
    } else {
        // Longer than out, so not a view of it.
        out.resize(size);
        std::memcpy(out.data(), bytes.data(), size);
    }
}

}  // namespace kvforge::detail
