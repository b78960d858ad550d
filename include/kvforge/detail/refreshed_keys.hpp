#pragma once
/// \file refreshed_keys.hpp
/// What a read-only store's refresh() changed, told to the layers above it that keep
/// something per key (expiring<>'s deadline index): the keys whose index entries it put,
/// moved or erased, or that it read the whole store anew.

#include <string>
#include <string_view>
#include <vector>

namespace kvforge::detail {

class refreshed_keys {
public:
    /// A key whose entry the refresh changed (the same key may come again).
    void add(std::string_view key) {
        if (!everything_) keys_.emplace_back(key);
    }
    /// The refresh read the store anew, or applied a clear(): any key may have changed.
    void add_everything() noexcept {
        everything_ = true;
        keys_.clear();
    }

    /// Everything another refresh noted.
    void add_all(const refreshed_keys& other) {
        if (other.everything_) add_everything();
        for (const std::string& key : other.keys_) add(key);
    }

    [[nodiscard]] bool everything() const noexcept { return everything_; }
    [[nodiscard]] const std::vector<std::string>& keys() const noexcept { return keys_; }

private:
    std::vector<std::string> keys_;
    bool everything_ = false;
};

}  // namespace kvforge::detail
