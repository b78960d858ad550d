#pragma once
/// \file index_updates.hpp
/// A log store's index kept in step with its records, and the live and dead bytes they
/// add up to: each put, erase or clear, whether written now (log_writes.hpp) or replayed
/// at open (recovery.hpp), goes into the index through here, so that both count bytes
/// alike.
///
/// A record is live while the index points to it; a record the index no longer points
/// to (replaced, erased, or before a clear), a tombstone and a batch's header are dead,
/// counted in their segment's dead_bytes and in the total. Compaction reads the counts
/// to choose and retire segments (engine_compaction.hpp); stats() reports them.
///
/// It refers to the index and to the segments the index points into, and owns the
/// counts; its callers hold whatever lock keeps readers of the two out.

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

#include "hint.hpp"
#include "log_scan.hpp"
#include "record_format.hpp"
#include "segment.hpp"

namespace kvforge::detail {

/// The updates of index `Table` for the records of segments of I/O policy IO.
template <class IO, class Table>
class index_updates {
    using segment_type = segment<IO>;

public:
    index_updates(Table& table, const segment_set<IO>& segments) noexcept : table_(table), segments_(segments) {}
    index_updates(const index_updates&) = delete;
    index_updates& operator=(const index_updates&) = delete;

    /// The bytes of the records the index points to: their keys and values.
    [[nodiscard]] std::uint64_t live_bytes() const noexcept { return live_bytes_; }
    /// The sum of the segments' dead bytes.
    [[nodiscard]] std::uint64_t dead_bytes() const noexcept { return dead_bytes_; }

    /// Sets both counts: a store recovered, cleared or compacted whole.
    void set_counts(std::uint64_t live, std::uint64_t dead) noexcept {
        live_bytes_ = live;
        dead_bytes_ = dead;
    }

    /// Counts bytes of segment `in` as dead.
    void add_dead(segment_type& in, std::uint64_t bytes) noexcept { count_dead(in, dead_bytes_, bytes); }
    /// Counts a segment's dead bytes into the total as it joins the store.
    void add_segment(const segment_type& in) noexcept { dead_bytes_ += in.dead_bytes; }
    /// Takes a retired segment's dead bytes off the total.
    void remove_segment(const segment_type& in) noexcept { dead_bytes_ -= in.dead_bytes; }

    /// Counts a put that went into the index by other means (an index built at once) as live.
    void add_live(std::uint64_t bytes) noexcept { live_bytes_ += bytes; }
    /// Counts key's record at `old` (its index payload), which a newer record replaced or
    /// erased, as dead and no longer live.
    void retire(std::string_view key, std::string_view old) noexcept {
        count_retired(segments_, key, old, live_bytes_, dead_bytes_);
    }

    /// A put of key at `where`: its record becomes live, the one it replaces dead.
    void put(std::string_view key, const record_location& where) {
        char payload[record_location::max_encoded_size];
        table_.upsert(key, {payload, where.encode(payload)}, [&](std::string_view old) { retire(key, old); });
        live_bytes_ += key.size() + where.value_size;
    }

    /// A record of segment `in` read from the file (a scan's put, erase or clear), as
    /// recovery replays it and a reader's refresh() applies it.
    void replay(const log_entry& entry, segment_type& in) {
        if (entry.type == record_type::put) {
            put(entry.key, {in.id, static_cast<std::uint32_t>(entry.offset), static_cast<std::uint32_t>(entry.value.size()),
                            entry.flags});
        } else if (entry.type == record_type::erase) {
            erase(entry.key, entry.size, in);
        } else {
            replay_clear(in, entry.offset + entry.size);
        }
    }

    /// put() of a run of puts a hint of segment `id` lists, inserted together where the
    /// index can (overlapping their cache misses).
    void put_many(std::span<const hint_entry> puts, std::uint32_t id) {
        const auto location_of = [id](const hint_entry& put) {
            return record_location{id, static_cast<std::uint32_t>(put.offset), put.value_size, put.flags};
        };
        char payload[record_location::max_encoded_size];
        const auto key_of = [&](std::size_t i) { return puts[i].key; };
        const auto payload_of = [&](std::size_t i) {
            return std::string_view(payload, location_of(puts[i]).encode(payload));
        };
        const auto on_replace = [&](std::size_t i, std::string_view old) { retire(puts[i].key, old); };
        if constexpr (requires { table_.upsert_many(puts.size(), key_of, payload_of, on_replace); }) {
            table_.upsert_many(puts.size(), key_of, payload_of, on_replace);
            for (const hint_entry& put : puts) live_bytes_ += put.key.size() + put.value_size;
        } else {
            for (const hint_entry& put : puts) this->put(put.key, location_of(put));
        }
    }

    /// An erase of key whose tombstone (tombstone_size bytes) lies in segment `holder`:
    /// the tombstone is dead from the start, and so is the record it erases. False when
    /// the index did not hold key.
    bool erase(std::string_view key, std::size_t tombstone_size, segment_type& holder) {
        add_dead(holder, tombstone_size);
        return table_.erase(key, [&](std::string_view old) { retire(key, old); });
    }

    /// A clear record of segment `holder` ending at end, met in replay: every record
    /// before it is dead, in the segments replayed before (all of them) and in holder.
    void replay_clear(segment_type& holder, std::uint64_t end) {
        table_.clear();
        live_bytes_ = 0;
        dead_bytes_ = 0;
        holder.holds_clear = true;
        for (const auto& in : segments_.by_id()) {
            if (in->replays_before(holder)) in->dead_bytes = in->size - in->records_start();
            if (in.get() == &holder) in->dead_bytes = end - in->records_start();
            dead_bytes_ += in->dead_bytes;
        }
    }

private:
    Table& table_;
    const segment_set<IO>& segments_;
    std::uint64_t live_bytes_ = 0;
    std::uint64_t dead_bytes_ = 0;
};

}  // namespace kvforge::detail
