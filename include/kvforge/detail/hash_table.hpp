#pragma once
/// \file hash_table.hpp
/// The open-addressing table behind kvforge::hash_index.
///
/// The table is an array of 64-byte groups, each one cache line holding the probe metadata
/// of 7 slots and the slots themselves (detail/hash_group.hpp): a tag byte per slot (0:
/// empty, else 8 bits of the key's hash), a byte of overflow bits, and 7 slot words, each
/// the 40-bit arena reference of a (key, payload) record with 24 more bits of the key's hash.
///
/// The group count need not be a power of two: a full table grows to half as many groups
/// again (rounded up), so between growths it is 58% to 88% full, where doubling would leave
/// it 44% to 88% full (a million keys take 12.7 MiB of groups rather than 16). A key's home
/// group is the high part of (hash bits) * (group count), "fastrange": the 24 hash bits a
/// slot keeps for tables of up to 2^24 groups, so that growing needs no key, and 32 other
/// bits for larger ones. The tag is the hash's top byte, which neither uses.
///
/// Each table hashes with a seed of its own (drawn from a process-wide count when it is
/// made; clone() and moves keep it). Homes grow with the hash bits, so a table's for_each
/// visits its keys in the order of their hash bits; were every table to hash alike, a
/// table filled in another's order (a compaction, a copy, a replay of what one wrote)
/// would meet its homes in increasing order, and while it grows all its keys so far
/// would home in the first part of its array: one cluster across it, which every insert
/// walks, making the fill quadratic (400,000 keys: 10 s rather than 90 ms). With its own
/// seed, another table's order is a random one to it.
///
/// A lookup hashes the key, loads its home group, compares the 7 tags at once (as one
/// word), and compares the key in the arena only for a slot whose tag and hash bits match:
/// two cache misses for a hit (the group, the record), one for a miss, with no branch on
/// loaded data but "which slot matched". A key that does not fit in its home group goes
/// to the next group (wrapping from the last to the first), which visits every group for
/// any group count; each full group it passes gets the overflow bit of its tag (tag % 8)
/// set, so a lookup stops at the first group without a match whose bit for the key's tag
/// is clear. find_many() runs several lookups as a pipeline, so that their misses overlap,
/// and upsert_many() several inserts. A group array of 2 MiB or more lives on transparent
/// huge pages where the system allows (detail/huge_pages.hpp), so that the group's miss
/// is not also a TLB miss. Such an array takes memory as its pages are first written, and
/// growing gives the old array's pages back as their slots move: homes grow with the hash
/// bits, so the slots of the old array, read in order, land in the new one roughly in order,
/// and a growth holds about the new array's memory at a time, not both arrays'.
///
/// Erase clears the slot's tag and leaves no tombstone. It cannot clear overflow bits (they
/// may stand for other keys), so erases may leave stale bits that make later lookups of
/// absent keys visit a group more; to keep that bounded, each erase from a group with
/// overflow bits lowers the table's load limit by one, and the insert that meets the
/// lowered limit rebuilds the table (at the same size unless it is nearly full), which
/// clears every stale bit. Erases therefore never degrade lookups beyond a bound.
///
/// A hit's record: once a slot's tag and hash bits match, its first two lines are requested
/// together (the key in the first, a payload that does not fit beside it in the second), so
/// the payload a get reads next does not wait for the key comparison; keys of up to 16 bytes
/// are compared inline (detail/same_bytes.hpp).
///
/// Allocation failure: an insert that must grow allocates the new group array before it
/// changes anything, and appends the record before placing it, so a std::bad_alloc leaves
/// the table as it was (possibly already grown). Replacing a payload appends the new record
/// before releasing the old. Shrinking after erases and compacting the arena are only worth
/// doing: when they run out of memory they are skipped, the table keeps its larger array or
/// its garbage, and a later write tries again.

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <iterator>
#include <new>
#include <optional>
#include <stdexcept>
#include <string_view>
#include <type_traits>
#include <utility>

#include "force_inline.hpp"
#include "hash.hpp"
#include "hash_group.hpp"
#include "huge_pages.hpp"
#include "record_arena.hpp"
#include "same_bytes.hpp"

namespace kvforge::detail {

/// An unordered map from byte-string keys to byte-string payloads.
class hash_table {
public:
    hash_table() = default;
    hash_table(hash_table&& other) noexcept
        : groups_(std::move(other.groups_)),
          group_count_(std::exchange(other.group_count_, 0)),
          size_(std::exchange(other.size_, 0)),
          max_load_(std::exchange(other.max_load_, 0)),
          seed_(other.seed_),
          arena_(std::move(other.arena_)) {}
    hash_table& operator=(hash_table&& other) noexcept {
        hash_table moved(std::move(other));
        swap(moved);
        return *this;
    }

    /// A copy of the table, independent of it. The group array and the arena's chunks are
    /// copied as blocks: slot words hold arena references, which stay valid in the copied
    /// arena, so nothing is hashed or placed again. If an allocation throws, nothing leaks.
    [[nodiscard]] hash_table clone() const {
        static_assert(std::is_trivially_copyable_v<hash_group>);
        hash_table copy;
        copy.arena_ = arena_.clone();
        if (groups_) {
            copy.groups_ = make_huge_page_array<hash_group>(group_count());
            std::memcpy(copy.groups_.get(), groups_.get(), group_count() * sizeof(hash_group));
        }
        copy.group_count_ = group_count_;
        copy.size_ = size_;
        copy.max_load_ = max_load_;
        copy.seed_ = seed_;
        return copy;
    }

    /// The payload stored for key, or nullopt. Never allocates.
    [[nodiscard]] KVFORGE_FORCE_INLINE std::optional<std::string_view> find(std::string_view key) const noexcept {
        if (size_ == 0) return std::nullopt;
        return payload_at(locate(key, hash_of(key)));
    }

    /// Looks up every key of keys (a random-access range of std::string_view) as find() does,
    /// calling on_result(i, payload or nullopt) for keys[i] in order. The lookups overlap:
    /// each key's group is requested a few keys ahead, and its record once the group names
    /// it, so a batch waits for memory about once per pipeline stage rather than twice per key.
    template <class Keys, class OnResult>
    void find_many(const Keys& keys, OnResult&& on_result) const {
        const std::size_t n = std::size(keys);
        if (size_ == 0) {
            for (std::size_t i = 0; i < n; ++i) on_result(i, std::optional<std::string_view>());
            return;
        }
        // Key i is compared while key i + ahead's record and key i + 2 * ahead's group load.
        constexpr std::size_t ahead = 4;
        constexpr std::size_t ring = 16;  // a power of two above 2 * ahead
        std::uint64_t hashes[ring];
        const auto request_group = [&](std::size_t j) {
            hashes[j % ring] = hash_of(keys[j]);
            groups_[home_of(hashes[j % ring])].prefetch();
        };
        const auto request_record = [&](std::size_t j) { prefetch_candidate(hashes[j % ring]); };
        for (std::size_t j = 0; j < n && j < 2 * ahead; ++j) request_group(j);
        for (std::size_t j = 0; j < n && j < ahead; ++j) request_record(j);
        for (std::size_t i = 0; i < n; ++i) {
            if (i + 2 * ahead < n) request_group(i + 2 * ahead);
            if (i + ahead < n) request_record(i + ahead);
            on_result(i, payload_at(locate(keys[i], hashes[i % ring])));
        }
    }

    /// Inserts key or replaces its payload. When it existed, calls on_replace(old_payload)
    /// once the replacement can no longer fail, before it takes effect. Returns true when
    /// the key is new.
    template <class OnReplace>
    bool upsert(std::string_view key, std::string_view payload, OnReplace&& on_replace) {
        return upsert_hashed(key, hash_of(key), payload, on_replace);
    }

    /// Upserts count records as count upsert() calls in order would (a key given twice ends
    /// with its later payload, the earlier one reported to on_replace), for long runs of
    /// inserts such as loading a store's index. The inserts run as a pipeline: each key's
    /// home group is requested several keys before its insert, so that their cache misses
    /// overlap rather than come one after another. key_of(i) gives key i
    /// as a std::string_view (asked for twice), payload_of(i) its payload (read before the
    /// next call); on_replace(i, old_payload) is called as upsert() calls its on_replace.
    /// Returns how many keys were new. Should an allocation throw, the records before the
    /// one that failed are in, and the table is otherwise as upsert() leaves it.
    template <class KeyOf, class PayloadOf, class OnReplace>
    std::size_t upsert_many(std::size_t count, KeyOf&& key_of, PayloadOf&& payload_of, OnReplace&& on_replace) {
        // Key i is inserted while the groups of the next `ahead` keys load.
        constexpr std::size_t ahead = 16;
        constexpr std::size_t ring = 32;  // a power of two above ahead
        std::uint64_t hashes[ring];
        const auto request_group = [&](std::size_t j) {
            hashes[j % ring] = hash_of(key_of(j));
            if (groups_) groups_[home_of(hashes[j % ring])].prefetch();
        };
        for (std::size_t j = 0; j < count && j < ahead; ++j) request_group(j);
        std::size_t added = 0;
        for (std::size_t i = 0; i < count; ++i) {
            if (i + ahead < count) request_group(i + ahead);
            // Growing rehashes into a new array; homes come from the hashes, so they still hold.
            auto replaced = [&](std::string_view old) { on_replace(i, old); };
            if (upsert_hashed(key_of(i), hashes[i % ring], payload_of(i), replaced)) ++added;
        }
        return added;
    }

    /// Removes key, calling on_erase(old_payload) first. Returns whether it existed.
    template <class OnErase>
    bool erase(std::string_view key, OnErase&& on_erase) {
        if (size_ == 0) return false;
        const position at = locate(key, hash_of(key));
        if (at.group == npos) return false;
        hash_group& g = groups_[at.group];
        const record_arena::ref old = g.slots[at.slot] & ref_mask;
        on_erase(at.record.payload);
        arena_.release(old);
        g.tags[at.slot] = hash_group::empty;
        g.slots[at.slot] = 0;
        // Overflow bits of this group may now be stale: see the file comment.
        if (g.overflow != 0 && max_load_ > 0) --max_load_;
        --size_;
        shrink_if_sparse();
        compact_arena_if_worthwhile();
        return true;
    }

    [[nodiscard]] std::size_t size() const noexcept { return size_; }
    [[nodiscard]] bool empty() const noexcept { return size_ == 0; }

    /// The number of slots; the table grows by half when size() passes 7/8 of it.
    [[nodiscard]] std::size_t capacity() const noexcept { return group_count() * hash_group::width; }

    /// Makes room for count records without growing, e.g. before loading a known number.
    /// The group count is the one growth would reach, so that a table reserved for the
    /// records it is then loaded with is the size of one that grew to hold them.
    void reserve(std::size_t count) {
        std::size_t wanted = 1;
        while (load_limit(wanted) < count && wanted <= max_groups) wanted = grown(wanted);
        if (wanted > group_count()) rehash(wanted);
    }

    /// Drops every record and releases the memory.
    void clear() noexcept { *this = hash_table{}; }

    /// Gives back the memory of erased and replaced records now, rather than once they
    /// outweigh the live ones. If an allocation throws, the table is unchanged.
    void shrink_to_fit() {
        if (arena_.garbage_bytes() != 0) compact_arena();
    }

    /// Calls f(key, payload) for every record, in no particular order.
    template <class F>
    void for_each(F&& f) const {
        for (std::size_t gi = 0; gi < group_count(); ++gi) {
            const hash_group& g = groups_[gi];
            for (unsigned i = 0; i < hash_group::width; ++i) {
                if (g.tags[i] == hash_group::empty) continue;
                const record_view v = arena_.view(g.slots[i] & ref_mask);
                f(v.key, v.payload);
            }
        }
    }

    /// How far lookups of the keys held walk: the groups each visits (its home, and one
    /// more for each group it lies past it), summed over the keys and at most. Inserts walk
    /// about as far, so this is a check on how well homes spread. Reads every slot.
    struct probe_lengths {
        std::size_t total = 0;
        std::size_t longest = 0;
    };
    [[nodiscard]] probe_lengths measure_probes() const noexcept {
        probe_lengths lengths;
        for (std::size_t gi = 0; gi < group_count(); ++gi) {
            const hash_group& g = groups_[gi];
            for (unsigned i = 0; i < hash_group::width; ++i) {
                if (g.tags[i] == hash_group::empty) continue;
                const std::uint64_t slot = g.slots[i];
                const std::uint64_t hash =
                    group_count_ <= kept_home_limit ? kept_hash(slot) : hash_of(arena_.view(slot & ref_mask).key);
                const std::size_t home = home_of(hash);
                const std::size_t visited = (gi >= home ? gi - home : gi + group_count_ - home) + 1;
                lengths.total += visited;
                lengths.longest = std::max(lengths.longest, visited);
            }
        }
        return lengths;
    }

    /// Bytes of heap memory held by the groups and the arena.
    [[nodiscard]] std::size_t memory_usage() const noexcept {
        return group_count() * sizeof(hash_group) + arena_.memory_usage();
    }

private:
    static constexpr std::size_t npos = ~std::size_t{0};
    static constexpr std::uint64_t ref_mask = (std::uint64_t{1} << record_arena::ref_bits) - 1;
    /// The hash bits a slot word keeps above its reference: the home group of tables of up
    /// to 2^24 groups (so growing needs no key), and a filter before the key comparison.
    static constexpr unsigned kept_hash_bits = 64 - record_arena::ref_bits;
    static constexpr std::uint64_t kept_hash_mask = (std::uint64_t{1} << kept_hash_bits) - 1;
    /// Tables of up to this many groups take a key's home from its kept hash bits.
    static constexpr std::uint64_t kept_home_limit = std::uint64_t{1} << kept_hash_bits;
    /// Larger tables take it from the 32 hash bits above the kept ones, so a table has at
    /// most 2^32 groups (256 GiB).
    static constexpr unsigned wide_home_bits = 32;
    static constexpr std::uint64_t max_groups = std::uint64_t{1} << wide_home_bits;
    static_assert(kept_hash_bits + wide_home_bits <= 56, "no home bit is a bit of the tag (the top byte)");

    /// Where a key's slot is: a group index (npos when absent) and a slot in it, with the
    /// record the slot refers to, as the key comparison read it (so a get reads the group
    /// and the record once each).
    struct position {
        std::size_t group = npos;
        unsigned slot = 0;
        record_view record;
    };

    /// The table's hash of key: hash_bytes with its seed.
    [[nodiscard]] KVFORGE_FORCE_INLINE std::uint64_t hash_of(std::string_view key) const noexcept {
        return hash_bytes(key, seed_);
    }

    /// A new table's seed: a process-wide count of tables, spread over the word by an odd
    /// multiplier (so that no two tables of a process share one before 2^64 of them).
    [[nodiscard]] static std::uint64_t next_seed() noexcept {
        static std::atomic<std::uint64_t> tables{0};
        return (tables.fetch_add(1, std::memory_order_relaxed) + 1) * 0x9e3779b97f4a7c15ULL;
    }

    // The home group maps the hash bits onto [0, group count) by a multiply and a shift
    // ("fastrange"), growing with them; it never uses the top byte, the tag's, so the two
    // are independent.
    [[nodiscard]] KVFORGE_FORCE_INLINE std::size_t home_of(std::uint64_t hash) const noexcept {
        const std::uint64_t groups = group_count_;
        if (groups <= kept_home_limit)
            return static_cast<std::size_t>(((hash & kept_hash_mask) * groups) >> kept_hash_bits);
        const std::uint64_t wide = (hash >> kept_hash_bits) & (max_groups - 1);
        return static_cast<std::size_t>((wide * groups) >> wide_home_bits);
    }
    /// The group after gi on a key's sequence: the next one, the first after the last.
    [[nodiscard]] KVFORGE_FORCE_INLINE std::size_t next_group(std::size_t gi) const noexcept {
        return gi + 1 == group_count_ ? 0 : gi + 1;
    }
    [[nodiscard]] static std::uint8_t tag_of(std::uint64_t hash) noexcept {
        const auto tag = static_cast<std::uint8_t>(hash >> 56);
        return tag == hash_group::empty ? std::uint8_t{1} : tag;
    }
    [[nodiscard]] static std::uint64_t slot_word(std::uint64_t hash, record_arena::ref r) noexcept {
        return ((hash & kept_hash_mask) << record_arena::ref_bits) | r;
    }
    [[nodiscard]] static std::uint64_t kept_hash(std::uint64_t slot) noexcept { return slot >> record_arena::ref_bits; }

    [[nodiscard]] std::size_t group_count() const noexcept { return group_count_; }

    /// The group count a full table of groups groups grows to: half as many again, rounded up.
    [[nodiscard]] static std::size_t grown(std::size_t groups) noexcept { return groups + (groups + 1) / 2; }

    /// The most records a table of groups groups holds before it grows: 7/8 of its slots.
    [[nodiscard]] static std::size_t load_limit(std::size_t groups) noexcept {
        return groups * hash_group::width / 8 * 7;
    }

    /// upsert() of key, whose hash is given.
    template <class OnReplace>
    bool upsert_hashed(std::string_view key, std::uint64_t hash, std::string_view payload, OnReplace& on_replace) {
        if (size_ != 0) {
            const position at = locate(key, hash);
            if (at.group != npos) {
                replace(at, key, payload, on_replace);
                return false;
            }
        }
        if (size_ + 1 > max_load_) make_room();
        const record_arena::ref r = arena_.append(key, payload);
        place(home_of(hash), tag_of(hash), slot_word(hash, r));
        ++size_;
        return true;
    }

    /// The slot holding key (whose hash is hash), or a position with group npos.
    [[nodiscard]] KVFORGE_FORCE_INLINE position locate(std::string_view key, std::uint64_t hash) const noexcept {
        const std::uint8_t tag = tag_of(hash);
        const std::uint64_t kept = hash & kept_hash_mask;
        std::size_t gi = home_of(hash);
        // The sequence visits every group once within group_count() steps; stale overflow
        // bits could otherwise send a search for an absent key round forever.
        for (std::size_t step = 1; step <= group_count_; ++step) {
            const hash_group& g = groups_[gi];
            for (std::uint64_t matches = g.match(tag); matches != 0; matches = hash_group::drop_first(matches)) {
                const unsigned i = hash_group::first_slot(matches);
                const std::uint64_t slot = g.slots[i];
                if (kept_hash(slot) != kept) continue;
                // Both lines of the record at once: the payload the caller reads next mostly
                // lies in the second, which would otherwise be requested only once the first
                // has arrived and the key in it has compared equal.
                arena_.prefetch(slot & ref_mask);
                const record_view record = arena_.view(slot & ref_mask);
                if (same_bytes(record.key, key)) return {gi, i, record};
            }
            if ((g.overflow & hash_group::overflow_bit(tag)) == 0) break;
            gi = next_group(gi);
        }
        return {};
    }

    [[nodiscard]] static std::optional<std::string_view> payload_at(const position& at) noexcept {
        if (at.group == npos) return std::nullopt;
        return at.record.payload;
    }

    /// Starts loading the record of the first slot of hash's home group whose tag and kept
    /// hash bits match, if any: the record find_many() will most likely compare next.
    void prefetch_candidate(std::uint64_t hash) const noexcept {
        const hash_group& g = groups_[home_of(hash)];
        const std::uint64_t kept = hash & kept_hash_mask;
        for (std::uint64_t matches = g.match(tag_of(hash)); matches != 0; matches = hash_group::drop_first(matches)) {
            const std::uint64_t slot = g.slots[hash_group::first_slot(matches)];
            if (kept_hash(slot) == kept) {
                arena_.prefetch(slot & ref_mask);
                return;
            }
        }
    }

    /// Puts a slot in the first group with room on the sequence from home, marking the
    /// full groups it passes. There is always room: the load limit is below the slot count.
    void place(std::size_t home, std::uint8_t tag, std::uint64_t slot) noexcept {
        for (std::size_t gi = home;; gi = next_group(gi)) {
            hash_group& g = groups_[gi];
            if (const std::uint64_t free = g.match(hash_group::empty); free != 0) {
                const unsigned i = hash_group::first_slot(free);
                g.tags[i] = tag;
                g.slots[i] = slot;
                return;
            }
            g.overflow |= hash_group::overflow_bit(tag);
        }
    }

    template <class OnReplace>
    void replace(position at, std::string_view key, std::string_view payload, OnReplace& on_replace) {
        std::uint64_t& slot = groups_[at.group].slots[at.slot];
        const record_arena::ref old = slot & ref_mask;
        if (arena_.view(old).payload.size() == payload.size()) {
            on_replace(arena_.view(old).payload);
            arena_.overwrite_payload(old, payload);
            return;
        }
        // The new record first: if appending throws, the old one is still in place and untold.
        const record_arena::ref fresh = arena_.append(key, payload);
        on_replace(arena_.view(old).payload);
        arena_.release(old);
        slot = (slot & ~ref_mask) | fresh;
        compact_arena_if_worthwhile();
    }

    /// Before an insert that would pass the load limit: grows the table by half, or rebuilds it at
    /// its size when erases lowered the limit (stale overflow bits) and it is not nearly full.
    void make_room() {
        const std::size_t groups = group_count();
        const std::size_t full = load_limit(groups);
        rehash(groups == 0 ? 1 : size_ + 1 > full - full / 8 ? grown(groups) : groups);
    }

    /// After an erase: a table an eighth full shrinks to a quarter of its groups, giving
    /// memory back after mass erases while leaving room to grow again without thrashing.
    void shrink_if_sparse() noexcept {
        const std::size_t groups = group_count();
        if (groups <= 1 || size_ >= load_limit(groups) / 8) return;
        try {
            rehash(std::max<std::size_t>(groups / 4, 1));
        } catch (const std::bad_alloc&) {
            // Keep the larger array; the next erase tries again.
        }
    }

    /// Moves every slot into a fresh array of new_groups groups, which clears every overflow
    /// bit that no longer stands for a displaced key.
    void rehash(std::size_t new_groups) {
        if (new_groups > max_groups) throw std::length_error("kvforge: hash table too large");
        huge_page_array<hash_group> old = std::move(groups_);
        const std::size_t old_groups = group_count_;
        try {
            groups_ = make_huge_page_array<hash_group>(new_groups);
        } catch (...) {
            groups_ = std::move(old);
            throw;
        }
        group_count_ = new_groups;
        max_load_ = load_limit(new_groups);
        // A slot keeps enough hash bits to find its new home in tables of up to 2^24 groups;
        // past that its key is hashed again from the arena.
        const bool kept_bits_suffice = new_groups <= kept_home_limit;
        // The old array is read once, in order: each huge page of it read goes back at once.
        // Homes grow with the hash bits, so its slots are written to the new array roughly
        // in order too (but for the few that wrapped past the end), and the two arrays
        // together hold about the larger one's memory, not both.
        constexpr std::size_t groups_per_release = huge_page_size / sizeof(hash_group);
        for (std::size_t gi = 0; gi < old_groups; ++gi) {
            if (gi % groups_per_release == 0 && gi != 0) release_pages(old, gi - groups_per_release, gi);
            const hash_group& g = old[gi];
            for (unsigned i = 0; i < hash_group::width; ++i) {
                if (g.tags[i] == hash_group::empty) continue;
                const std::uint64_t slot = g.slots[i];
                const std::uint64_t hash =
                    kept_bits_suffice ? kept_hash(slot) : hash_of(arena_.view(slot & ref_mask).key);
                place(home_of(hash), g.tags[i], slot);
            }
        }
    }

    /// Reclaims the arena's garbage once it outweighs the live records; skipped when it runs
    /// out of memory (the records stay where they are, and a later write tries again).
    void compact_arena_if_worthwhile() noexcept {
        if (!arena_.wants_compaction()) return;
        try {
            compact_arena();
        } catch (const std::bad_alloc&) {
        } catch (const std::length_error&) {
        }
    }

    /// Moves every live record into fresh chunks and drops the garbage; should an
    /// allocation throw, the arena is as it was.
    void compact_arena() {
        arena_.compact([this](auto&& update) {
            for (std::size_t gi = 0; gi < group_count(); ++gi) {
                hash_group& g = groups_[gi];
                for (unsigned i = 0; i < hash_group::width; ++i) {
                    if (g.tags[i] == hash_group::empty) continue;
                    record_arena::ref r = g.slots[i] & ref_mask;
                    update(r);
                    g.slots[i] = (g.slots[i] & ~ref_mask) | r;
                }
            }
        });
    }

    void swap(hash_table& other) noexcept {
        std::swap(groups_, other.groups_);
        std::swap(group_count_, other.group_count_);
        std::swap(size_, other.size_);
        std::swap(max_load_, other.max_load_);
        std::swap(seed_, other.seed_);
        std::swap(arena_, other.arena_);
    }

    huge_page_array<hash_group> groups_;
    std::size_t group_count_ = 0;  // 0 when groups_ is empty
    std::size_t size_ = 0;
    std::size_t max_load_ = 0;  // load_limit() of the group count, lowered by erases from overflowed groups
    std::uint64_t seed_ = next_seed();  // hash_bytes's seed for this table's keys
    record_arena arena_;
};

}  // namespace kvforge::detail
