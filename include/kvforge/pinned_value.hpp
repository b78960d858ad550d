#pragma once
/// \file pinned_value.hpp
/// kvforge::pinned_value: the bytes of a stored value, read without copying, that stay
/// valid for as long as the pinned_value lives.

#include <cstddef>
#include <memory>
#include <string_view>
#include <utility>

namespace kvforge {

/// A view of a value's stored bytes together with what keeps them alive: for an
/// mmap_file store, the mapping they lie in. The store may grow, compact or close
/// meanwhile; the bytes stay readable and unchanged until this object is destroyed.
/// Holding one keeps its mapping (and the file's old space, after compaction) in use.
class pinned_value {
public:
    pinned_value() = default;
    pinned_value(std::shared_ptr<const void> owner, std::string_view bytes) noexcept
        : owner_(std::move(owner)), bytes_(bytes) {}

    [[nodiscard]] std::string_view bytes() const noexcept { return bytes_; }
    [[nodiscard]] const char* data() const noexcept { return bytes_.data(); }
    [[nodiscard]] std::size_t size() const noexcept { return bytes_.size(); }
    operator std::string_view() const noexcept { return bytes_; }
    /// Drops the first n bytes from the view (n at most size()); what keeps them alive stays.
    void remove_prefix(std::size_t n) noexcept { bytes_.remove_prefix(n); }

private:
    std::shared_ptr<const void> owner_;
    std::string_view bytes_;
};

}  // namespace kvforge
