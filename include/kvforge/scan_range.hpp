#pragma once
/// \file scan_range.hpp
/// kvforge::scan_range: the ordered range store::scan() returns.

#include <cstddef>
#include <cstdint>
#include <iterator>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#include "codec.hpp"
#include "error.hpp"

namespace kvforge {

namespace detail {

/// The first key after every key that starts with prefix, in upper: prefix with its
/// trailing 0xff bytes dropped and the last byte left incremented. Returns false when no
/// byte is left (the prefix is empty or all 0xff), so nothing bounds the range.
inline bool prefix_end(std::string_view prefix, std::string& upper) {
    upper.assign(prefix);
    while (!upper.empty() && static_cast<unsigned char>(upper.back()) == 0xff) upper.pop_back();
    if (upper.empty()) return false;
    upper.back() = static_cast<char>(static_cast<unsigned char>(upper.back()) + 1);
    return true;
}

}  // namespace detail

/// The order in which a scan hands out keys.
enum class scan_order { ascending, descending };
/// Smallest key first (the default).
inline constexpr scan_order ascending = scan_order::ascending;
/// Largest key first.
inline constexpr scan_order descending = scan_order::descending;

namespace detail {

/// Where a scan starts and where it stops, as encoded keys, in the scan's order.
struct scan_bounds {
    scan_order order = scan_order::ascending;
    std::string start;            // the first key the scan may hand out (or, when !inclusive, just past it)
    bool inclusive = true;        // whether a record at start itself is handed out
    bool from_last = false;       // descending from the largest key (start unused)
    std::string limit;            // the scan stops at a key >= limit (ascending), < limit (descending)
    bool limited = false;         // whether limit applies

    /// The keys in [from, to), in order.
    static scan_bounds between(std::string from, std::string to, scan_order order) {
        scan_bounds b;
        b.order = order;
        b.limited = true;
        if (order == scan_order::ascending) {
            b.start = std::move(from);
            b.limit = std::move(to);
        } else {
            b.start = std::move(to);
            b.inclusive = false;
            b.limit = std::move(from);
        }
        return b;
    }

    /// The keys from `from` (included) to the end the order leads to: the largest key
    /// when ascending, the smallest when descending.
    static scan_bounds starting_at(std::string from, scan_order order) {
        scan_bounds b;
        b.order = order;
        b.start = std::move(from);
        return b;
    }

    /// Every key, in order.
    static scan_bounds everything(scan_order order) {
        scan_bounds b;
        b.order = order;
        b.from_last = order == scan_order::descending;
        return b;
    }

    /// The keys that start with prefix, in order.
    static scan_bounds with_prefix(std::string prefix, scan_order order) {
        std::string upper;
        const bool bounded = prefix_end(prefix, upper);
        scan_bounds b;
        b.order = order;
        if (order == scan_order::ascending) {
            b.start = std::move(prefix);
            b.limit = std::move(upper);
            b.limited = bounded;
        } else {
            b.start = std::move(upper);
            b.inclusive = false;
            b.from_last = !bounded;
            b.limit = std::move(prefix);
            b.limited = true;
        }
        return b;
    }
};

}  // namespace detail

/// The keys in [from, to) (or all, or from a key on, or those with a prefix) with their
/// values, in ascending or descending key order, read from the store a chunk at a time.
///
/// Each chunk is read under the store's read lock, which is released between chunks,
/// so a long scan never blocks writers for long, and the loop body (or another thread)
/// may write to the store. The contract:
/// - each key is seen at most once, in the scan's order;
/// - a key written while the scan runs is seen if it comes after the scan's position
///   (the last key handed out) in the scan's order, and not if it comes before;
/// - every record handed out holds the value its key had at some moment after the scan
///   reached it, and a key erased before the scan reached it is not handed out.
/// The chunk read ahead keeps this by its store's write version (moved on by every put,
/// erase, batch, clear and compaction): when the version has moved since the chunk was
/// read, the scan reads again from just past the last key it handed out. It is not a
/// snapshot: keys the scan has passed may change behind it. Iterate a range once.
template <class Backend, class Key, class Value>
class scan_range {
public:
    using value_type = std::pair<Key, Value>;

    /// Reads from backend the keys within bounds, in their order. Errors are reported
    /// through *ec when ec is given, else thrown.
    scan_range(const Backend& backend, detail::scan_bounds bounds, std::error_code* ec)
        : backend_(&backend), bounds_(std::move(bounds)), ec_(ec) {
        if (ec_ != nullptr) ec_->clear();
    }

    /// An input iterator over the range.
    class iterator {
    public:
        using value_type = std::pair<Key, Value>;
        using difference_type = std::ptrdiff_t;

        iterator() = default;
        explicit iterator(scan_range* range) : range_(range) {}

        const value_type& operator*() const { return range_->chunk_[range_->position_]; }
        const value_type* operator->() const { return &range_->chunk_[range_->position_]; }
        iterator& operator++() {
            range_->advance();
            return *this;
        }
        void operator++(int) { range_->advance(); }
        friend bool operator==(const iterator& it, std::default_sentinel_t) noexcept { return it.at_end(); }

    private:
        [[nodiscard]] bool at_end() const noexcept { return range_->done(); }

        scan_range* range_ = nullptr;
    };

    /// Reads the first chunk; call once.
    iterator begin() {
        fetch();
        return iterator(this);
    }
    std::default_sentinel_t end() const noexcept { return {}; }

private:
    // A chunk ends at whichever limit comes first; both keep the read lock short.
    static constexpr std::size_t chunk_records = 256;
    static constexpr std::size_t chunk_bytes = std::size_t{1} << 20;

    [[nodiscard]] bool done() const noexcept { return position_ >= filled_; }

    void advance() {
        ++position_;
        // When the store changed since the chunk was read, what was read ahead may be
        // stale, and keys may have come in after the last one handed out: read again.
        if ((position_ == filled_ && more_) || backend_->write_version() != version_) refetch();
    }

    /// Reads again from just past the last key handed out, encoded again: a codec's
    /// decode gives back what its encode was given, so these are the stored bytes. (A copy
    /// of every key's bytes, kept in case, would cost scans a third of their speed.)
    void refetch() {
        std::string scratch;
        bounds_.start.assign(codec<Key>::encode(chunk_[position_ - 1].first, scratch));
        bounds_.inclusive = false;
        bounds_.from_last = false;
        fetch();
    }

    /// Decodes the next chunk into chunk_, reusing its elements' storage.
    void fetch() {
        filled_ = 0;
        position_ = 0;
        more_ = false;
        // Read before the chunk: a write that lands while it is read moves the version on
        // past this value, so at worst the chunk is read once more.
        version_ = backend_->write_version();
        std::error_code ec;
        std::size_t bytes = 0;
        const auto take = [&](std::string_view key, std::string_view value) {
            if (bounds_.limited && past_limit(key)) return false;
            if (filled_ == chunk_records || bytes >= chunk_bytes) {
                more_ = true;
                return false;
            }
            if (filled_ == chunk_.size()) chunk_.emplace_back();
            value_type& slot = chunk_[filled_];
            if (!codec<Key>::decode(key, slot.first)) {
                detail::fail(ec, errc::key_decode_failed, "scan: a stored key cannot be decoded as the key type");
                return false;
            }
            if (!codec<Value>::decode(value, slot.second)) {
                detail::fail(ec, errc::value_decode_failed,
                             "scan: a stored value cannot be decoded as the value type");
                return false;
            }
            ++filled_;
            bytes += key.size() + value.size();
            return true;
        };
        if (bounds_.order == scan_order::ascending) {
            backend_->visit_from(bounds_.start, bounds_.inclusive, take, ec);
        } else {
            backend_->visit_down_from(bounds_.from_last ? std::nullopt : std::optional<std::string_view>(bounds_.start),
                                      bounds_.inclusive, take, ec);
        }
        if (ec) {
            filled_ = 0;
            more_ = false;
            if (ec_ == nullptr) throw error(ec, detail::last_error_detail());
            *ec_ = ec;
        }
    }

    /// Whether key lies past the scan's limit, where it ends.
    [[nodiscard]] bool past_limit(std::string_view key) const noexcept {
        return bounds_.order == scan_order::ascending ? key >= bounds_.limit : key < bounds_.limit;
    }

    const Backend* backend_;
    detail::scan_bounds bounds_;  // its start moves on to the last key handed out at each refetch
    bool more_ = false;
    std::error_code* ec_;
    std::vector<value_type> chunk_;
    std::uint64_t version_ = 0;      // the store's write version when chunk_ was read
    std::size_t filled_ = 0;
    std::size_t position_ = 0;
};

}  // namespace kvforge
