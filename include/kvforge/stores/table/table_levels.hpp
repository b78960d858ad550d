#pragma once
/// \file table_levels.hpp
/// The tables of a store by level, as leveled compaction keeps them: level 0 holds the
/// tables written from the active segment, newest first, whose key ranges may overlap;
/// each deeper level holds tables of disjoint key ranges in key order, ten times as many
/// bytes as the level above. A key's newest entry is thus in the first table that holds
/// it, reading level 0 newest first and then one table a level down.
///
/// A table_levels value never changes once built: a compaction's or a flush's result is
/// a new value (apply), so a reader or a cursor that holds one goes on reading the
/// tables it holds while the store moves on.

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#include "../../error.hpp"
#include "merging_cursor.hpp"
#include "table_reader.hpp"

namespace kvforge::detail {

/// How large each level may grow before compaction moves tables down from it.
struct level_limits {
    /// Level 0 is compacted into level 1 when it holds this many tables: each is read by
    /// every lookup, so they are kept few.
    std::size_t level0_tables = 4;
    /// The bytes of tables level 1 may hold; each deeper level, ratio times its parent's.
    std::uint64_t level1_bytes = 64ull << 20;
    std::uint64_t ratio = 10;
    /// A compaction cuts its output into tables of about this many bytes.
    std::uint64_t table_bytes = 8ull << 20;
    /// The deepest level, so that a store of any size needs few: 64 MiB x 10^5 at level 6.
    static constexpr std::size_t levels = 7;

    /// The bytes a level >= 1 may hold.
    [[nodiscard]] std::uint64_t level_bytes(std::size_t level) const noexcept {
        std::uint64_t bytes = level1_bytes;
        for (std::size_t i = 1; i < level; ++i) bytes *= ratio;
        return bytes;
    }
};

/// One table of a level: the generation its file is named by, its size, and its reader,
/// shared by every table_levels value and cursor that holds it.
template <class Reader>
struct level_table {
    std::uint32_t generation = 0;
    std::uint64_t file_size = 0;
    std::shared_ptr<const Reader> reader;
};

/// Walks a level >= 1, whose tables hold disjoint key ranges in key order, as one sorted
/// source: a cursor over one table at a time.
template <class Codec, class Source>
class level_cursor final : public entry_cursor {
public:
    using reader_type = table_reader<Codec, Source>;

    /// Walks tables (in key order, none empty), which must outlive the cursor's use; skipped,
    /// when given, collects the damaged blocks a walk forward skips (table_cursor).
    explicit level_cursor(const std::vector<level_table<reader_type>>& tables,
                          std::vector<damaged_record>* skipped = nullptr) noexcept
        : tables_(&tables), skipped_(skipped) {}

    bool seek_first(std::error_code& ec) override { return enter(0, ec) && cursor_->seek_first(ec); }
    bool seek_last(std::error_code& ec) override {
        return enter(tables_->size() - 1, ec) && cursor_->seek_last(ec);
    }

    bool seek(std::string_view key, std::error_code& ec) override {
        // The first table whose last key is not less than key holds the entry sought.
        const auto it = std::partition_point(tables_->begin(), tables_->end(),
                                             [&](const auto& table) { return table.reader->last_key() < key; });
        return enter(static_cast<std::size_t>(it - tables_->begin()), ec) && cursor_->seek(key, ec);
    }

    bool next(std::error_code& ec) override {
        if (!valid()) return false;
        if (cursor_->next(ec) || ec) return !ec;
        return enter(table_ + 1, ec) && cursor_->seek_first(ec);
    }

    bool prev(std::error_code& ec) override {
        if (!valid()) return false;
        if (cursor_->prev(ec) || ec) return !ec;
        return table_ > 0 && enter(table_ - 1, ec) && cursor_->seek_last(ec);
    }

    [[nodiscard]] bool valid() const noexcept override { return cursor_ && cursor_->valid(); }
    [[nodiscard]] const table_entry& entry() const noexcept override { return cursor_->entry(); }

private:
    /// Puts the cursor on table i; false, at the end, when there is none.
    bool enter(std::size_t i, std::error_code& ec) {
        ec.clear();
        if (i >= tables_->size()) {
            cursor_.reset();
            return false;
        }
        table_ = i;
        cursor_.emplace(*(*tables_)[i].reader, table_read_ahead, skipped_);
        return true;
    }

    const std::vector<level_table<reader_type>>* tables_;
    std::vector<damaged_record>* skipped_;
    std::size_t table_ = 0;
    std::optional<table_cursor<Codec, Source>> cursor_;
};

/// Which tables a compaction merges and where its output goes.
struct table_compaction {
    std::size_t level = 0;  ///< the level compacted; its output goes to level + 1
    std::vector<std::uint32_t> inputs_above;  ///< generations of the tables taken from level
    std::vector<std::uint32_t> inputs_below;  ///< generations of level + 1's tables their keys overlap
    /// Whether no level below level + 1 holds a key in the inputs' range, so that the merge
    /// may drop erases: no older entry is left for them to hide.
    bool bottom = false;

    [[nodiscard]] bool empty() const noexcept { return inputs_above.empty(); }
};

/// The tables of a store by level; see the file's comment.
template <class Codec, class Source>
class table_levels {
public:
    using reader_type = table_reader<Codec, Source>;
    using table_type = level_table<reader_type>;

    table_levels() : levels_(level_limits::levels) {}

    [[nodiscard]] const std::vector<table_type>& level(std::size_t i) const noexcept { return levels_[i]; }

    [[nodiscard]] std::size_t table_count() const noexcept {
        std::size_t count = 0;
        for (const auto& level : levels_) count += level.size();
        return count;
    }

    [[nodiscard]] std::uint64_t level_file_bytes(std::size_t i) const noexcept {
        std::uint64_t bytes = 0;
        for (const auto& table : levels_[i]) bytes += table.file_size;
        return bytes;
    }

    /// Looks key up in every table that may hold it, newest first, and stops at the first
    /// entry found (a put or an erase); false with ec clear when no table holds one. The
    /// key's filter hash is taken once for all the tables. filling says whether the block
    /// read is left in the cache.
    bool find(std::string_view key, table_read_buffers& buffers, table_entry& found, std::error_code& ec,
              cache_fill filling = cache_fill::yes) const {
        ec.clear();
        const std::uint64_t hash = bloom_hash(key);
        for (const table_type& table : levels_[0]) {
            if (table.reader->find(key, hash, filling, buffers, found, ec) || ec) return !ec;
        }
        for (std::size_t i = 1; i < levels_.size(); ++i) {
            const auto& level = levels_[i];
            const auto it = std::partition_point(level.begin(), level.end(),
                                                 [&](const table_type& table) { return table.reader->last_key() < key; });
            if (it != level.end() && (it->reader->find(key, hash, filling, buffers, found, ec) || ec)) return !ec;
        }
        return false;
    }

    /// Adds a cursor for each of level 0's tables, newest first, and one for each deeper
    /// level that holds tables, to sources: a merging cursor over them walks the tables
    /// as one. The cursors read this value's tables, which must outlive them.
    void add_cursors(std::vector<std::unique_ptr<entry_cursor>>& sources,
                     std::vector<damaged_record>* skipped = nullptr) const {
        for (const table_type& table : levels_[0]) {
            sources.push_back(std::make_unique<entry_cursor_of<table_cursor<Codec, Source>>>(
                *table.reader, table_read_ahead, skipped));
        }
        for (std::size_t i = 1; i < levels_.size(); ++i) {
            if (!levels_[i].empty()) {
                sources.push_back(std::make_unique<level_cursor<Codec, Source>>(levels_[i], skipped));
            }
        }
    }

    /// Reads every entry of every table, adding each damaged block to skipped and going on
    /// past it; entries counts the entries read. False with ec set on an error that is no
    /// damage.
    bool check_blocks(std::vector<damaged_record>& skipped, std::uint64_t& entries, std::error_code& ec) const {
        for (const auto& level : levels_) {
            for (const table_type& table : level) {
                table_cursor<Codec, Source> cursor(*table.reader, table_read_ahead, &skipped);
                for (bool at = cursor.seek_first(ec); at; at = cursor.next(ec)) ++entries;
                if (ec) return false;
            }
        }
        return true;
    }

    /// Calls f(entry) for the newest entry of each key the tables hold that is a put, in key
    /// order; false with ec set when a block could not be read.
    template <class F>
    bool visit_newest(F&& f, std::error_code& ec) const {
        std::vector<std::unique_ptr<entry_cursor>> sources;
        add_cursors(sources);
        std::vector<entry_cursor*> inputs;
        for (const auto& source : sources) inputs.push_back(source.get());
        merging_cursor newest(std::move(inputs), erases::skipped);
        for (bool at = newest.seek_first(ec); at; at = newest.next(ec)) f(newest.entry());
        return !ec;
    }

    /// The compaction due under limits, or an empty one. Level 0 comes first when it holds
    /// level0_tables; otherwise the level furthest over its size gives the table that
    /// follows the last one it gave, so that every key range is compacted in turn.
    [[nodiscard]] table_compaction due_compaction(const level_limits& limits) const {
        table_compaction due;
        if (levels_[0].size() >= limits.level0_tables) {
            due.level = 0;
            for (const table_type& table : levels_[0]) due.inputs_above.push_back(table.generation);
        } else {
            double worst = 1.0;
            for (std::size_t i = 1; i + 1 < levels_.size(); ++i) {
                const double score =
                    static_cast<double>(level_file_bytes(i)) / static_cast<double>(limits.level_bytes(i));
                if (score > worst) {
                    worst = score;
                    due.level = i;
                }
            }
            if (due.level == 0) return due;
            const auto& level = levels_[due.level];
            const std::string& after = next_compaction_key_[due.level];
            auto it = std::find_if(level.begin(), level.end(),
                                   [&](const table_type& table) { return table.reader->first_key() > after; });
            if (after.empty() || it == level.end()) it = level.begin();
            due.inputs_above.push_back(it->generation);
        }
        std::string first, last;
        range_of(due.level, due.inputs_above, first, last);
        for (const table_type& table : levels_[due.level + 1]) {
            if (overlaps(table, first, last)) due.inputs_below.push_back(table.generation);
        }
        due.bottom = true;
        for (std::size_t i = due.level + 2; i < levels_.size() && due.bottom; ++i) {
            for (const table_type& table : levels_[i]) due.bottom = due.bottom && !overlaps(table, first, last);
        }
        return due;
    }

    /// Adds cursors over a compaction's inputs to sources, newest first (the level above,
    /// then the level below), for a merging cursor that writes its output.
    void add_cursors(const table_compaction& compaction, std::vector<std::unique_ptr<entry_cursor>>& sources) const {
        const auto add = [&](std::size_t level, const std::vector<std::uint32_t>& generations) {
            for (const table_type& table : levels_[level]) {
                if (std::find(generations.begin(), generations.end(), table.generation) != generations.end()) {
                    sources.push_back(std::make_unique<entry_cursor_of<table_cursor<Codec, Source>>>(*table.reader));
                }
            }
        };
        add(compaction.level, compaction.inputs_above);
        add(compaction.level + 1, compaction.inputs_below);
    }

    /// These levels with a flush's table added to level 0 as its newest.
    [[nodiscard]] table_levels with_flushed(table_type table) const {
        table_levels next = *this;
        next.levels_[0].insert(next.levels_[0].begin(), std::move(table));
        return next;
    }

    /// These levels after compaction: its inputs gone, outputs (in key order) in its level
    /// below. Fails with errc::invalid_argument, changing nothing, when an input is not
    /// where the compaction says or the outputs' ranges overlap the tables they join.
    bool after_compaction(const table_compaction& compaction, std::vector<table_type> outputs, table_levels& next,
                          std::error_code& ec) const {
        ec.clear();
        table_levels result = *this;
        if (!result.take(compaction.level, compaction.inputs_above) ||
            !result.take(compaction.level + 1, compaction.inputs_below)) {
            fail(ec, errc::invalid_argument, "a compaction names a table its level does not hold");
            return false;
        }
        auto& below = result.levels_[compaction.level + 1];
        for (table_type& output : outputs) below.push_back(std::move(output));
        std::sort(below.begin(), below.end(), [](const table_type& a, const table_type& b) {
            return a.reader->first_key() < b.reader->first_key();
        });
        for (std::size_t i = 1; i < below.size(); ++i) {
            if (below[i - 1].reader->last_key() >= below[i].reader->first_key()) {
                fail(ec, errc::invalid_argument, "a compaction's output overlaps a table of the level it joins");
                return false;
            }
        }
        if (compaction.level > 0) {
            std::string first;
            range_of(compaction.level, compaction.inputs_above, first, result.next_compaction_key_[compaction.level]);
        }
        next = std::move(result);
        return true;
    }

    /// These levels with every table replaced by outputs (in key order, disjoint), in the
    /// deepest level: the result of a compaction of the whole store.
    [[nodiscard]] table_levels after_full_compaction(std::vector<table_type> outputs) const {
        table_levels result;
        result.levels_.back() = std::move(outputs);
        return result;
    }

    /// Adds a table to a level as a store's list of tables names it on opening; the level's
    /// order is restored by finish_loading.
    void load(std::size_t level, table_type table) { levels_[level].push_back(std::move(table)); }

    /// Orders the levels loaded: level 0 newest first (the larger generation), the others
    /// by key. Fails with errc::corrupt_header when tables of a level >= 1 overlap.
    bool finish_loading(std::error_code& ec) {
        ec.clear();
        std::sort(levels_[0].begin(), levels_[0].end(),
                  [](const table_type& a, const table_type& b) { return a.generation > b.generation; });
        for (std::size_t i = 1; i < levels_.size(); ++i) {
            auto& level = levels_[i];
            std::sort(level.begin(), level.end(), [](const table_type& a, const table_type& b) {
                return a.reader->first_key() < b.reader->first_key();
            });
            for (std::size_t j = 1; j < level.size(); ++j) {
                if (level[j - 1].reader->last_key() >= level[j].reader->first_key()) {
                    fail(ec, errc::corrupt_header,
                         level[j].reader->path() + ": its keys overlap those of " + level[j - 1].reader->path() +
                             ", in level " + std::to_string(i) + ", which holds disjoint ranges");
                    return false;
                }
            }
        }
        return true;
    }

private:
    [[nodiscard]] static bool overlaps(const table_type& table, std::string_view first, std::string_view last) noexcept {
        return !(table.reader->last_key() < first || table.reader->first_key() > last);
    }

    /// The least first key and greatest last key of the tables of level named by generations.
    void range_of(std::size_t level, const std::vector<std::uint32_t>& generations, std::string& first,
                  std::string& last) const {
        bool any = false;
        for (const table_type& table : levels_[level]) {
            if (std::find(generations.begin(), generations.end(), table.generation) == generations.end()) continue;
            if (!any || table.reader->first_key() < first) first.assign(table.reader->first_key());
            if (!any || table.reader->last_key() > last) last.assign(table.reader->last_key());
            any = true;
        }
    }

    /// Removes the tables named by generations from a level; false when one is missing.
    bool take(std::size_t level, const std::vector<std::uint32_t>& generations) {
        auto& tables = levels_[level];
        for (const std::uint32_t generation : generations) {
            const auto it = std::find_if(tables.begin(), tables.end(),
                                         [&](const table_type& table) { return table.generation == generation; });
            if (it == tables.end()) return false;
            tables.erase(it);
        }
        return true;
    }

    std::vector<std::vector<table_type>> levels_;
    /// For each level, the last key of the tables it last gave a compaction.
    std::vector<std::string> next_compaction_key_ = std::vector<std::string>(level_limits::levels);
};

}  // namespace kvforge::detail
