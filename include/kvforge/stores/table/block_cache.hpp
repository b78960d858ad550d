#pragma once
/// \file block_cache.hpp
/// Blocks of sorted tables read recently, kept checked and decompressed within a memory
/// budget, so that a hot block costs a lookup here, not a read of its file, a checksum and
/// a decompression.
///
/// A block is shared: a read takes a reference to it rather than a copy, and a reader, or
/// a pinned_value a get_view() handed out, keeps it alive after it leaves the cache (only
/// what the cache holds counts against its budget).
///
/// Blocks are keyed by the table's identity (its header's generation and file id, which no
/// other file of a store shares) and the block's offset. The store has the cache forget a
/// table it removes, whose blocks would otherwise hold memory until others pushed them out.
///
/// Eviction is CLOCK: a read marks its entry, and a put that needs room sweeps a hand over
/// the entries, clearing marks and taking the first unmarked one. So a read takes only
/// the shared lock (the mark is atomic), and a put under churn costs one block's memory
/// and a short sweep, whatever the budget. (A cache of many small values would rather
/// keep them in arenas; a block is a few KiB, one allocation each.)

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <system_error>
#include <unordered_map>
#include <vector>

#include "../../error.hpp"

namespace kvforge::detail {

/// A checked, decompressed block, shared by the cache and whoever reads it.
using shared_block = std::shared_ptr<const std::string>;

class block_cache {
public:
    /// The least budget set_budget() takes: a few blocks of the default 4 KiB.
    static constexpr std::uint64_t min_budget = 16 << 10;

    /// Takes budget bytes as the most the cache may hold; errc::invalid_argument, naming
    /// option, when it is less than min_budget.
    bool set_budget(std::uint64_t budget, std::string_view option, std::error_code& ec) {
        if (budget < min_budget) {
            fail(ec, errc::invalid_argument,
                 std::string(option) + " is " + std::to_string(budget) + ": a block cache needs at least " +
                     std::to_string(min_budget) + " bytes (0 keeps none)");
            return false;
        }
        std::unique_lock lock(mutex_);
        budget_ = budget;
        make_room(0);
        return true;
    }

    /// The block of table at offset; null when the cache does not hold it.
    [[nodiscard]] shared_block read(std::uint64_t table, std::uint64_t offset) const {
        std::shared_lock lock(mutex_);
        const auto found = index_.find(block_key{table, offset});
        if (found == index_.end()) {
            misses_.fetch_add(1, std::memory_order_relaxed);
            return nullptr;
        }
        const entry& held = *entries_[found->second];
        // Storing only on a change keeps a hot entry's cache line shared among readers.
        if (!held.marked.load(std::memory_order_relaxed)) held.marked.store(true, std::memory_order_relaxed);
        hits_.fetch_add(1, std::memory_order_relaxed);
        return held.block;
    }

    /// Keeps a block that passed its checks; one too large for the budget is not kept.
    void put(std::uint64_t table, std::uint64_t offset, shared_block block) {
        const std::uint64_t cost = cost_of(block->size());
        std::unique_lock lock(mutex_);
        const block_key key{table, offset};
        if (cost > budget_ / 2 || index_.contains(key)) return;
        make_room(cost);
        auto added = std::make_unique<entry>();
        added->key = key;
        added->block = std::move(block);
        index_.emplace(key, entries_.size());
        entries_.push_back(std::move(added));
        held_bytes_ += cost;
        make_room(0);  // the index or the list of entries may have grown
    }

    /// Drops every block of the tables (identities, in any order), in one pass over the entries.
    void forget(std::vector<std::uint64_t> tables) {
        if (tables.empty()) return;
        std::sort(tables.begin(), tables.end());
        std::unique_lock lock(mutex_);
        for (std::size_t i = 0; i < entries_.size();) {
            if (std::binary_search(tables.begin(), tables.end(), entries_[i]->key.table)) {
                remove(i);  // the last entry takes position i, to be looked at next
            } else {
                ++i;
            }
        }
    }

    [[nodiscard]] std::uint64_t hits() const noexcept { return hits_.load(std::memory_order_relaxed); }
    [[nodiscard]] std::uint64_t misses() const noexcept { return misses_.load(std::memory_order_relaxed); }
    [[nodiscard]] std::uint64_t evictions() const {
        std::shared_lock lock(mutex_);
        return evictions_;
    }
    [[nodiscard]] std::size_t blocks() const {
        std::shared_lock lock(mutex_);
        return entries_.size();
    }
    /// The bytes the cache holds, each block with its entry and index node, and the
    /// index's and list's arrays, which stays within the budget between calls.
    [[nodiscard]] std::uint64_t memory_usage() const {
        std::shared_lock lock(mutex_);
        return held_bytes_ + arrays_bytes();
    }

private:
    struct block_key {
        std::uint64_t table = 0;
        std::uint64_t offset = 0;
        bool operator==(const block_key&) const = default;
    };
    struct block_key_hash {
        std::size_t operator()(const block_key& key) const noexcept {
            // Offsets are multiples of about a block; mix both words (a 64-bit finalizer).
            std::uint64_t h = key.table * 0x9e3779b97f4a7c15ULL ^ key.offset;
            h ^= h >> 33;
            h *= 0xff51afd7ed558ccdULL;
            h ^= h >> 33;
            return static_cast<std::size_t>(h);
        }
    };
    struct entry {
        block_key key;
        shared_block block;
        mutable std::atomic<bool> marked{false};
    };

    /// What an entry of a block of size bytes costs: the block with its string and shared
    /// count, the entry and its index node (the allocator's rounding aside).
    [[nodiscard]] static std::uint64_t cost_of(std::size_t size) noexcept {
        constexpr std::uint64_t index_node = 48;    // next pointer, key, position and hash
        constexpr std::uint64_t shared_count = 16;  // make_shared's counts beside the string
        return size + sizeof(std::string) + shared_count + sizeof(entry) + index_node;
    }

    /// The index's buckets and the list of entries.
    [[nodiscard]] std::uint64_t arrays_bytes() const noexcept {
        return (index_.bucket_count() + entries_.capacity()) * sizeof(void*);
    }

    /// Evicts until cost more bytes fit within the budget.
    void make_room(std::uint64_t cost) {
        while (!entries_.empty() && held_bytes_ + arrays_bytes() + cost > budget_) {
            if (hand_ >= entries_.size()) hand_ = 0;
            entry& candidate = *entries_[hand_];
            if (candidate.marked.load(std::memory_order_relaxed)) {
                candidate.marked.store(false, std::memory_order_relaxed);
                ++hand_;
                continue;
            }
            remove(hand_);
            ++evictions_;
        }
    }

    /// Removes the entry at position i; the last entry takes its place, where the hand
    /// finds it next.
    void remove(std::size_t i) {
        held_bytes_ -= cost_of(entries_[i]->block->size());
        index_.erase(entries_[i]->key);
        if (i + 1 != entries_.size()) {
            entries_[i] = std::move(entries_.back());
            index_[entries_[i]->key] = i;
        }
        entries_.pop_back();
    }

    mutable std::shared_mutex mutex_;
    std::uint64_t budget_ = 0;
    std::uint64_t held_bytes_ = 0;
    std::unordered_map<block_key, std::size_t, block_key_hash> index_;
    std::vector<std::unique_ptr<entry>> entries_;
    std::size_t hand_ = 0;
    std::uint64_t evictions_ = 0;
    mutable std::atomic<std::uint64_t> hits_{0};
    mutable std::atomic<std::uint64_t> misses_{0};
};

}  // namespace kvforge::detail
