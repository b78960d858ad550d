#pragma once
/// \file hinted_entries.hpp
/// The puts and erases a log store's hints list, gathered at open while its ordered index
/// is empty, and built into that index in one pass.
///
/// Inserting a million hinted keys one by one into a B+tree descends the tree for each and
/// leaves its records in the arena in the hints' order, which a store filled in random key
/// order makes random: a later scan then jumps across the arena for every entry. Gathered,
/// the entries are sorted by key and the index is built bottom up
/// (btree_table::assign_sorted), its records laid out in key order. For each key the last
/// entry in replay order wins, as it would have inserted one by one.
///
/// The sort moves whole entries, their location included, so that the build reads them
/// front to back rather than one cache miss each. It is a stable radix sort on the 8 bytes
/// of each key after those all keys share, of which only the bits that differ between
/// keys are sorted on (decimal digits vary in 4 bits of 8); ties are settled by the whole
/// key. When those 8 bytes hold the rest of every key, as they do for keys such as
/// "user:00001234", the build makes the keys from them and never reads the gathered keys.
///
/// From 65,536 entries a second thread works beside the opening one (a store opens before
/// its users' threads run, so a second core is free): it makes the tree's leaves while
/// the entries are ranked and spread (btree_table::prepare_leaves: their page faults are
/// then its own), then sorts the buckets in order while the build takes each. The opening
/// thread never waits for work the other has not begun: it makes the leaves still missing
/// and sorts the next bucket itself when the one it needs is not ready.

#include <algorithm>
#include <atomic>
#include <bit>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <span>
#include <stop_token>
#include <string>
#include <string_view>
#include <system_error>
#include <thread>
#include <utility>
#include <vector>

#include "../../detail/byte_order.hpp"
#include "../../detail/huge_pages.hpp"
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
    /// Room for `entries` entries without growing (a hint's head tells how many it lists),
    /// and for their keys if they are about as long as the first.
    void reserve(std::size_t entries) { entries_.reserve(entries); }

    /// A put of key's record at `where`, later than every entry gathered so far.
    void put(std::string_view key, const record_location& where) { add(key, where, false); }

    /// An erase of key, later than every entry gathered so far.
    void erase(std::string_view key) { add(key, {}, true); }

    /// A clear record: every entry gathered so far is dropped.
    void clear() noexcept {
        entries_.clear();
        keys_.clear();
    }

    [[nodiscard]] bool empty() const noexcept { return entries_.empty(); }

    /// Fills table, which must be empty, with the live records the entries leave: per key
    /// the last entry, unless that is an erase. Calls retired(std::string_view key,
    /// std::string_view old_payload) for every put that a later entry of its key replaces
    /// or erases, as upserts and erases one by one would have. Then frees the entries.
    template <sorted_buildable Table, class Retired>
    void build(Table& table, Retired&& retired) {
        const std::size_t n = entries_.size();
        // The table's leaves are made beside the ranking and the spread, on a thread of
        // their own (a store opens before its users' threads run), their page faults with them.
        std::jthread leaf_maker;
        if constexpr (requires { table.prepare_leaves(n, Table::leaf_entries_with_room, std::stop_token()); }) {
            if (n >= sort_beside_least) {
                try {
                    leaf_maker = std::jthread([&](const std::stop_token& stop) noexcept {
                        table.prepare_leaves(n, Table::leaf_entries_with_room, stop);
                    });
                } catch (const std::system_error&) {
                    // No thread to be had: the build makes its leaves as it goes.
                }
            }
        }
        const key_layout layout = rank_keys();
        const std::vector<std::size_t> starts = spread(layout);
        // The build makes whatever leaves are not made yet itself, rather than wait for a
        // thread that may get no core.
        leaf_maker.request_stop();
        if (leaf_maker.joinable()) leaf_maker.join();
        entry* const order = entries_.data();
        const std::size_t buckets = starts.size() - 1;
        std::size_t largest = 0;
        for (std::size_t b = 0; b < buckets; ++b) largest = std::max(largest, starts[b + 1] - starts[b]);
        // Each thread that sorts buckets has its own scratch room and counters.
        struct sort_room {
            std::vector<entry> scratch;
            std::vector<std::size_t> counts;
        };
        const auto make_room = [&] {
            return sort_room{std::vector<entry>(layout.rank_bits > max_digit_bits ? largest : 0),
                             std::vector<std::size_t>(lsd_counters(layout.rank_bits - spread_bits(layout.rank_bits)))};
        };
        // The buckets are sorted beside the build when there are many (a store opens before
        // its users' threads run): a second thread takes them in order, and the build, when
        // the bucket it needs is not sorted yet, sorts the next one no thread has taken, so
        // that it waits only for a bucket under way.
        std::atomic<std::size_t> next_bucket{0};
        const auto sorted = std::make_unique<std::atomic<bool>[]>(buckets);
        const auto sort_next = [&](sort_room& room) noexcept {
            const std::size_t b = next_bucket.fetch_add(1, std::memory_order_relaxed);
            if (b >= buckets) return false;
            finish_bucket(starts[b], starts[b + 1], layout, room.scratch, room.counts);
            sorted[b].store(true, std::memory_order_release);
            sorted[b].notify_one();
            return true;
        };
        sort_room own = make_room();
        std::jthread sorter;
        if (n >= sort_beside_least) {
            try {
                sorter = std::jthread([&sort_next, room = make_room()]() mutable noexcept {
                    while (sort_next(room)) {
                    }
                });
            } catch (const std::system_error&) {
                // No thread to be had: the build sorts every bucket.
            }
        }
        std::size_t ready = 0;          // entries known to be sorted
        std::size_t ready_buckets = 0;  // the buckets they make up
        const auto wait_for = [&](std::size_t i) {
            while (i >= ready) {
                if (sorted[ready_buckets].load(std::memory_order_acquire)) {
                    ready = starts[++ready_buckets];
                } else if (!sort_next(own)) {
                    sorted[ready_buckets].wait(false, std::memory_order_acquire);
                }
            }
        };

        // Keys made from their rank, or read from keys_ in key order, which is at random:
        // each is requested ahead of its turn.
        std::string made(layout.shared + sizeof(std::uint64_t), '\0');
        if (layout.shared != 0) std::memcpy(made.data(), keys_.data(), layout.shared);
        const auto key_of = [&](const entry& e) {
            if (!layout.ranks_hold_keys) return std::string_view(keys_.data() + e.key_at, e.key_size());
            store_unaligned(made.data() + layout.shared, to_big_endian(e.rank));  // the bytes, by finish_bucket()
            return std::string_view(made.data(), e.key_size());
        };
        const auto request = [&](std::size_t i) {
            if (!layout.ranks_hold_keys && i < ready) __builtin_prefetch(keys_.data() + order[i].key_at);
        };
        char payload[record_location::max_encoded_size];
        std::size_t i = 0;
        // The next key that is live at the end, retiring the puts it supersedes on the way.
        table.assign_sorted(
            [&](std::string_view& key, std::string_view& out) {
                while (i < n) {
                    wait_for(i);
                    const entry* last = &order[i];
                    key = key_of(*last);
                    request(lookahead + i++);
                    // Later entries of the same key: each retires the put before it.
                    while (i < n) {
                        wait_for(i);
                        if (!same_key(order[i], *last, layout)) break;
                        if (!last->erased()) retired(key, std::string_view(payload, last->where().encode(payload)));
                        last = &order[i];
                        request(lookahead + i++);
                    }
                    if (!last->erased()) {
                        out = std::string_view(payload, last->where().encode(payload));
                        return true;
                    }
                }
                return false;
            },
            Table::leaf_entries_with_room);
        if (sorter.joinable()) sorter.join();
        entries_.release();
        keys_.release();
    }

private:
    // How many entries ahead of the build their keys are requested.
    static constexpr std::size_t lookahead = 16;
    // The most bytes per key reserve() makes room for in keys_ (after the first key).
    static constexpr std::size_t reserved_key_bytes = 64;
    static constexpr std::uint32_t erased_bit = std::uint32_t{1} << 31;
    static constexpr unsigned size_bits = 27;  // value sizes up to max_value_size (2^26)
    static_assert(max_value_size < (std::uint64_t{1} << size_bits));

    // An entry: its key's rank (set by rank_keys() and spread(); where ranks hold the keys,
    // the 8 bytes it stands for once finish_bucket() sorted it), where in keys_ its key
    // is, and its record.
    struct entry {
        std::uint64_t rank;
        std::uint64_t key_at;
        std::uint32_t sized_key;  // the key's size, and erased_bit for an erase
        std::uint32_t segment;
        std::uint32_t offset;
        std::uint32_t sized_value;  // the value's size, and the record_flag bits above it

        [[nodiscard]] std::size_t key_size() const noexcept { return sized_key & ~erased_bit; }
        [[nodiscard]] bool erased() const noexcept { return (sized_key & erased_bit) != 0; }
        [[nodiscard]] record_location where() const noexcept {
            return {segment, offset, sized_value & ((std::uint32_t{1} << size_bits) - 1),
                    static_cast<unsigned char>((sized_value >> size_bits) << record_location::flag_shift)};
        }
    };

    // The bits of the 8 bytes after the `shared` bytes all keys begin with (zero past a
    // key's end) that differ between keys: a key's rank is those bits of it, in order,
    // so ranks order keys as their 8 bytes do and are equal when those are.
    struct key_layout {
        std::size_t shared = 0;
        std::uint64_t common = 0;         // the bits that never differ, as every key has them
        std::vector<unsigned> run_shift;  // runs of differing bits, highest first: lowest bit
        std::vector<unsigned> run_width;  // and width of each
        unsigned rank_bits = 0;
        bool ranks_hold_keys = false;  // no key goes on past those 8 bytes

        [[nodiscard]] std::uint64_t rank_of(std::uint64_t prefix) const noexcept {
            std::uint64_t rank = 0;
            for (std::size_t r = 0; r < run_shift.size(); ++r)
                rank = shift_left(rank, run_width[r]) | ((prefix >> run_shift[r]) & low_bits(run_width[r]));
            return rank;
        }

        [[nodiscard]] std::uint64_t prefix_of(std::uint64_t rank) const noexcept {
            std::uint64_t prefix = common;
            for (std::size_t r = run_shift.size(); r-- > 0;) {
                prefix |= (rank & low_bits(run_width[r])) << run_shift[r];
                rank = shift_right(rank, run_width[r]);
            }
            return prefix;
        }
    };

    static constexpr std::uint64_t low_bits(unsigned n) noexcept {
        return n >= 64 ? ~std::uint64_t{0} : (std::uint64_t{1} << n) - 1;
    }
    static constexpr std::uint64_t shift_left(std::uint64_t v, unsigned n) noexcept { return n >= 64 ? 0 : v << n; }
    static constexpr std::uint64_t shift_right(std::uint64_t v, unsigned n) noexcept { return n >= 64 ? 0 : v >> n; }

    void add(std::string_view key, const record_location& where, bool erased) {
        // The first key sizes keys_ for every entry reserved, as if each were as long (up
        // to a bound): grown by doubling, keys_ would copy itself at each step.
        if (keys_.capacity() < entries_.capacity() && entries_.empty()) {
            keys_.reserve(entries_.capacity() * std::clamp<std::size_t>(key.size(), 1, reserved_key_bytes));
        }
        // The bytes every key begins with, counted while the key is at hand.
        shared_ = entries_.empty() ? key.size() : common_prefix(std::string_view(keys_.data(), shared_), key);
        entries_.push_back(
            {0, keys_.size(), static_cast<std::uint32_t>(key.size()) | (erased ? erased_bit : 0), where.segment,
             where.offset,
             where.value_size | (std::uint32_t{where.flags} >> record_location::flag_shift) << size_bits});
        keys_.append(key.data(), key.size());
        // The empty key takes a byte of its own, unread: entries of one key keep their
        // replay order by where their keys lie in keys_, which must grow with each.
        if (key.empty()) keys_.push_back('\0');
    }

    // How many bytes a and b begin with alike.
    [[nodiscard]] static std::size_t common_prefix(std::string_view a, std::string_view b) noexcept {
        const std::size_t n = std::min(a.size(), b.size());
        if (std::memcmp(a.data(), b.data(), n) == 0) return n;
        return static_cast<std::size_t>(
            std::mismatch(a.begin(), a.begin() + static_cast<std::ptrdiff_t>(n), b.begin()).first - a.begin());
    }

    [[nodiscard]] std::string_view key_at(const entry& e) const noexcept {
        return {keys_.data() + e.key_at, e.key_size()};
    }

    [[nodiscard]] bool same_key(const entry& a, const entry& b, const key_layout& layout) const noexcept {
        if (a.rank != b.rank || a.key_size() != b.key_size()) return false;
        return layout.ranks_hold_keys || key_at(a) == key_at(b);
    }

    // Works out the key layout of the gathered keys, leaving each entry's 8 bytes after
    // the shared ones in its rank field for spread().
    key_layout rank_keys() {
        key_layout layout;
        if (entries_.empty()) return layout;
        // The bytes every key begins with are skipped, so that the ranks tell keys such as
        // "user:00001234" apart.
        const std::size_t shared = shared_;
        const std::string_view first = key_at(entries_[0]);
        layout.shared = shared;
        std::uint64_t differing = 0;
        std::size_t longest = 0;
        const std::uint64_t first_prefix = load_prefix_be(first.data() + shared, first.size() - shared);
        for (entry& e : entries_) {
            const std::string_view key = key_at(e);
            e.rank = load_prefix_be(key.data() + shared, key.size() - shared);
            differing |= e.rank ^ first_prefix;
            longest = std::max(longest, key.size());
        }
        layout.common = first_prefix & ~differing;
        layout.ranks_hold_keys = longest - shared <= sizeof(std::uint64_t);
        for (unsigned bit = 64; bit-- > 0;) {
            if ((differing >> bit & 1) == 0) continue;
            unsigned low = bit;
            while (low > 0 && (differing >> (low - 1) & 1) != 0) --low;
            layout.run_shift.push_back(low);
            layout.run_width.push_back(bit - low + 1);
            bit = low;
        }
        layout.rank_bits = static_cast<unsigned>(std::popcount(differing));
        return layout;
    }

    // How many of a rank's top bits spread() buckets by.
    static constexpr unsigned spread_bits(unsigned rank_bits) noexcept { return std::min(rank_bits, max_digit_bits); }

    // Sets each entry's rank, then moves the entries, in place, bucket by bucket: the
    // buckets by their ranks' top bits in ascending order (an American flag sort, which
    // needs no second array of entries); returns where each bucket starts, and the end.
    // That is the whole sort by rank when ranks have at most 11 bits; else the buckets are
    // small enough to stay in the cache while finish_bucket() sorts each.
    std::vector<std::size_t> spread(const key_layout& layout) {
        const unsigned top = spread_bits(layout.rank_bits);
        const unsigned low = layout.rank_bits - top;
        std::vector<std::size_t> starts((std::size_t{1} << top) + 1);
        for (entry& e : entries_) {
            e.rank = layout.rank_of(e.rank);
            ++starts[(e.rank >> low) + 1];
        }
        for (std::size_t b = 1; b < starts.size(); ++b) starts[b] += starts[b - 1];
        std::vector<std::size_t> next(starts.begin(), starts.end() - 1);
        for (std::size_t b = 0; b + 1 < starts.size(); ++b) {
            while (next[b] < starts[b + 1]) {
                // Each entry taken out is swapped into its bucket's next free place until
                // one that belongs in bucket b comes back.
                entry e = entries_[next[b]];
                for (std::size_t to = e.rank >> low; to != b; to = e.rank >> low) std::swap(e, entries_[next[to]++]);
                entries_[next[b]++] = e;
            }
        }
        return starts;
    }

    // Sorts bucket [begin, end) of entries_ by the ranks' low bits (spread() sorted by the
    // top ones), with scratch room for the bucket. Entries of equal rank are then put in
    // key order, those of one key in replay order, which is the order of their keys in
    // keys_ (the spread did not keep it). Where the ranks hold the keys, each rank then
    // becomes the 8 bytes it was cut from (layout.prefix_of).
    void finish_bucket(std::size_t begin, std::size_t end, const key_layout& layout, std::vector<entry>& scratch,
                       std::vector<std::size_t>& counts) noexcept {
        entry* const order = entries_.data();
        const unsigned low = layout.rank_bits - spread_bits(layout.rank_bits);
        lsd_sort(order + begin, scratch.data(), end - begin, low, counts);
        for (std::size_t first = begin; first < end;) {
            std::size_t last = first + 1;
            while (last < end && order[last].rank == order[first].rank) ++last;
            if (last - first > 1) {
                // Equal ranks of keys the ranks hold whole: equal keys, or the shorter a
                // prefix of the longer (the ranks' bytes past a key's end are zero).
                std::sort(order + first, order + last, [&](const entry& a, const entry& b) {
                    if (layout.ranks_hold_keys) {
                        if (a.key_size() != b.key_size()) return a.key_size() < b.key_size();
                    } else if (const int c = key_at(a).compare(key_at(b)); c != 0) {
                        return c < 0;
                    }
                    return a.key_at < b.key_at;
                });
            }
            first = last;
        }
        // The build makes each key from these 8 bytes: they are worked out here, on the
        // sorting thread, rather than by the build. The order and the ties stay as they were.
        if (layout.ranks_hold_keys) {
            for (std::size_t i = begin; i < end; ++i) order[i].rank = layout.prefix_of(order[i].rank);
        }
    }

    // The counters lsd_sort() needs for ranks of `bits` bits.
    static std::size_t lsd_counters(unsigned bits) noexcept {
        if (bits == 0) return 0;
        const unsigned passes = (bits + max_digit_bits - 1) / max_digit_bits;
        return passes << ((bits + passes - 1) / passes);
    }

    // Sorts items[0, n) by the low `bits` bits of their rank, stably, with scratch room
    // for n entries and lsd_counters(bits) counters: insertion for a few entries, else
    // least-significant digit first in as few passes of at most 11 bits as cover them
    // (2,048 counters stay in the L1 cache).
    static void lsd_sort(entry* items, entry* scratch, std::size_t n, unsigned bits,
                         std::vector<std::size_t>& counts) noexcept {
        if (bits == 0 || n < 2) return;
        const std::uint64_t all = low_bits(bits);
        if (n <= insertion_most) {
            for (std::size_t i = 1; i < n; ++i) {
                const entry e = items[i];
                std::size_t j = i;
                for (; j > 0 && (items[j - 1].rank & all) > (e.rank & all); --j) items[j] = items[j - 1];
                items[j] = e;
            }
            return;
        }
        const unsigned passes = (bits + max_digit_bits - 1) / max_digit_bits;
        const unsigned digit_bits = (bits + passes - 1) / passes;
        const std::size_t buckets = std::size_t{1} << digit_bits;
        const std::uint64_t mask = buckets - 1;
        std::fill(counts.begin(), counts.end(), 0);
        for (const entry& e : std::span<const entry>(items, n)) {
            for (unsigned d = 0; d < passes; ++d) ++counts[d * buckets + ((e.rank >> (d * digit_bits)) & mask)];
        }
        // The passes go back and forth between items and scratch.
        entry* from = items;
        for (unsigned d = 0; d < passes; ++d) {
            const std::span<std::size_t> count(counts.data() + d * buckets, buckets);
            if (std::find(count.begin(), count.end(), n) != count.end()) continue;
            entry* const to = from == items ? scratch : items;
            std::size_t start = 0;
            for (std::size_t& c : count) start += std::exchange(c, start);
            const unsigned shift = d * digit_bits;
            for (const entry& e : std::span<const entry>(from, n)) to[count[(e.rank >> shift) & mask]++] = e;
            from = to;
        }
        if (from != items) std::copy(from, from + n, items);
    }

    static constexpr std::size_t insertion_most = 24;
    // From how many entries the buckets are sorted on a thread of their own.
    static constexpr std::size_t sort_beside_least = 1 << 16;
    static constexpr unsigned max_digit_bits = 11;

    // On huge pages: a million entries and their keys, written once each, would take a
    // page fault every 4 KiB.
    huge_page_vector<entry> entries_;  // in replay order until build() sorts them
    huge_page_vector<char> keys_;      // the entries' keys, one after another
    std::size_t shared_ = 0;           // the bytes every key in keys_ begins with
};

}  // namespace kvforge::detail
