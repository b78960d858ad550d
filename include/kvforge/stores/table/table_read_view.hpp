#pragma once
/// \file table_read_view.hpp
/// What a read of a store over tables looks in, newest first: the write buffer, the
/// buffer frozen for a flush (if any), then the levels. The engine reads through a view
/// of its own state, made for each call; a snapshot through one of the copies it holds.

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include "../../pinned_value.hpp"
#include "../log/record_format.hpp"
#include "merging_cursor.hpp"
#include "table_reader.hpp"
#include "write_buffer.hpp"

namespace kvforge::detail {

template <class Levels>
struct table_read_view {
    const write_buffer& buffer;
    const write_buffer* frozen = nullptr;
    const Levels& levels;
    /// Whether a walk, up or down, goes on past a damaged block, as a salvaging reader's
    /// does (its verify() lists the block); a lookup stops at it with an error.
    bool skip_damage = false;

    /// The key's newest value; false when it has none (ec set on a failed read). filling
    /// says whether a block read from a table is left in the cache.
    bool find(std::string_view key, std::string& value, std::error_code& ec,
              cache_fill filling = cache_fill::yes) const {
        return find_with(
            key, [&](std::string_view found, const shared_block*) { value.assign(found); }, ec, filling);
    }

    /// As find, handing the value out without a copy where it lies in a block the cache
    /// shares: out then holds that block; else a copy of the value.
    bool find_pinned(std::string_view key, pinned_value& out, std::error_code& ec) const {
        return find_with(
            key,
            [&](std::string_view found, const shared_block* block) {
                if (block != nullptr && *block) {
                    out = pinned_value(*block, found);
                } else {
                    auto copy = std::make_shared<const std::string>(found);
                    out = pinned_value(copy, *copy);
                }
            },
            ec);
    }

    /// Calls on_value(value, block) with a view of the key's newest value and, when it lies
    /// in a block the cache shares, that block (else null, or a null block); false when the
    /// key has no value.
    template <class OnValue>
    bool find_with(std::string_view key, OnValue&& on_value, std::error_code& ec,
                   cache_fill filling = cache_fill::yes) const {
        ec.clear();
        thread_local table_read_buffers reads;  // holds the last block the thread read
        table_entry entry;
        const bool in_buffers = buffer.find(key, entry) || (frozen != nullptr && frozen->find(key, entry));
        if (!in_buffers && !levels.find(key, reads, entry, ec, filling)) return false;
        if (entry.kind != record_type::put) return false;
        on_value(entry.value, in_buffers ? nullptr : &reads.shared);
        return true;
    }

    /// Walks a merging cursor over the buffers and the levels from `from` (the last key
    /// when nullopt; past it unless inclusive), up or down, calling visitor(key, value)
    /// until it returns false.
    template <class Visitor>
    bool walk(std::optional<std::string_view> from, bool inclusive, bool ascending, Visitor&& visitor,
              std::error_code& ec) const {
        write_buffer::cursor newest(buffer);
        std::vector<std::unique_ptr<entry_cursor>> owned;
        if (frozen != nullptr) owned.push_back(std::make_unique<write_buffer::cursor>(*frozen));
        std::vector<damaged_record> skipped;
        levels.add_cursors(owned, skip_damage ? &skipped : nullptr);
        std::vector<entry_cursor*> sources{&newest};
        for (const auto& source : owned) sources.push_back(source.get());
        merging_cursor all(std::move(sources), erases::skipped);
        const std::string start(from.value_or(std::string_view{}));
        bool at = false;
        if (!from) {
            at = all.seek_last(ec);
        } else if (ascending) {
            at = all.seek(start, ec);
            if (at && !inclusive && all.entry().key == start) at = all.next(ec);
        } else {
            // The first key not less than start, then back below it unless it is start itself.
            at = all.seek(start, ec);
            if (at && (all.entry().key != start || !inclusive)) {
                at = all.prev(ec);
            } else if (!at && !ec) {
                at = all.seek_last(ec);
            }
        }
        while (at) {
            if (!visitor(all.entry().key, all.entry().value)) return true;
            at = ascending ? all.next(ec) : all.prev(ec);
        }
        return !ec;
    }
};

}  // namespace kvforge::detail
