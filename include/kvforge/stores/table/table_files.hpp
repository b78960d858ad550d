#pragma once
/// \file table_files.hpp
/// A store's sorted tables in its directory: data-<generation>.kvtable, each a table file,
/// and TABLES, the list of those in use by level (table_list.hpp).
///
/// A table is written under its own name, synced, and only then named by a new list,
/// which is written to TABLES.tmp, synced and renamed over TABLES, the directory synced.
/// The tables a change replaced are removed after that. So at any power loss TABLES names
/// whole tables only: those before the change or those after. A table that no list names
/// is one whose change never took effect, or whose removal did not finish; a writable
/// open removes it. A table the list names that is missing, or whose size is not the one
/// listed, is an error on opening, never a table silently left out.

#include <fcntl.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#include "../../detail/data_file.hpp"
#include "../../detail/store_directory.hpp"
#include "../../detail/store_files.hpp"
#include "../../error.hpp"
#include "table_levels.hpp"
#include "table_list.hpp"
#include "table_list_rebuild.hpp"
#include "table_placement.hpp"

namespace kvforge::detail {

template <class IO, class Codec>
class table_files {
public:
    using source_type = data_file<IO>;
    using levels_type = table_levels<Codec, source_type>;
    using table_type = typename levels_type::table_type;

    /// Works in directory, reading blocks with codec; both must outlive this object and
    /// every table it opens.
    table_files(const store_directory<IO>& directory, const Codec& codec) noexcept
        : directory_(directory), codec_(codec) {}

    /// Opens the tables TABLES names into levels, with the oldest log file to replay; a
    /// store without TABLES has no tables, and its oldest log is 0. On an error levels and
    /// oldest_log are left as they were. A list that cannot be read fails as
    /// table_list::decode says; a listed table that is missing or of another size than
    /// listed is errc::corrupt_header, naming it; a table that fails to open fails as
    /// table_reader::open says. Reads with cache (nullptr for none).
    bool open(block_cache* cache, levels_type& levels, std::uint32_t& oldest_log, std::error_code& ec) const {
        table_list listed;
        if (!open(cache, levels, listed, ec)) return false;
        oldest_log = listed.oldest_log;
        return true;
    }

    /// As open, giving all TABLES records beside the tables: the oldest and newest logs and
    /// the counts (none without TABLES).
    bool open(block_cache* cache, levels_type& levels, table_list& listed, std::error_code& ec) const {
        ec.clear();
        table_list list;
        if (!read_list(list, ec)) return false;
        levels_type opened;
        for (const listed_table& table : list.tables) {
            table_type opened_table;
            if (!open_listed(table.generation, table.file_size, cache, opened_table, ec)) return false;
            opened.load(table.level, std::move(opened_table));
        }
        if (!opened.finish_loading(ec)) return false;
        levels = std::move(opened);
        listed = std::move(list);
        return true;
    }

    /// Rebuilds what a lost TABLES said from the table files in the directory
    /// (table_list_rebuild.hpp): the levels, the oldest log to replay and the counts. A
    /// table that fails its checks is left out, with its path and why in left_out: a merge's
    /// output that a crash cut short is one. A table of format 1 does not record where it
    /// belongs, and fails the rebuild (errc::corrupt_header, naming it).
    bool rebuild_list(block_cache* cache, levels_type& levels, std::uint32_t& oldest_log, store_counts& counts,
                      std::vector<std::pair<std::string, std::string>>& left_out, std::error_code& ec) const {
        ec.clear();
        std::vector<store_file_name> names;
        if (!directory_.list(names, ec)) return false;
        std::vector<table_type> found;
        std::vector<std::uint32_t> generations;
        std::vector<table_placement> placements;
        for (const store_file_name& name : names) {
            if (name.kind() != store_file_kind::table || name.is_temporary()) continue;
            auto owner = std::make_shared<open_table>();
            std::uint64_t size = 0;
            if (!directory_.open_file(owner->file, name, O_RDONLY, ec) || !owner->file.size(size, ec)) return false;
            table_type table;
            table_placement placement;
            if (!start_reading(std::move(owner), name.generation(), size, cache, table, ec) ||
                !table.reader->read_placement(placement, ec)) {
                if (!ec) {
                    fail(ec, errc::corrupt_header,
                         directory_.file_path(name) + " is a table of format 1, which does not record its level");
                    return false;
                }
                if (ec != errc::corrupt_header && ec != errc::corrupt_record && ec != errc::not_a_store) return false;
                left_out.emplace_back(directory_.file_path(name), last_error_detail());
                ec.clear();
                continue;
            }
            found.push_back(std::move(table));
            generations.push_back(name.generation());
            placements.push_back(std::move(placement));
        }
        const std::vector<bool> kept = tables_kept(generations, placements);
        levels_type rebuilt;
        std::uint32_t oldest = 0;
        for (std::size_t i = 0; i < found.size(); ++i) {
            if (!kept[i]) continue;
            if (placements[i].level >= level_limits::levels) {
                fail(ec, errc::corrupt_header,
                     found[i].reader->path() + " records level " + std::to_string(placements[i].level) +
                         ", past the deepest");
                return false;
            }
            oldest = std::max(oldest, placements[i].oldest_log);
            rebuilt.load(placements[i].level, std::move(found[i]));
        }
        if (!rebuilt.finish_loading(ec) || !count_table_entries(rebuilt, counts, ec)) return false;
        levels = std::move(rebuilt);
        oldest_log = oldest;
        return true;
    }

    /// Creates the file of a new table of generation, for writing; a leftover of that name
    /// is replaced.
    bool create(std::uint32_t generation, source_type& file, std::error_code& ec) const {
        return directory_.open_file(file, store_file_name::table(generation), O_RDWR | O_CREAT | O_TRUNC, ec);
    }

    /// Syncs a table written into file (by create) of size bytes and opens it for reading,
    /// through the same file, as a table of levels.
    bool finish(std::uint32_t generation, source_type file, std::uint64_t size, block_cache* cache, table_type& out,
                std::error_code& ec) const {
        if (!file.sync(ec)) return false;
        bytes_written_.fetch_add(size, std::memory_order_relaxed);
        syncs_.fetch_add(1, std::memory_order_relaxed);
        auto owner = std::make_shared<open_table>();
        owner->file = std::move(file);
        return start_reading(std::move(owner), generation, size, cache, out, ec);
    }

    /// Makes levels and oldest_log (with the counts as of it) the store's: TABLES names them
    /// from now on, at any power loss, with the newest log name_newest_log gave. The
    /// tables levels hold must be finished.
    bool publish(const levels_type& levels, std::uint32_t oldest_log, const store_counts& counts,
                 std::error_code& ec) const {
        const std::lock_guard lock(list_mutex_);
        return write_list(table_list::of(levels, oldest_log, counts, std::max(newest_log_, oldest_log)), ec);
    }

    /// Names log generation, just started, in TABLES as the newest log, the list otherwise as
    /// last published: a store whose jobs run beside its writers writes to it while the log
    /// before it waits for its flush, and an open that misses it then fails rather than
    /// leave its records out. Nothing is written before the first publish.
    bool name_newest_log(std::uint32_t generation, std::error_code& ec) const {
        const std::lock_guard lock(list_mutex_);
        newest_log_ = generation;
        if (!published_) return true;
        table_list list = *published_;
        list.newest_log = generation;
        return write_list(std::move(list), ec);
    }
    bool publish(const levels_type& levels, std::uint32_t oldest_log, std::error_code& ec) const {
        return publish(levels, oldest_log, {}, ec);
    }

    /// Records in TABLES, the list otherwise as last published, the sizes of its oldest and
    /// newest logs, as a writer's close leaves them (synced, no write to follow): an open
    /// that finds one shorter knows it was cut, not ended by a crash. Nothing is written
    /// before the first publish.
    bool record_closed_logs(std::error_code& ec) const {
        const std::lock_guard lock(list_mutex_);
        if (!published_) return true;
        table_list list = *published_;
        for (const std::uint32_t generation : list.named_logs()) {
            std::uint64_t end = 0;
            if (!log_size(generation, end, ec)) return false;
            list.record_closed_end(generation, end);
        }
        return write_list(std::move(list), ec);
    }

    /// Writes a whole file (TABLES, the MANIFEST) so that a power loss leaves the old one
    /// or the new one: to its .tmp, synced, renamed over it, the directory synced.
    bool write_file(const store_file_name& name, std::string_view bytes, std::error_code& ec) const {
        source_type file;
        if (!directory_.open_file(file, name.temporary(), O_WRONLY | O_CREAT | O_TRUNC, ec) ||
            !file.write(0, bytes, ec) || !file.sync(ec)) {
            return false;
        }
        bytes_written_.fetch_add(bytes.size(), std::memory_order_relaxed);
        syncs_.fetch_add(1, std::memory_order_relaxed);
        if (!directory_.rename(name.temporary(), name, ec) || !directory_.sync(ec)) return false;
        syncs_.fetch_add(1, std::memory_order_relaxed);
        return true;
    }

    /// Bytes written and syncs made through this (tables, TABLES, the MANIFEST) since it was
    /// made: what stats() adds to the log's.
    [[nodiscard]] std::uint64_t bytes_written() const noexcept {
        return bytes_written_.load(std::memory_order_relaxed);
    }
    [[nodiscard]] std::uint64_t syncs() const noexcept { return syncs_.load(std::memory_order_relaxed); }

    /// Removes the table files that levels does not hold: after a publish, the tables it
    /// replaced. Not a TABLES.tmp: the jobs run beside the writers, and one may be writing
    /// it (name_newest_log).
    bool remove_unlisted(const levels_type& levels, std::error_code& ec) const {
        return remove_files(levels, false, ec);
    }

    /// As remove_unlisted, and a TABLES.tmp or MANIFEST.tmp that a change cut short left:
    /// on opening, before any write.
    bool remove_leftovers(const levels_type& levels, std::error_code& ec) const {
        return remove_files(levels, true, ec);
    }

    /// Whether TABLES holds other bytes than the last open() read (or cannot be read now);
    /// false when no open read it. A reader's open during which its writer changed the
    /// list tries again (table_backend).
    [[nodiscard]] bool list_changed() const {
        if (!last_list_) return false;
        std::string now;
        std::error_code ec;
        return !read_list_bytes(now, ec) || now != *last_list_;
    }

private:
    bool remove_files(const levels_type& levels, bool temporaries, std::error_code& ec) const {
        std::vector<store_file_name> names;
        if (!directory_.list(names, ec)) return false;
        for (const store_file_name& name : names) {
            const bool unlisted = name.kind() == store_file_kind::table && !holds(levels, name.generation());
            const bool unfinished =
                temporaries && name.is_temporary() &&
                (name.kind() == store_file_kind::table_list || name.kind() == store_file_kind::manifest);
            if ((unlisted || unfinished) && !directory_.remove(name, ec)) return false;
        }
        return true;
    }

    /// The size of log file generation.
    bool log_size(std::uint32_t generation, std::uint64_t& size, std::error_code& ec) const {
        source_type file;
        return directory_.open_file(file, store_file_name::data(generation), O_RDONLY, ec) && file.size(size, ec);
    }

    /// Writes list to TABLES; the caller holds list_mutex_.
    bool write_list(table_list list, std::error_code& ec) const {
        if (!write_file(store_file_name::table_list(), list.encode(), ec)) return false;
        published_ = std::move(list);
        return true;
    }

    /// A table's file and its reader, which reads through it; shared by every level and
    /// cursor that holds the table, and closed with the last of them.
    struct open_table {
        source_type file;
        table_reader<Codec, source_type> reader;
    };

    /// Reads TABLES into list; a store without one has an empty list.
    bool read_list(table_list& list, std::error_code& ec) const {
        std::string bytes;
        if (!read_list_bytes(bytes, ec)) return false;
        last_list_ = bytes;
        return bytes.empty() || list.decode(bytes, directory_.file_path(store_file_name::table_list()), ec);
    }

    /// The bytes of TABLES; none for a store without one.
    bool read_list_bytes(std::string& bytes, std::error_code& ec) const {
        bytes.clear();
        source_type file;
        if (!directory_.open_file(file, store_file_name::table_list(), O_RDONLY, ec)) {
            if (ec != std::errc::no_such_file_or_directory) return false;
            ec.clear();
            return true;
        }
        std::uint64_t size = 0;
        if (!file.size(size, ec)) return false;
        bytes.resize(static_cast<std::size_t>(size));
        return file.read(0, bytes.data(), bytes.size(), ec);
    }

    bool open_listed(std::uint32_t generation, std::uint64_t listed_size, block_cache* cache, table_type& out,
                    std::error_code& ec) const {
        const store_file_name name = store_file_name::table(generation);
        auto owner = std::make_shared<open_table>();
        std::uint64_t size = 0;
        if (!directory_.open_file(owner->file, name, O_RDONLY, ec)) {
            if (ec == std::errc::no_such_file_or_directory) {
                fail(ec, errc::corrupt_header,
                     directory_.file_path(name) + " is missing, and " +
                         directory_.file_path(store_file_name::table_list()) +
                         " names it: its records are lost unless the file is put back");
            }
            return false;
        }
        if (!owner->file.size(size, ec)) return false;
        if (size != listed_size) {
            fail(ec, errc::corrupt_header,
                 owner->file.path() + " holds " + std::to_string(size) + " bytes, where " +
                     directory_.file_path(store_file_name::table_list()) + " lists " + std::to_string(listed_size) +
                     (size < listed_size ? ": it was cut short" : ": it was changed"));
            return false;
        }
        return start_reading(std::move(owner), generation, size, cache, out, ec);
    }

    bool start_reading(std::shared_ptr<open_table> owner, std::uint32_t generation, std::uint64_t size,
                       block_cache* cache, table_type& out, std::error_code& ec) const {
        if (!owner->reader.open(codec_, owner->file, size, owner->file.path(), ec)) return false;
        owner->reader.use_cache(cache);
        out.generation = generation;
        out.file_size = size;
        out.reader = std::shared_ptr<const table_reader<Codec, source_type>>(owner, &owner->reader);
        return true;
    }

    [[nodiscard]] static bool holds(const levels_type& levels, std::uint32_t generation) {
        for (std::size_t i = 0; i < level_limits::levels; ++i) {
            for (const table_type& table : levels.level(i)) {
                if (table.generation == generation) return true;
            }
        }
        return false;
    }

    const store_directory<IO>& directory_;
    // Counted where the files are written, by the writers' thread and a job's at once; the
    // members that write are const, as they change no state of this object but these.
    mutable std::atomic<std::uint64_t> bytes_written_{0};
    mutable std::atomic<std::uint64_t> syncs_{0};
    /// The bytes of TABLES as the last open() read them, for list_changed().
    mutable std::optional<std::string> last_list_;
    /// Held while TABLES is written: by a job's publish and a writer's name_newest_log at once.
    mutable std::mutex list_mutex_;
    mutable std::optional<table_list> published_;  ///< the list last written
    mutable std::uint32_t newest_log_ = 0;         ///< the newest log name_newest_log gave
    const Codec& codec_;
};

}  // namespace kvforge::detail
