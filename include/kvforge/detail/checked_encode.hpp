#pragma once
/// \file checked_encode.hpp
/// Encoding of keys and values on the write path, with the size limits enforced.

#include <string>
#include <string_view>
#include <system_error>

#include "../codec.hpp"
#include "../error.hpp"
#include "../limits.hpp"

namespace kvforge::detail {

/// Encodes a key for writing; reports errc::key_too_large (and returns an empty view)
/// when its encoding is longer than max_key_size.
template <class Key>
std::string_view encode_key(param_t<Key> key, std::string& scratch, std::error_code& ec) {
    const std::string_view bytes = codec<Key>::encode(key, scratch);
    if (bytes.size() > max_key_size) {
        fail(ec, errc::key_too_large,
             "key of " + std::to_string(bytes.size()) + " bytes is over the limit of " +
                 std::to_string(max_key_size) + " bytes (kvforge::max_key_size); nothing was written");
        return {};
    }
    return bytes;
}

/// Encodes a value for writing; reports errc::value_too_large when it is over max_value_size.
template <class Value>
std::string_view encode_value(param_t<Value> value, std::string& scratch, std::error_code& ec) {
    const std::string_view bytes = codec<Value>::encode(value, scratch);
    if (bytes.size() > max_value_size) {
        fail(ec, errc::value_too_large,
             "value of " + std::to_string(bytes.size()) + " bytes is over the limit of " +
                 std::to_string(max_value_size) + " bytes (kvforge::max_value_size); nothing was written");
        return {};
    }
    return bytes;
}

}  // namespace kvforge::detail
