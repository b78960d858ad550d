#pragma once
/// \file composition.hpp
/// kvforge::composition: what a store is made of, as any_store::composition() reports it
/// and a store's MANIFEST records it (manifest.hpp).

#include <cstdint>
#include <string>

namespace kvforge {

/// What a store is made of: the policies and codecs that wrote it.
struct composition {
    std::uint32_t format = 0;             ///< format version of the store's files
    std::string store;                    ///< store policy, e.g. "file_log"
    std::string index;                    ///< index policy, e.g. "sorted_index"
    std::string durability;               ///< durability policy, e.g. "buffered"
    std::string key_codec;                ///< codec<Key>::name()
    std::string value_codec;              ///< codec<Value>::name()
    std::uint64_t codec_fingerprint = 0;  ///< the fingerprint of both codecs, as file headers carry it
    std::string expiry = "none";          ///< "none", or the clock of an expiring store
    std::string compression = "none";     ///< "none", or the value codec of a compressed store

    friend bool operator==(const composition&, const composition&) = default;
};

}  // namespace kvforge
