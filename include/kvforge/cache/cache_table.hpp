#pragma once
/// \file cache_table.hpp
/// An index table held within a memory budget by an eviction policy: the heart of
/// kvforge::bounded (where it is the whole store) and kvforge::read_cache (where it
/// keeps values in front of the files).
///
/// Each entry's payload in the table is a header, the policy's one-byte mark and the
/// entry's 4-byte ticket, followed by the value. A read finds the payload and changes
/// the mark in place with a relaxed atomic store, so reads need only the shared lock;
/// everything else runs under the exclusive lock.
///
/// The budget counts every byte held: the table's memory (slots, nodes, arena chunks,
/// the garbage of erased and replaced records), the policy's, and the buffer a payload
/// is built in. Two facts shape how it is kept:
///
/// - Erasing from an index table frees little at once: its arena keeps the bytes of
///   erased records until it compacts itself. So evicting cannot pay for an insert byte
///   for byte. Instead the entries' own bytes (keys and values) are kept within a limit,
///   one eviction per insert as in any full cache, and when the memory held passes the
///   budget the table is asked to give back its garbage (shrink_to_fit), which brings it
///   back down.
/// - Tables grow in steps (a doubled slot array, a new arena chunk twice the last), so
///   how many entries fit is not a linear function of the budget. The limit is found by
///   feedback instead: a reclaim that comes after less than a sixteenth of the budget
///   was put or erased since the last one lowers the limit by an eighth (the garbage had
///   too little room), one that comes after more than an eighth raises it by a
///   sixteenth. So the store settles where each pass, which copies the live entries
///   once, is paid for by at least a sixteenth of the budget written. A put that finds
///   a sixteenth of the budget unused, more than an eighth of it written since the last
///   pass, raises the limit by a sixteenth as well: the limit a phase of small entries
///   left would otherwise hold larger ones to a fraction of the budget for good.
///
/// Memory therefore never exceeds the budget once an operation returns. While the arena
/// compacts, it briefly holds the old chunks and the new ones.

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <new>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <unordered_set>
#include <vector>

#include "../concepts.hpp"
#include "../detail/cache_companion.hpp"
#include "../error.hpp"

namespace kvforge::detail {

template <class Table, class Eviction>
class cache_table {
public:
    /// Bytes in front of each value in its payload: the mark, then the ticket.
    static constexpr std::size_t header_size = 1 + sizeof(entry_ticket);

    /// A cache with no budget holds nothing; set_budget() before the first put().
    cache_table() = default;

    /// Takes budget bytes as the limit, or fails with errc::invalid_argument (naming
    /// option, the options field it came from) when it is 0 or cannot hold one entry.
    bool set_budget(std::uint64_t budget, std::string_view option, std::error_code& ec) {
        if (budget == 0) {
            fail(ec, errc::invalid_argument,
                 "options::" + std::string(option) + " is 0; give the bytes the cache may hold");
            return false;
        }
        // What a cache holding one empty entry holds: the smallest table, queue, history.
        cache_table probe;
        probe.budget_ = ~std::uint64_t{0};
        probe.population_limit_ = ~std::uint64_t{0};
        probe.put({}, {});
        const std::uint64_t fixed = probe.memory_usage();
        if (budget < fixed) {
            fail(ec, errc::invalid_argument,
                 "options::" + std::string(option) + " of " + std::to_string(budget) + " bytes is less than the " +
                     std::to_string(fixed) + " bytes a cache holding one entry needs; raise it");
            return false;
        }
        budget_ = budget;
        fixed_bytes_ = fixed;
        population_limit_ = budget;
        churn_ = 0;
        return true;
    }

    [[nodiscard]] std::uint64_t budget() const noexcept { return budget_; }

    /// Keeps companion in step with the entries from now on (see cache_companion).
    void set_companion(cache_companion companion) noexcept { companion_ = companion; }

    /// Whether a cache holding nothing else could hold this key and value: its bytes, a
    /// copy of the key for the policy, and the fixed part.
    [[nodiscard]] bool fits(std::size_t key_size, std::size_t value_size) const noexcept {
        return fixed_bytes_ + 2 * std::uint64_t{key_size} + value_size <= budget_;
    }

    /// The value under key, marking the entry as read. Safe under the shared lock.
    [[nodiscard]] std::optional<std::string_view> read(std::string_view key) const noexcept {
        const std::optional<std::string_view> payload = table_.find(key);
        if (!payload) return std::nullopt;
        std::atomic_ref<std::uint8_t> mark(*writable_mark(*payload));
        const std::uint8_t old = mark.load(std::memory_order_relaxed);
        const std::uint8_t now = Eviction::touch(old);
        // Storing only on a change keeps a hot entry's cache line shared among readers.
        if (now != old) mark.store(now, std::memory_order_relaxed);
        return payload->substr(header_size);
    }

    /// Whether key has an entry; does not mark it.
    [[nodiscard]] bool contains(std::string_view key) const noexcept { return table_.find(key).has_value(); }

    /// Inserts key with value, or replaces its value (keeping its mark), then evicts as
    /// the budget needs; fits(key, value) must hold. The new entry may itself be evicted
    /// when the budget is tight. If an allocation throws while the entry is stored, key
    /// keeps its old value or none; if one throws while reclaiming memory afterwards, the
    /// entry is stored and the memory held may stay above the budget until the next put.
    void put(std::string_view key, std::string_view value) {
        if (const std::optional<std::string_view> old = table_.find(key)) {
            char header[header_size];
            std::memcpy(header, old->data(), header_size);
            std::size_t previous_size = 0;
            table_.upsert(key, build_payload(header, value),
                          [&](std::string_view previous) { previous_size = previous.size() - header_size; });
            live_bytes_ -= key.size() + previous_size;
        } else {
            const entry_ticket ticket = next_ticket_++;
            const std::uint8_t mark = policy_.admit(key, ticket);
            try {
                char header[header_size];
                header[0] = static_cast<char>(mark);
                std::memcpy(header + 1, &ticket, sizeof ticket);
                table_.upsert(key, build_payload(header, value), [](std::string_view) {});
            } catch (...) {
                // The policy's record of the entry is left behind and dropped as gone.
                policy_.forget(mark);
                release_payload_buffer();
                throw;
            }
        }
        live_bytes_ += key.size() + value.size();
        churn_ += key.size() + value.size();
        release_payload_buffer();
        enforce_budget();
    }

    /// Whether a cache holding nothing but these entries would stay within the budget:
    /// for_each(on_entry) calls on_entry(key, value) for each of them, each key once. (A
    /// cache of the same kind is filled with them, without a budget, and measured.)
    template <class ForEach>
    [[nodiscard]] bool holds_whole(ForEach&& for_each) const {
        std::uint64_t bytes = fixed_bytes_;
        for_each([&](std::string_view key, std::string_view value) { bytes += key.size() + value.size(); });
        if (bytes > budget_) return false;
        cache_table probe;
        probe.budget_ = ~std::uint64_t{0};
        probe.population_limit_ = ~std::uint64_t{0};
        for_each([&](std::string_view key, std::string_view value) { probe.put(key, value); });
        probe.table_.shrink_to_fit();
        probe.policy_.shrink_to_fit(probe.entries());
        return probe.memory_usage() <= budget_;
    }

    /// From now until end_protecting(), evicts no entry under these keys (views that must
    /// stay valid meanwhile): how a batch that holds_whole() stays whole, evicting others.
    void begin_protecting(const std::unordered_set<std::string_view>& keys) noexcept { protected_ = &keys; }

    /// Ends begin_protecting(): the protected entries the policy picked meanwhile, which it
    /// then forgot, are admitted again as new entries. The policy's records of them take
    /// memory that the last put did not see, so the budget is enforced again, first with
    /// the entries still protected (others go), and without protection only if they are
    /// all that is left over the budget.
    void end_protecting() {
        try {
            readmit_skipped();
            enforce_budget();
            readmit_skipped();
        } catch (...) {
            protected_ = nullptr;
            throw;
        }
        protected_ = nullptr;
        if (memory_usage() > budget_) enforce_budget();
    }

    /// Removes key's entry; returns whether it had one.
    bool erase(std::string_view key) {
        std::uint8_t mark = 0;
        const bool erased = table_.erase(key, [&](std::string_view payload) {
            mark = static_cast<std::uint8_t>(payload[0]);
            live_bytes_ -= key.size() + payload.size() - header_size;
            churn_ += key.size() + payload.size() - header_size;
        });
        if (!erased) return false;
        policy_.forget(mark);
        // The policy keeps the records of erased entries until it meets them; have it
        // drop them once they outnumber the entries, so they cannot pile up. Without
        // the memory to do so now, it is tried again at the next erase.
        if (++forgotten_ > table_.size() + forgotten_slack) {
            try {
                policy_.shrink_to_fit(entries());
                forgotten_ = 0;
            } catch (const std::bad_alloc&) {
            }
        }
        return true;
    }

    /// Drops every entry and frees the memory.
    void clear() noexcept {
        table_.clear();
        policy_.clear();
        live_bytes_ = 0;
        forgotten_ = 0;
    }

    /// Calls visitor(key, value) for every entry, as the table orders them.
    template <class Visitor>
    void for_each(Visitor&& visitor) const {
        table_.for_each([&](std::string_view key, std::string_view payload) { visitor(key, payload.substr(header_size)); });
    }

    /// Calls visitor(key, value) in key order from `from` on, until it returns false (ordered tables).
    template <class Visitor>
    void visit_from(std::string_view from, bool inclusive, Visitor&& visitor) const {
        table_.visit_from(from, inclusive, [&](std::string_view key, std::string_view payload) {
            return visitor(key, payload.substr(header_size));
        });
    }

    /// Calls visitor(key, value) in descending key order from `from` (the last key when
    /// nullopt) on, until it returns false (ordered tables).
    template <class Visitor>
    void visit_down_from(std::optional<std::string_view> from, bool inclusive, Visitor&& visitor) const {
        table_.visit_down_from(from, inclusive, [&](std::string_view key, std::string_view payload) {
            return visitor(key, payload.substr(header_size));
        });
    }

    [[nodiscard]] std::size_t size() const noexcept { return table_.size(); }
    /// Bytes of the keys and values held.
    [[nodiscard]] std::uint64_t live_bytes() const noexcept { return live_bytes_; }
    [[nodiscard]] std::uint64_t evictions() const noexcept { return evictions_; }

    /// Every byte held: the table's, the policy's, the payload buffer's and the companion's.
    [[nodiscard]] std::uint64_t memory_usage() const noexcept {
        return table_.memory_usage() + policy_.memory_usage() + payload_capacity_ +
               (companion_ ? companion_.memory_usage(companion_.context) : 0);
    }

private:
    /// Erased entries the policy may still keep records of, beyond the entries held,
    /// before it is asked to drop them.
    static constexpr std::size_t forgotten_slack = 1024;
    /// A payload buffer larger than this is freed after each put.
    static constexpr std::size_t payload_buffer_keep = std::size_t{64} << 10;

    [[nodiscard]] static std::uint8_t* writable_mark(std::string_view payload) noexcept {
        // The table's payload bytes are its own and writable (see kvforge::index_table).
        return reinterpret_cast<std::uint8_t*>(const_cast<char*>(payload.data()));
    }

    [[nodiscard]] static entry_ticket ticket_of(std::string_view payload) noexcept {
        entry_ticket ticket = 0;
        std::memcpy(&ticket, payload.data() + 1, sizeof ticket);
        return ticket;
    }

    static std::uint8_t* find_mark(const void* self, std::string_view key, entry_ticket ticket) noexcept {
        const std::optional<std::string_view> payload = static_cast<const cache_table*>(self)->table_.find(key);
        if (!payload || ticket_of(*payload) != ticket) return nullptr;
        return writable_mark(*payload);
    }

    [[nodiscard]] cache_entries entries() const noexcept { return {this, &find_mark}; }

    std::string_view build_payload(const char* header, std::string_view value) {
        const std::size_t size = header_size + value.size();
        if (payload_capacity_ < size) {
            payload_buffer_.reset();
            payload_capacity_ = 0;
            payload_buffer_ = std::make_unique_for_overwrite<char[]>(size);
            payload_capacity_ = size;
        }
        std::memcpy(payload_buffer_.get(), header, header_size);
        if (!value.empty()) std::memcpy(payload_buffer_.get() + header_size, value.data(), value.size());
        return {payload_buffer_.get(), size};
    }

    void release_payload_buffer() noexcept {
        if (payload_capacity_ > payload_buffer_keep) {
            payload_buffer_.reset();
            payload_capacity_ = 0;
        }
    }

    /// Admits again, as new entries, the protected entries the policy picked (and forgot).
    void readmit_skipped() {
        while (!skipped_.empty()) {
            const std::string& key = skipped_.back();
            if (const std::optional<std::string_view> payload = table_.find(key)) {
                const entry_ticket ticket = next_ticket_++;
                std::uint8_t* const header = writable_mark(*payload);
                try {
                    header[0] = policy_.admit(key, ticket);
                } catch (...) {
                    // An entry the policy does not know could never be evicted: it goes.
                    table_.erase(key, [&](std::string_view gone) { live_bytes_ -= key.size() + gone.size() - header_size; });
                    skipped_.pop_back();
                    throw;
                }
                std::memcpy(header + 1, &ticket, sizeof ticket);
            }
            skipped_.pop_back();
        }
    }

    /// Evicts the entry the policy picks; false if the policy named no entry held.
    bool evict_one() {
        std::string_view key;
        for (;;) {
            // Every entry has the policy's record but those it picked while protected.
            if (table_.size() == skipped_.size()) return false;
            key = policy_.evict(entries());
            if (protected_ == nullptr || !protected_->contains(key)) break;
            skipped_.emplace_back(key);
        }
        if (companion_) {
            if (const std::optional<std::string_view> payload = table_.find(key)) {
                companion_.evicted(companion_.context, key, payload->substr(header_size));
            }
        }
        const bool erased = table_.erase(key, [&](std::string_view payload) {
            live_bytes_ -= key.size() + payload.size() - header_size;
        });
        if (erased) ++evictions_;
        return erased;
    }

    /// Evicts until the entries' bytes are within limit.
    void evict_to(std::uint64_t limit) {
        while (live_bytes_ > limit && table_.size() > 0) {
            if (!evict_one()) return;
        }
    }

    void enforce_budget() {
        evict_to(population_limit_);
        const std::uint64_t used = memory_usage();
        if (used > budget_) {
            reclaim();
        } else if (churn_ > budget_ / 8 && used + budget_ / 16 <= budget_) {
            raise_limit();
        }
    }

    /// Lets the entries' bytes grow by a sixteenth again. reclaim() raises the limit too,
    /// but it runs only once memory passes the budget, which may never happen again once
    /// the limit is low: a limit lowered while entries were small (their slots weighing
    /// more per byte of entries) would then hold larger ones to a fraction of the budget,
    /// the table's arena giving back its garbage by itself before the budget is reached.
    /// So a put that finds a sixteenth of the budget unused, after more than an eighth of
    /// it was written since the last reclaim, raises it; a reclaim lowers it again if it
    /// rose too far.
    void raise_limit() noexcept {
        population_limit_ = std::min<std::uint64_t>(budget_, std::max(population_limit_, live_bytes_ + live_bytes_ / 16));
    }

    /// Has the table and the policy give back their garbage; while the memory is still
    /// over the budget, lowers the limit in proportion and evicts down to it. Then plans
    /// the limit from the bytes put or erased (which leave garbage) since the last reclaim.
    void reclaim() {
        const std::uint64_t room = budget_ / 16;
        bool measured = false;
        for (;;) {
            table_.shrink_to_fit();
            policy_.shrink_to_fit(entries());
            if (companion_) companion_.shrink_to_fit(companion_.context);
            forgotten_ = 0;
            const std::uint64_t used = memory_usage();
            if (used <= budget_ || table_.size() == 0) break;
            population_limit_ = std::min(population_limit_, scale(live_bytes_, budget_ - room, used));
            measured = true;
            const std::size_t held = table_.size();
            evict_to(population_limit_);
            if (table_.size() == held && !evict_one()) break;
        }
        if (!measured && churn_ < room) {
            population_limit_ = std::min(population_limit_, live_bytes_ - live_bytes_ / 8);
        } else if (!measured && churn_ > 2 * room) {
            raise_limit();
        }
        churn_ = 0;
    }

    /// value * numerator / denominator without overflow.
    [[nodiscard]] static std::uint64_t scale(std::uint64_t value, std::uint64_t numerator, std::uint64_t denominator) noexcept {
        return static_cast<std::uint64_t>(static_cast<long double>(value) * static_cast<long double>(numerator) /
                                          static_cast<long double>(denominator));
    }

    Table table_;
    Eviction policy_;
    std::uint64_t budget_ = 0;
    std::uint64_t fixed_bytes_ = 0;
    std::uint64_t population_limit_ = 0;  ///< the most key and value bytes held before evicting
    std::uint64_t churn_ = 0;             ///< bytes of keys and values put or erased since the last reclaim
    std::uint64_t live_bytes_ = 0;
    std::uint64_t evictions_ = 0;
    std::size_t forgotten_ = 0;           ///< entries erased since the policy last dropped their records
    entry_ticket next_ticket_ = 0;
    std::unique_ptr<char[]> payload_buffer_;
    std::size_t payload_capacity_ = 0;
    cache_companion companion_;
    const std::unordered_set<std::string_view>* protected_ = nullptr;  ///< keys not to evict, while set
    std::vector<std::string> skipped_;  ///< protected keys the policy picked (and forgot) meanwhile
};

}  // namespace kvforge::detail
