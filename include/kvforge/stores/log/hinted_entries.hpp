#pragma once
/// \file hinted_entries.hpp
/// The puts and erases a log store's hints list, gathered at open while its ordered index
/// is empty, and built into that index in one pass.
///
/// Inserting a million hinted keys one by one into a B+tree descends the tree for each and
/// leaves its records in the arena in the hints' order, which a store filled in random key
/// order makes random: a later scan then jumps across the arena for every entry. Gathered,
/// the entries are sorted by key (a stable radix sort on an 8-byte prefix, with ties
/// settled by the whole key) and the index is built bottom up (btree_table::assign_sorted),
/// its records laid out in key order. For each key the last entry in replay order wins, as
/// it would have inserted one by one.

#include <algorithm>
#include <array>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "../../detail/byte_order.hpp"
#include "record_format.hpp"

namespace kvforge::detail {

/// A table that can be built from records in ascending key order, with a given number of
/// entries in each leaf: what hinted_entries::build() needs.
template <class Table>
concept sorted_buildable = requires(Table& table, bool (&next)(std::string_view&, std::string_view&)) {
    table.assign_sorted(next, Table::leaf_entries_with_room);
    { table.empty() } -> std::same_as<bool>;
};

/// Puts and erases in replay order, for one bottom-up build of an empty ordered table.
class hinted_entries {
public:
    /// A put of key's record at `where`, later than every entry gathered so far.
    void put(std::string_view key, const record_location& where) { add(key, where, false); }

    /// An erase of key, later than every entry gathered so far.
    void erase(std::string_view key) { add(key, {}, true); }

    /// A clear record: every entry gathered so far is dropped.
    void clear() noexcept {
        entries_.clear();
        count_ = 0;
    }

    [[nodiscard]] bool empty() const noexcept { return count_ == 0; }

    /// Fills table, which must be empty, with the live records the entries leave: per key
    /// the last entry, unless that is an erase. Calls retired(std::string_view key,
    /// std::string_view old_payload) for every put that a later entry of its key replaces
    /// or erases, as upserts and erases one by one would have. Then frees the entries.
    template <sorted_buildable Table, class Retired>
    void build(Table& table, Retired&& retired) {
        const std::vector<ordered> order = sorted();
        // In key order the entries are read at random: each is requested ahead of its turn.
        const auto request = [&](std::size_t i) {
            if (i + lookahead < order.size()) __builtin_prefetch(entries_.data() + order[i + lookahead].at);
        };
        for (std::size_t i = 0; i < lookahead && i < order.size(); ++i)
            __builtin_prefetch(entries_.data() + order[i].at);
        char payload[record_location::max_encoded_size];
        std::size_t i = 0;
        // The next key that is live at the end, retiring the puts it supersedes on the way.
        table.assign_sorted(
            [&](std::string_view& key, std::string_view& out) {
                while (i < order.size()) {
                    const std::uint64_t prefix = order[i].prefix;
                    entry_head last = head_at(order[i].at);
                    key = key_at(order[i].at, last);
                    request(i++);
                    // Later entries of the same key: each retires the put before it.
                    while (i < order.size() && order[i].prefix == prefix) {
                        const entry_head next = head_at(order[i].at);
                        if (key_at(order[i].at, next) != key) break;
                        if (!last.erased) retired(key, std::string_view(payload, last.where.encode(payload)));
                        last = next;
                        request(i++);
                    }
                    if (!last.erased) {
                        out = std::string_view(payload, last.where.encode(payload));
                        return true;
                    }
                }
                return false;
            },
            Table::leaf_entries_with_room);
        std::string().swap(entries_);
        count_ = 0;
    }

private:
    // How many entries ahead of the build they are requested.
    static constexpr std::size_t lookahead = 16;

    // What an entry holds besides its key, which follows it in entries_: an entry is
    // then one place in memory, one cache miss when the build reads it in key order.
    struct entry_head {
        record_location where;  // of a put
        std::uint32_t key_size;
        bool erased;
    };

    // An entry's place in key order: the 8 bytes of its key after those all keys share,
    // and where in entries_ it starts (which is in replay order).
    struct ordered {
        std::uint64_t prefix;
        std::size_t at;
    };

    void add(std::string_view key, const record_location& where, bool erased) {
        const entry_head head{where, static_cast<std::uint32_t>(key.size()), erased};
        entries_.append(reinterpret_cast<const char*>(&head), sizeof head);
        entries_.append(key);
        ++count_;
    }

    [[nodiscard]] entry_head head_at(std::size_t at) const noexcept {
        entry_head head;
        std::memcpy(&head, entries_.data() + at, sizeof head);
        return head;
    }

    [[nodiscard]] std::string_view key_at(std::size_t at, const entry_head& head) const noexcept {
        return {entries_.data() + at + sizeof head, head.key_size};
    }

    [[nodiscard]] std::string_view key_at(std::size_t at) const noexcept { return key_at(at, head_at(at)); }

    // The entries in key order, those of one key in replay order.
    [[nodiscard]] std::vector<ordered> sorted() const {
        std::vector<ordered> order;
        order.reserve(count_);
        for (std::size_t at = 0; at < entries_.size(); at += sizeof(entry_head) + head_at(at).key_size) {
            order.push_back({0, at});
        }
        if (order.empty()) return order;
        // Bytes every key begins with: skipped, so that the prefixes tell keys such as
        // "user:00001234" apart.
        const std::string_view first = key_at(0);
        std::size_t shared = first.size();
        for (std::size_t i = 1; i < order.size() && shared != 0; ++i) {
            const std::string_view key = key_at(order[i].at);
            const std::size_t n = std::min(shared, key.size());
            std::size_t same = 0;
            while (same < n && key[same] == first[same]) ++same;
            shared = same;
        }
        for (ordered& item : order) {
            const std::string_view key = key_at(item.at);
            item.prefix = load_prefix_be(key.data() + shared, key.size() - shared);
        }
        radix_sort(order);
        // Equal prefixes keep replay order; keys that differ past them are put in order.
        for (std::size_t begin = 0; begin < order.size();) {
            std::size_t end = begin + 1;
            bool differ = false;
            while (end < order.size() && order[end].prefix == order[begin].prefix) {
                differ = differ || key_at(order[end].at) != key_at(order[begin].at);
                ++end;
            }
            if (differ) {
                std::stable_sort(order.begin() + static_cast<std::ptrdiff_t>(begin),
                                 order.begin() + static_cast<std::ptrdiff_t>(end),
                                 [this](const ordered& a, const ordered& b) { return key_at(a.at) < key_at(b.at); });
            }
            begin = end;
        }
        return order;
    }

    // A stable least-significant-digit radix sort by prefix, a byte a pass; a pass in which
    // every prefix has the same byte is skipped.
    static void radix_sort(std::vector<ordered>& items) {
        constexpr std::size_t digits = sizeof(std::uint64_t);
        std::vector<std::array<std::size_t, 256>> counts(digits, std::array<std::size_t, 256>{});
        for (const ordered& item : items) {
            for (std::size_t d = 0; d < digits; ++d) ++counts[d][(item.prefix >> (8 * d)) & 0xff];
        }
        std::vector<ordered> other(items.size());
        for (std::size_t d = 0; d < digits; ++d) {
            std::array<std::size_t, 256>& count = counts[d];
            if (std::find(count.begin(), count.end(), items.size()) != count.end()) continue;
            std::size_t start = 0;
            for (std::size_t& c : count) start += std::exchange(c, start);
            for (const ordered& item : items) other[count[(item.prefix >> (8 * d)) & 0xff]++] = item;
            items.swap(other);
        }
    }

    std::string entries_;  // each entry's entry_head, then its key
    std::size_t count_ = 0;
};

}  // namespace kvforge::detail
