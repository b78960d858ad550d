#pragma once
/// \file key_deadlines.hpp
/// A read-only expiring store's map from each key that has a deadline to that deadline.
/// The deadline index is ordered by deadline, so a refresh() that changed a key cannot
/// find the key's old entry in it; this map can. It is made at the first refresh() that
/// needs it, from the index, and read-only stores that never refresh do without it.

#include <cstdint>
#include <cstring>
#include <string_view>

#include "../detail/btree.hpp"

namespace kvforge::detail {

class key_deadlines {
public:
    [[nodiscard]] bool built() const noexcept { return built_; }

    /// Fills the map from a deadline index, whose keys are a deadline (`deadline_of` reads
    /// it from an index key), then the key.
    template <class DeadlineOf>
    void build(const btree_table& index, DeadlineOf&& deadline_of) {
        by_key_.clear();
        index.visit_from({}, true, [&](std::string_view entry, std::string_view) {
            const std::int64_t deadline = deadline_of(entry);
            char payload[sizeof deadline];
            std::memcpy(payload, &deadline, sizeof deadline);
            by_key_.upsert(entry.substr(sizeof deadline), {payload, sizeof payload}, [](std::string_view) {});
            return true;
        });
        built_ = true;
    }

    /// Whether key has a deadline, and it.
    [[nodiscard]] bool find(std::string_view key, std::int64_t& deadline) const noexcept {
        const auto found = by_key_.find(key);
        if (!found) return false;
        std::memcpy(&deadline, found->data(), sizeof deadline);
        return true;
    }

    /// Sets key's deadline, or that it has none.
    void set(std::string_view key, bool has_deadline, std::int64_t deadline) {
        if (!has_deadline) {
            by_key_.erase(key, [](std::string_view) {});
            return;
        }
        char payload[sizeof deadline];
        std::memcpy(payload, &deadline, sizeof deadline);
        by_key_.upsert(key, {payload, sizeof payload}, [](std::string_view) {});
    }

    /// Forgets the map: the index it was made from was built anew.
    void reset() noexcept {
        by_key_.clear();
        built_ = false;
    }

    [[nodiscard]] std::size_t memory_usage() const noexcept { return by_key_.memory_usage(); }

private:
    btree_table by_key_;
    bool built_ = false;
};

}  // namespace kvforge::detail
