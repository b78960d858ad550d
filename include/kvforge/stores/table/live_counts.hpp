#pragma once
/// \file live_counts.hpp
/// The counts of a store over sorted tables: its live keys and their bytes, and the dead
/// bytes (versions a newer write hid, not yet merged away). They are kept at each write
/// rather than found by a scan: a write looks up the version it hides before its record is
/// appended, so that a lookup that fails leaves the store as it was. TABLES records them as
/// of its oldest log, and an open counts what each record it replays changes.

#include <cstdint>
#include <string>
#include <string_view>
#include <system_error>
#include <unordered_map>

#include "table_list.hpp"

namespace kvforge::detail {

class live_counts {
public:
    /// What a write changes in the counts.
    struct change {
        std::int64_t keys = 0;
        std::int64_t bytes = 0;
        std::uint64_t dead = 0;
        std::uint64_t erased = 0;        ///< erases of keys the store held
        std::uint64_t erased_bytes = 0;  ///< keys and values of the versions those erases hide
    };

    /// Adds to c what writing value (an erase when null) under key changes; find(key, value,
    /// ec) gives the version the store holds. A write of a batch (in_batch, since
    /// begin_batch()) sees the batch's writes before it.
    template <class Find>
    bool account(std::string_view key, const std::string_view* value, bool in_batch, change& c, Find&& find,
                 std::error_code& ec) {
        std::int64_t old_size = -1;
        const auto earlier = in_batch ? batch_sizes_.find(std::string(key)) : batch_sizes_.end();
        if (earlier != batch_sizes_.end()) {
            old_size = earlier->second;
        } else if (find(key, old_value_, ec)) {
            old_size = static_cast<std::int64_t>(old_value_.size());
        } else if (ec) {
            return false;
        }
        const auto key_size = static_cast<std::int64_t>(key.size());
        if (old_size >= 0) {
            c.keys -= 1;
            c.bytes -= key_size + old_size;
            c.dead += static_cast<std::uint64_t>(key_size + old_size);
        }
        if (value) {
            c.keys += 1;
            c.bytes += key_size + static_cast<std::int64_t>(value->size());
        } else {
            c.dead += key.size();  // the erase itself, until a merge drops it
            if (old_size >= 0) {
                c.erased += 1;
                c.erased_bytes += static_cast<std::uint64_t>(key_size + old_size);
            }
        }
        if (in_batch) batch_sizes_[std::string(key)] = value ? static_cast<std::int64_t>(value->size()) : -1;
        return true;
    }

    /// A batch's writes are accounted from here.
    void begin_batch() { batch_sizes_.clear(); }

    void apply(const change& c) noexcept {
        now_.live_keys = static_cast<std::uint64_t>(static_cast<std::int64_t>(now_.live_keys) + c.keys);
        now_.live_bytes = static_cast<std::uint64_t>(static_cast<std::int64_t>(now_.live_bytes) + c.bytes);
        now_.dead_bytes += c.dead;
    }

    /// A merge dropped bytes of hidden versions.
    void drop_dead(std::uint64_t bytes) noexcept { now_.drop_dead(bytes); }

    void set(const store_counts& counts) noexcept { now_ = counts; }
    [[nodiscard]] const store_counts& now() const noexcept { return now_; }
    [[nodiscard]] std::size_t live_keys() const noexcept { return static_cast<std::size_t>(now_.live_keys); }
    [[nodiscard]] std::uint64_t live_bytes() const noexcept { return now_.live_bytes; }
    [[nodiscard]] std::uint64_t dead_bytes() const noexcept { return now_.dead_bytes; }

private:
    store_counts now_;
    std::unordered_map<std::string, std::int64_t> batch_sizes_;  ///< a batch's value sizes (-1: erased)
    std::string old_value_;
};

}  // namespace kvforge::detail
