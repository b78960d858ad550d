#pragma once
/// \file block_cache.hpp
/// Blocks of sorted tables read recently, kept checked and decompressed within a memory
/// budget, so that a hot block costs one read of its file and one checksum, not one a get.
///
/// It is the cache_table of kvforge::read_cache and kvforge::bounded, with S3-FIFO eviction,
/// keyed by the table's identity (its header's generation and file id, which no other file
/// of a store shares) and the block's offset. Entries of a table that is gone are never
/// asked for again and leave as the policy evicts them. Reads take a shared lock and copy
/// the block out; a block that is put after a read missed takes the exclusive lock.

#include <atomic>
#include <cstdint>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <system_error>

#include "../../cache/cache_table.hpp"
#include "../../cache/s3fifo.hpp"
#include "../../detail/byte_order.hpp"
#include "../../detail/hash_table.hpp"

namespace kvforge::detail {

class block_cache {
public:
    /// Takes budget bytes as the most the cache may hold; errc::invalid_argument, naming
    /// option, when it is 0 or too small for one entry.
    bool set_budget(std::uint64_t budget, std::string_view option, std::error_code& ec) {
        std::unique_lock lock(mutex_);
        return cache_.set_budget(budget, option, ec);
    }

    /// Copies the block of table at offset into out; false when the cache does not hold it.
    bool read(std::uint64_t table, std::uint64_t offset, std::string& out) const {
        const key_bytes key(table, offset);
        std::shared_lock lock(mutex_);
        const auto block = cache_.read(key.view());
        if (!block) {
            misses_.fetch_add(1, std::memory_order_relaxed);
            return false;
        }
        out.assign(*block);
        hits_.fetch_add(1, std::memory_order_relaxed);
        return true;
    }

    /// Keeps a block that passed its checks; one too large for the budget is not kept.
    void put(std::uint64_t table, std::uint64_t offset, std::string_view block) {
        const key_bytes key(table, offset);
        std::unique_lock lock(mutex_);
        if (cache_.fits(key_bytes::size, block.size())) cache_.put(key.view(), block);
    }

    [[nodiscard]] std::uint64_t hits() const noexcept { return hits_.load(std::memory_order_relaxed); }
    [[nodiscard]] std::uint64_t misses() const noexcept { return misses_.load(std::memory_order_relaxed); }
    [[nodiscard]] std::size_t blocks() const {
        std::shared_lock lock(mutex_);
        return cache_.size();
    }
    /// Every byte the cache holds, which stays within the budget between calls.
    [[nodiscard]] std::uint64_t memory_usage() const {
        std::shared_lock lock(mutex_);
        return cache_.memory_usage();
    }

private:
    /// A block's key: the table's identity, then the offset, both little-endian.
    struct key_bytes {
        static constexpr std::size_t size = 16;
        char bytes[size];

        key_bytes(std::uint64_t table, std::uint64_t offset) noexcept {
            store_unaligned(bytes, to_little_endian(table));
            store_unaligned(bytes + 8, to_little_endian(offset));
        }
        [[nodiscard]] std::string_view view() const noexcept { return {bytes, size}; }
    };

    mutable std::shared_mutex mutex_;
    cache_table<hash_table, s3fifo> cache_;
    mutable std::atomic<std::uint64_t> hits_{0};
    mutable std::atomic<std::uint64_t> misses_{0};
};

}  // namespace kvforge::detail
