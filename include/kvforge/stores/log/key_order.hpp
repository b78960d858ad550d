#pragma once
/// \file key_order.hpp
/// Whether the records of a segment, read front to back, come in key order (each key
/// greater than the one before, in memcmp order, the sorted index's). A scan of a
/// sorted store reads such a segment in sequence; one filled in random key order
/// costs it a different page per record, so automatic compaction rewrites it
/// (options::sort_closed_segments).

#include <new>
#include <string>
#include <string_view>

namespace kvforge::detail {

/// Follows the keys of one segment's records as they are read, in file order.
class key_order_check {
public:
    /// Not wanted: no key is followed (nor copied), and ordered() says false, not known.
    explicit key_order_check(bool wanted = true) noexcept : ordered_(wanted) {}

    /// Follows the next key. Out of memory for its copy, it gives up, saying not ordered:
    /// the order only spares a sorting job its work, so not knowing it is no error.
    void next(std::string_view key) noexcept {
        if (!ordered_) return;
        if (seen_ && !(std::string_view(last_) < key)) {
            give_up();
            return;
        }
        try {
            last_.assign(key);
        } catch (const std::bad_alloc&) {
            give_up();
            return;
        }
        seen_ = true;
    }

    /// Whether every key so far was greater than the one before.
    [[nodiscard]] bool ordered() const noexcept { return ordered_; }

private:
    void give_up() noexcept {
        ordered_ = false;
        last_.clear();
        last_.shrink_to_fit();
    }

    std::string last_;
    bool seen_ = false;
    bool ordered_ = true;
};

}  // namespace kvforge::detail
