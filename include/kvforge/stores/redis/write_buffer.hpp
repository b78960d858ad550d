#pragma once
/// \file write_buffer.hpp
/// What a write of a redis_cluster store becomes: SET, with PXAT for a deadline; and the
/// buffer that holds writes until they are sent as one pipeline per master (buffered<>,
/// async_worker<>).

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "hash_slot.hpp"
#include "node_connection.hpp"

namespace kvforge::detail::redis {

/// SET key value, and PXAT ms when pxat holds a deadline; views of the arguments.
inline command set_command(const std::string& key, std::string_view value, const std::optional<std::string>& pxat) {
    return pxat ? command{"SET", key, value, "PXAT", *pxat} : command{"SET", key, value};
}

/// A deadline in ticks of the system clock as Unix milliseconds, rounded down, as text.
inline std::string unix_millis(std::int64_t deadline) {
    using duration = std::chrono::system_clock::duration;
    const auto ms = std::chrono::floor<std::chrono::milliseconds>(duration(deadline)).count();
    // PXAT takes a positive time; a deadline at or before the epoch has come already.
    return std::to_string(std::max<std::int64_t>(ms, 1));
}

/// Writes waiting to be sent, in the order they were made.
class write_buffer {
public:
    /// Adds a SET of key (with the store's prefix) to value, expiring at pxat if given.
    void add(std::string key, std::string_view value, std::optional<std::string> pxat) {
        if (writes_.empty()) first_ = std::chrono::steady_clock::now();
        bytes_ += key.size() + value.size();
        writes_.push_back({std::move(key), std::string(value), std::move(pxat)});
    }

    [[nodiscard]] bool empty() const noexcept { return writes_.empty(); }
    /// The bytes of the keys and values held.
    [[nodiscard]] std::size_t bytes() const noexcept { return bytes_; }
    /// How long the oldest write held has waited.
    [[nodiscard]] std::chrono::steady_clock::duration age() const {
        return std::chrono::steady_clock::now() - first_;
    }

    /// The SET of each write held, in order, and the hash slot of each; the commands view
    /// the buffer, so they are valid until it changes.
    void commands(std::vector<command>& sets, std::vector<std::uint16_t>& slots) const {
        sets.clear();
        slots.clear();
        sets.reserve(writes_.size());
        slots.reserve(writes_.size());
        for (const pending& w : writes_) {
            sets.push_back(set_command(w.key, w.value, w.pxat));
            slots.push_back(hash_slot(w.key));
        }
    }

    void clear() noexcept {
        writes_.clear();
        bytes_ = 0;
    }

private:
    struct pending {
        std::string key;  ///< with the store's prefix
        std::string value;
        std::optional<std::string> pxat;  ///< the deadline in Unix milliseconds, if it has one
    };
    std::vector<pending> writes_;
    std::size_t bytes_ = 0;
    std::chrono::steady_clock::time_point first_;
};

}  // namespace kvforge::detail::redis
