#pragma once
/// \file table_engine_backup.hpp
/// Members of table_engine (table_engine.hpp): backup(), which copies the store as it is
/// into a missing or empty directory, and the check of the copy.
///
/// The copy holds the tables (linked where backup_options::link_files asks: a table is
/// written once, synced, and never written again, so a link is as correct as a copy
/// against everything kvforge does), the logs the tables do not cover up to their last
/// record (the frozen buffer's, when one waits for its flush, and the writer's), TABLES,
/// the compression dictionaries (zstd_trained<>), and the MANIFEST last (backup_copier).
///
/// The cut is taken under the store's lock: the log flushed, the tables held (each
/// reader keeps its file open), the logs opened and their sizes taken. The bytes are
/// copied after the lock is released, from those open files, so that writes, jobs and
/// clear() go on meanwhile: a file removed since is still read whole.

#include <fcntl.h>

#include <algorithm>
#include <cstdint>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

#include "../../backup_options.hpp"
#include "../../detail/backup_copier.hpp"
#include "../../detail/function_ref.hpp"
#include "../../detail/store_files.hpp"
#include "../../error.hpp"
#include "table_engine.hpp"
#include "table_list.hpp"

namespace kvforge::detail {

template <class IO, class Writer, class Codec>
bool table_engine<IO, Writer, Codec>::backup(const std::string& dest, const backup_options& how,
                                             function_ref<void()> cut, std::error_code& ec) {
    if constexpr (codec_kept_in_store<Codec>) {
        // No dictionary a copied table needs is retired while the files are copied.
        const auto files_held = codec_.hold_files();
        return backup_files(dest, how, cut, ec);
    } else {
        return backup_files(dest, how, cut, ec);
    }
}

template <class IO, class Writer, class Codec>
bool table_engine<IO, Writer, Codec>::backup_files(const std::string& dest, const backup_options& how,
                                                   function_ref<void()> cut, std::error_code& ec) {
    log_.flush(ec);
    if (ec) return false;
    const levels_type tables = levels_;
    struct held_log {
        std::uint32_t generation = 0;
        std::uint64_t end = 0;
        data_file<IO> file;
    };
    std::vector<held_log> logs;
    const auto hold_log = [&](std::uint32_t generation, std::uint64_t end) {
        logs.push_back({generation, end, {}});
        return directory_.open_file(logs.back().file, store_file_name::data(generation), O_RDONLY, ec);
    };
    bool ok = (!frozen_ || hold_log(frozen_log_, frozen_log_bytes_)) &&
              (!log_.writing() || hold_log(log_.generation(), log_.end()));
    std::uint32_t newest_log = log_.writing() ? log_.generation() : 0;
    for (const replayed_log& log : replayed_logs_) {
        ok = ok && hold_log(log.generation, log.valid_end);
        newest_log = std::max(newest_log, log.generation);
    }
    if (!ok) return false;
    // The list TABLES holds (a reader's, as it opened), naming the newest log copied, with
    // the copied logs' sizes as a writer's close records them: the backup is a closed store,
    // and one of its logs cut short is found.
    table_list list = table_list::of(tables, listed_oldest_log_, listed_counts_, newest_log);
    for (const held_log& log : logs) list.record_closed_end(log.generation, log.end);
    const store_counts live = counts_.now();
    cut();

    backup_copier<IO> copier(io_, directory_);
    if (!copier.start(dest, ec)) return false;
    for (std::size_t i = 0; ok && i < level_limits::levels; ++i) {
        for (const auto& table : tables.level(i)) {
            const store_file_name name = store_file_name::table(table.generation);
            ok = ok && ((how.link_files && copier.link(name)) ||
                        copier.copy(table.reader->source(), name, table.file_size, true, ec));
        }
    }
    for (const held_log& log : logs) {
        ok = ok && copier.copy(log.file, store_file_name::data(log.generation), log.end, false, ec);
    }
    ok = ok && copier.write(store_file_name::table_list(), list.encode(), ec);
    ok = ok && copier.copy_dictionaries(how.link_files, ec);
    return copier.finish(ok, composition_, ec) && check_backup(dest, live, ec);
}

template <class IO, class Writer, class Codec>
bool table_engine<IO, Writer, Codec>::check_backup(const std::string& dest, const store_counts& live,
                                                   std::error_code& ec) const {
    table_engine copy;
    table_engine_options options = options_;
    options.mode = directory_mode{};
    options.mode.create = false;
    options.mode.require_store = true;
    options.mode.reader = true;
    verify_report report;
    if (!copy.open(io_, dest, composition_, options, ec) || !copy.verify(report, ec)) return false;
    if (copy.counts_.live_keys() != live.live_keys || copy.counts_.live_bytes() != live.live_bytes || !report.ok()) {
        fail(ec, errc::corrupt_record,
             dest + ": the backup holds " + std::to_string(copy.counts_.live_keys()) + " keys (" +
                 std::to_string(copy.counts_.live_bytes()) + " bytes) where the store held " +
                 std::to_string(live.live_keys) + " (" + std::to_string(live.live_bytes) +
                 " bytes) at its cut; the copy does not match the store: remove it and back up again");
        return false;
    }
    return true;
}

}  // namespace kvforge::detail
