#pragma once
/// \file table_engine_open.hpp
/// Members of table_engine (table_engine.hpp): the open, and the replay of the logs.
///
/// An open checks the MANIFEST against the composition wanted (table_composition), and
/// each table's and log's header against the MANIFEST (written_here), reads
/// TABLES (the tables, the oldest log to replay, and the counts as of it), and replays the
/// logs from that one into the write buffer, counting what each record changes. A writer's
/// open then flushes what it replayed into a level 0 table at once, starts a new log and
/// removes the old ones, so that the new log starts empty, and runs the merges due (a
/// thread_safe store's thread runs them after the open); a reader's changes no file, and
/// leaves a torn tail in place for verify() to name.

#include <fcntl.h>

#include <algorithm>
#include <cstdint>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#include "../../detail/data_file.hpp"
#include "../../detail/store_files.hpp"
#include "../log/log_scan.hpp"
#include "../log/record_format.hpp"
#include "../log/written_with.hpp"
#include "table_composition.hpp"
#include "table_engine.hpp"

namespace kvforge::detail {

template <class IO, class Writer, class Codec>
bool table_engine<IO, Writer, Codec>::open(IO io, const std::string& path, const composition& wanted,
                                           const table_engine_options& options, std::error_code& ec,
                                           function_ref<void()> once_locked) {
    if (open_files(std::move(io), path, wanted, options, ec, once_locked)) return true;
    levels_ = levels_type();
    directory_.close();
    return false;
}

/// open(), up to its failure: the engine is left holding what it had opened by then.
template <class IO, class Writer, class Codec>
bool table_engine<IO, Writer, Codec>::open_files(IO io, const std::string& path, const composition& wanted,
                                                 const table_engine_options& options, std::error_code& ec,
                                                 function_ref<void()> once_locked) {
    io_ = std::move(io);
    options_ = options;
    std::vector<store_file_name> names;
    std::string manifest;
    const table_composition<IO> recorded(io_, directory_, wanted);
    if (!directory_.open(io_, path, options_.mode, ec)) return false;
    once_locked();
    std::string list_lost;  // how TABLES was lost, when it was
    if (!directory_.list(names, ec) || !recorded.check(names, manifest, ec) || !tables_listed(names, list_lost, ec)) {
        return false;
    }
    if constexpr (codec_kept_in_store<Codec>) {
        // The tables' blocks name the dictionaries they were compressed with.
        codec_.open(io_, path, ec);
        if (ec) return false;
    }
    composition_ = recorded.wanted();
    header_.codec_fingerprint = composition_.codec_fingerprint;
    header_.layers = layers_fingerprint(composition_.expiry, composition_.compression);
    if (options_.block_cache_bytes > 0) {
        cache_ = std::make_unique<block_cache>();
        if (!cache_->set_budget(options_.block_cache_bytes, "options::block_cache_bytes", ec)) return false;
    }
    // The MANIFEST comes before the first record, so a store holding records has one.
    if (!options_.mode.reader && !manifest.empty() &&
        !tables_.write_file(store_file_name::manifest(), manifest, ec)) {
        return false;
    }
    table_list listed;
    if (list_lost.empty() && !tables_.open(cache_.get(), levels_, listed, ec)) {
        // A salvaging open rebuilds the list from the tables it can read, when TABLES (one
        // of a newer format aside), or a table it names, cannot be read.
        const bool damage = ec == errc::corrupt_header || ec == errc::corrupt_record || ec == errc::not_a_store ||
                            ec == std::errc::no_such_file_or_directory;
        if (!options_.salvage || !damage) return false;
        list_lost = "unreadable (" + last_error_detail() + ")";
        ec.clear();
        levels_ = levels_type();
    }
    if (!list_lost.empty() && !rebuild_table_list(list_lost, listed, ec)) return false;
    listed_oldest_log_ = listed.oldest_log;
    for (std::size_t level = 0; level < level_limits::levels; ++level) {
        for (const auto& table : levels_.level(level)) {
            const std::string table_path = directory_.file_path(store_file_name::table(table.generation));
            if (!written_here(table.reader->header(), table_path, ec)) return false;
        }
    }
    counts_.set(listed.counts);
    listed_counts_ = listed.counts;
    // Listed again after TABLES was read: a reader's writer may have started the log it
    // names since the first listing.
    if (options_.mode.reader && !directory_.list(names, ec)) return false;
    std::vector<std::uint32_t> logs;
    for (const store_file_name& name : names) {
        if (name.is_temporary()) continue;
        if (name.kind() == store_file_kind::data || name.kind() == store_file_kind::table) {
            next_generation_ = std::max(next_generation_.load(), name.generation() + 1);
        }
        if (name.kind() == store_file_kind::data && name.generation() >= listed_oldest_log_) {
            logs.push_back(name.generation());
        }
    }
    std::sort(logs.begin(), logs.end());
    // TABLES names the log a writer started at its last flush, which a later flush removes
    // only after naming the next one, and the newest log while one waits for its flush:
    // no crash loses either. A rebuilt list's oldest log is the newest a table recorded,
    // which need not be there: a later open may have removed it, empty, and started the next.
    // True when the open fails for the missing log; salvage goes on without it.
    const auto refused_missing = [&](std::uint32_t generation, const char* named_as, const char* records) {
        const std::string log_path = directory_.file_path(store_file_name::data(generation));
        const std::string lost = "missing, though " + directory_.file_path(store_file_name::table_list()) +
                                 " names it" + named_as + ": the records written " + records + " are lost";
        if (!options_.salvage) {
            fail(ec, errc::corrupt_header,
                 log_path + " is " + lost + " unless the file is put back; open with options::salvage (kvforge "
                                            "repair) to keep the tables' records without them (nothing was changed)");
            return true;
        }
        if (options_.mode.reader) found_damage_.push_back({log_path, 0, lost});
        return false;
    };
    const auto found = [&](std::uint32_t generation) {
        return std::binary_search(logs.begin(), logs.end(), generation);
    };
    if (list_lost.empty() && listed_oldest_log_ != 0 && !found(listed_oldest_log_) &&
        refused_missing(listed_oldest_log_, "", "since the tables were last flushed")) {
        return false;
    }
    if (listed.newest_log > listed_oldest_log_ && !found(listed.newest_log) &&
        refused_missing(listed.newest_log, " as the newest log", "while the log before it was flushed")) {
        return false;
    }
    for (const std::uint32_t generation : logs) {
        if (!replay(generation, listed.closed_end_of(generation), ec)) return false;
    }
    if (options_.mode.reader) return true;
    // The replayed entries go into a table at once, so that the new log starts empty; the
    // log is started first, for the table to record it as the oldest to replay.
    if (!start_log(ec)) return false;
    levels_type next = levels_;
    if (!buffer_.empty() && !flush_write_buffer(buffer_, levels_, log_.generation(), context(), next, ec)) return false;
    counts_.drop_dead(buffer_.replaced_bytes());
    if (!tables_.publish(next, log_.generation(), counts_.now(), ec)) return false;
    levels_ = std::move(next);
    note_levels();
    listed_oldest_log_ = log_.generation();
    listed_counts_ = counts_.now();
    buffer_ = write_buffer();
    if (!remove_logs_before(log_.generation(), ec) || !tables_.remove_leftovers(levels_, ec) ||
        (options_.salvage && !salvage_tables(ec))) {
        return false;
    }
    // The merges the tables are due for (a backlog the last close left while they ran on
    // the store's thread): that thread's work, so that the open returns at once; else
    // run here, as a write would run them.
    if (options_.background) {
        job_due_ = plan_job(false).what != job_type::kind::none || whole_merge_due();  // as run_jobs plans
        return true;
    }
    return run_jobs(
        false, [] { return 0; }, [] { return true; }, ec);
}

/// A salvaging writer's open reads every block of every table. When some are damaged, it
/// merges the tables into the deepest level without them (a key whose newest entry was in
/// one keeps the version before it, if one is intact) and counts the store again, so that
/// the store verifies afterwards.
template <class IO, class Writer, class Codec>
bool table_engine<IO, Writer, Codec>::salvage_tables(std::error_code& ec) {
    std::vector<damaged_record> damaged;
    std::uint64_t entries = 0;
    if (!levels_.check_blocks(damaged, entries, ec)) return false;
    if (damaged.empty()) return true;
    job_type job = plan_job(true);
    merge_totals totals;
    damaged.clear();
    if (!run_full_compaction(job.current, job.oldest_log, context(), job.next, totals, ec, &damaged)) return false;
    // A merge of every table drops erases: each entry it wrote is a live key.
    store_counts counted;
    counted.live_keys = totals.entries;
    counted.live_bytes = totals.entry_bytes;
    job.counts = counted;
    job.dropped_bytes = 0;
    if (!tables_.publish(job.next, job.oldest_log, job.counts, ec)) return false;
    install_job(job);
    counts_.set(counted);
    return remove_replaced(job, ec);
}

/// Replays log generation into the write buffer. closed_end is its size when the writer
/// last closed the store (0: not recorded): a log shorter than that was cut, even at a
/// record boundary, since the writer's next open would have recorded none, and the open
/// is refused unless it salvages what is left.
template <class IO, class Writer, class Codec>
bool table_engine<IO, Writer, Codec>::replay(std::uint32_t generation, std::uint64_t closed_end, std::error_code& ec) {
    data_file<IO> file;
    std::uint64_t size = 0;
    if (!directory_.open_file(file, store_file_name::data(generation), O_RDONLY, ec) || !file.size(size, ec)) {
        return false;
    }
    if (size < closed_end) {
        const std::string cut = "cut short: it holds " + std::to_string(size) + " bytes, though " +
                                directory_.file_path(store_file_name::table_list()) + " records " +
                                std::to_string(closed_end) +
                                " at the store's last close, so the records written past its end are lost";
        if (!options_.salvage) {
            fail(ec, errc::corrupt_record,
                 file.path() + " is " + cut +
                     " unless the file is put back; open with options::salvage (kvforge repair) to keep the "
                     "records before the cut (nothing was changed)");
            return false;
        }
        if (options_.mode.reader) found_damage_.push_back({file.path(), size, cut});
    }
    // A log's header is synced before the log takes a record (table_log::start): one no
    // longer than a header was cut by a crash in that start, and holds no record.
    if (size <= file_header::size) return true;
    char bytes[file_header::size];
    if (!file.read(0, bytes, sizeof bytes, ec)) return false;
    file_header header;
    const file_header::problem problem = file_header::decode({bytes, sizeof bytes}, file_kind::data, header);
    if (problem != file_header::problem::none) {
        if (!damaged_log_header(file.path(), size, problem, header, ec)) return false;
    } else if (!written_here(header, file.path(), ec)) {
        return false;
    }
    // A salvaging open goes on past a damaged record to the intact ones after it.
    log_scan_result result;
    const bool scanned = scan_log(
        file, header.bytes(), size, header.version, options_.salvage,
        [&](const log_entry& found) {
            if (ec) return;  // a lookup failed: the open fails with it
            ++recovered_records_;
            if (found.type == record_type::clear) {
                // The logs replayed are newer than every table: a clear empties both.
                buffer_ = write_buffer();
                levels_ = levels_type();
                counts_.set({});
                return;
            }
            // What the entry changes in the counts TABLES gave, as its write did.
            live_counts::change change;
            const std::string_view value = found.value;
            if (!account(found.key, found.type == record_type::erase ? nullptr : &value, false, change, ec)) return;
            counts_.apply(change);
            table_entry entry;
            entry.key = found.key;
            entry.kind = found.type == record_type::erase ? record_type::erase : record_type::put;
            entry.meta.flags = found.flags;
            entry.meta.deadline = found.deadline;
            entry.meta.tag = found.tag;
            entry.value = found.value;
            buffer_.add(entry);
        },
        result, ec);
    if (!scanned || ec) return false;
    if (options_.mode.reader) found_damage_.insert(found_damage_.end(), result.damage.begin(), result.damage.end());
    return note_tail(generation, result, size, closed_end, ec);
}

/// Answers for a log whose header cannot be read, though records follow it: damage, since
/// the header was synced before them. The open is refused unless it salvages, which reads
/// the records as the header this code writes says (header is set to it); a log of a newer
/// format is refused even then.
template <class IO, class Writer, class Codec>
bool table_engine<IO, Writer, Codec>::damaged_log_header(const std::string& path, std::uint64_t size,
                                                         file_header::problem problem, file_header& header,
                                                         std::error_code& ec) {
    if (problem == file_header::problem::newer_version) {
        fail(ec, errc::unsupported_version,
             path + ": written in format version " + std::to_string(header.version) +
                 "; this kvforge reads up to version " + std::to_string(format_version) + " (nothing was changed)");
        return false;
    }
    const std::string what = problem == file_header::problem::bad_magic       ? "does not start as a kvforge log does"
                             : problem == file_header::problem::unknown_flags ? "has flags or reserved fields set"
                                                                              : "fails its checksum";
    const std::string damage = "the file header " + what + ", though " + std::to_string(size - file_header::size) +
                               " bytes of records follow it, written after it was synced";
    if (!options_.salvage) {
        fail(ec, errc::corrupt_header,
             path + ": " + damage +
                 "; restore the file from a backup, or open with options::salvage (kvforge repair) to keep "
                 "every intact record (nothing was changed)");
        return false;
    }
    if (options_.mode.reader) found_damage_.push_back({path, 0, damage + "; its records were read one by one"});
    header = file_header();
    return true;
}

/// Whether TABLES is there when a table is: without it, no table would be read, and a
/// writer's open would remove them all as leftovers. A store's first writable open
/// publishes TABLES before any table is written, and later ones replace it whole, so it
/// is missing only by a loss. With options::salvage the open goes on (list_lost), and
/// rebuilds the list from the tables.
template <class IO, class Writer, class Codec>
bool table_engine<IO, Writer, Codec>::tables_listed(const std::vector<store_file_name>& names, std::string& list_lost,
                                                    std::error_code& ec) const {
    const auto is = [](store_file_kind kind) {
        return [kind](const store_file_name& name) { return name.kind() == kind && !name.is_temporary(); };
    };
    const auto table = std::find_if(names.begin(), names.end(), is(store_file_kind::table));
    if (table != names.end() && std::none_of(names.begin(), names.end(), is(store_file_kind::table_list))) {
        list_lost = "missing";
    }
    if (list_lost.empty() || options_.salvage) return true;
    fail(ec, errc::corrupt_header,
         directory_.file_path(store_file_name::table_list()) + " is missing, and " + directory_.file_path(*table) +
             " is a sorted table of the store: no table can be read without the list, which says their levels "
             "and order; open with options::salvage (`kvforge repair`) to rebuild it from the tables, or restore "
             "it from a backup (nothing was changed)");
    return false;
}

/// Rebuilds a lost TABLES from the tables (table_files::rebuild_list); a reader's verify()
/// names the loss, and each table left out. A writer's open lists the tables kept, and
/// removes the others.
template <class IO, class Writer, class Codec>
bool table_engine<IO, Writer, Codec>::rebuild_table_list(const std::string& list_lost, table_list& listed,
                                                         std::error_code& ec) {
    std::vector<std::pair<std::string, std::string>> left_out;
    listed = table_list();
    if (!tables_.rebuild_list(cache_.get(), levels_, listed.oldest_log, listed.counts, left_out, ec)) {
        const std::string why = last_error_detail();
        const std::error_code code = ec;
        fail(ec, code,
             directory_.file_path(store_file_name::table_list()) + " is " + list_lost +
                 ", and cannot be rebuilt: " + why + "; restore it from a backup (nothing was changed)");
        return false;
    }
    if (options_.mode.reader) {
        found_damage_.push_back({directory_.file_path(store_file_name::table_list()), 0,
                                 list_lost + ": rebuilt from the tables, which record their levels"});
        for (auto& [path, why] : left_out) found_damage_.push_back({path, 0, "left out of the list: " + why});
    }
    return true;
}

/// Whether a log's or table's header records this store's codecs and layers. One that
/// records neither (all zero) was written before tables recorded them, and is read as the
/// MANIFEST says.
template <class IO, class Writer, class Codec>
bool table_engine<IO, Writer, Codec>::written_here(const file_header& header, const std::string& path,
                                                   std::error_code& ec) const {
    const bool unrecorded = header.codec_fingerprint == 0 && header.layers == 0;
    return unrecorded || check_written_with(header, composition_, path, ec);
}

/// A writer's open cuts a torn tail (its records go into a table, and the log is removed);
/// a reader's leaves it in place, and verify() names it. Bytes the store's last close
/// synced (closed_end) are no tail: a record there that does not read back is damage, and
/// the open is refused unless it salvages. (A log shorter than that was refused, or
/// reported, as cut short.)
template <class IO, class Writer, class Codec>
bool table_engine<IO, Writer, Codec>::note_tail(std::uint32_t generation, const log_scan_result& result,
                                                std::uint64_t size, std::uint64_t closed_end, std::error_code& ec) {
    const std::uint64_t valid_end = result.valid_end;
    const std::string path = directory_.file_path(store_file_name::data(generation));
    std::string problem(torn_tail_problem);
    if (valid_end < closed_end && size >= closed_end) {
        problem = "a damaged record at byte " + std::to_string(valid_end) + ", before the " +
                  std::to_string(closed_end) + " bytes " + directory_.file_path(store_file_name::table_list()) +
                  " records as synced at the store's last close; the records from there on are lost";
        if (!options_.salvage) {
            fail(ec, errc::corrupt_record,
                 path + " holds " + problem +
                     " unless the file is restored from a backup; open with options::salvage (kvforge repair) to "
                     "keep the records before it (nothing was changed)");
            return false;
        }
    }
    if (options_.mode.reader) replayed_logs_.push_back({generation, valid_end, result.records});
    if (valid_end == size) return true;
    if (!options_.mode.reader) {
        recovered_bytes_cut_ += size - valid_end;
        return true;
    }
    // A log cut short is named as such (replay): the record the cut ends inside is part of
    // that damage, not a torn write a crash left.
    if (size < closed_end) return true;
    found_damage_.push_back({path, valid_end, std::move(problem)});
    return true;
}

}  // namespace kvforge::detail
