#pragma once
/// \file limits.hpp
/// Size limits every store enforces on the encoded bytes of keys and values.

#include <cstddef>

namespace kvforge {

/// The largest encoded key, in bytes. The empty key is allowed.
inline constexpr std::size_t max_key_size = std::size_t{1} << 16;

/// The largest encoded value, in bytes. The empty value is allowed.
inline constexpr std::size_t max_value_size = std::size_t{64} << 20;

}  // namespace kvforge
