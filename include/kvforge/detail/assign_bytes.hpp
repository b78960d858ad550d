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
/// 100-byte value; this is one copy, with a resize only when the length changes.
/// bytes may view out itself.
inline void assign_bytes(std::string& out, std::string_view bytes) {
    const std::size_t size = bytes.size();
    if (size > out.size()) {
        // Longer than out, so not a view of it.
        if (out.empty() && size > out.capacity()) {
            // A new string (a plain get's): allocated at its length and copied once, rather
            // than grown, filled with zeros and then copied over.
            out = std::string(bytes);
            return;
        }
        out.resize(size);
        std::memcpy(out.data(), bytes.data(), size);
        return;
    }
    // Copy first: bytes may lie in out, and shrinking writes the terminating NUL.
    if (size != 0) std::memmove(out.data(), bytes.data(), size);
    if (size != out.size()) out.resize(size);
}

}  // namespace kvforge::detail
