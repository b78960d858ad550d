#pragma once
// An eviction policy written from kvforge::eviction_policy alone, as a user would write
// one: first in, first out, reads ignored. The cache tests run it beside kvforge's own.

#include <kvforge/concepts.hpp>

#include <cstddef>
#include <cstdint>
#include <deque>
#include <string>
#include <string_view>

namespace kvforge_test {

class fifo_eviction {
public:
    static constexpr std::string_view name = "fifo";

    static constexpr std::uint8_t touch(std::uint8_t mark) noexcept { return mark; }

    std::uint8_t admit(std::string_view key, kvforge::entry_ticket ticket) {
        queue_.push_back({std::string(key), ticket});
        key_bytes_ += key.size();
        return 0;
    }

    void forget(std::uint8_t) noexcept {}

    std::string_view evict(const kvforge::cache_entries& entries) {
        for (;;) {
            evicted_ = std::move(queue_.front());
            queue_.pop_front();
            key_bytes_ -= evicted_.key.size();
            if (entries.mark(evicted_.key, evicted_.ticket) != nullptr) return evicted_.key;
        }
    }

    void shrink_to_fit(const kvforge::cache_entries& entries) {
        std::erase_if(queue_, [&](const queued& q) {
            const bool gone = entries.mark(q.key, q.ticket) == nullptr;
            if (gone) key_bytes_ -= q.key.size();
            return gone;
        });
        queue_.shrink_to_fit();
    }

    /// An estimate, as a user's policy built on standard containers can give: the
    /// queue's elements and the keys' bytes.
    [[nodiscard]] std::size_t memory_usage() const noexcept { return queue_.size() * sizeof(queued) + key_bytes_; }

    void clear() noexcept {
        queue_.clear();
        key_bytes_ = 0;
    }

private:
    struct queued {
        std::string key;
        kvforge::entry_ticket ticket = 0;
    };
    std::deque<queued> queue_;
    queued evicted_;
    std::size_t key_bytes_ = 0;
};

static_assert(kvforge::eviction_policy<fifo_eviction>);

}  // namespace kvforge_test
