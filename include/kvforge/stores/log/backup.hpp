#pragma once
/// \file backup.hpp
/// A log store's backup: the copy of its files as they are at a cut, and its check.
///
/// The engine's backup() takes the cut under the gate (a flush, then the segments and
/// the active one's end); the copy here reads the bytes before the cut with no lock held,
/// so writers go on; a rollover meanwhile only closes the active segment, which the copy
/// still reads to the cut. While a backup runs, no segment may be retired
/// (backups_running.hpp). The copy is written as a store's directory is: the directory
/// synced once every segment, their list (SEGMENTS) and the compression dictionaries are
/// in place, the MANIFEST last; a destination without a MANIFEST is no backup. Every file
/// is copied by default (backup_options): a closed segment with its hint, and each
/// compression dictionary, whole, as a reflink where the I/O policy has clone_file and
/// the file system allows it, else byte by byte; the active segment byte by byte to the
/// cut. Each copy goes through a synced .tmp and a rename. The copy is then opened
/// read-only and verified.
///
/// A copy shares nothing with the store, so damage to the store's files afterwards (a
/// byte changed in place) leaves the backup whole; a reflink shares blocks copy-on-write,
/// so a write into either file gives it blocks of its own. With
/// backup_options::link_files, closed segments, their hints and dictionaries are hard
/// links instead (when the I/O policy has link and the file system allows it; else
/// copied), which share the bytes themselves: damage in place reaches both.
///
/// Why a link is still correct against kvforge's own writes: a closed segment's file is
/// never written again. The writer appends to the active segment only; an open appends
/// to, or cuts a torn tail off, only the last segment in replay order, which in the
/// store and in the copy is the active one (copied); compaction, clear() and salvage
/// write new segments through .tmp files and remove the old names; hints and the
/// MANIFEST are replaced through a rename, never rewritten. So neither the store nor the
/// copy can change the other's bytes through a shared file.

#include <fcntl.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <system_error>
#include <vector>

#include "../../detail/backup_copier.hpp"
#include "../../detail/data_file.hpp"
#include "../../detail/store_directory.hpp"
#include "../../detail/store_files.hpp"
#include "../../error.hpp"
#include "../../manifest.hpp"
#include "../../options.hpp"
#include "../../stats.hpp"
#include "segment.hpp"
#include "segment_list.hpp"

namespace kvforge::detail {

/// What a backup copies: every segment (held, so that none is closed under the copy),
/// the active one up to active_end, and what the store held at that point, to check
/// the copy against.
template <class IO>
struct backup_cut {
    std::vector<std::shared_ptr<segment<IO>>> segments;
    std::shared_ptr<segment<IO>> active;
    std::uint64_t active_end = 0;
    std::size_t live_keys = 0;
    std::uint64_t live_bytes = 0;

    /// How much of in the copy takes: a closed segment whole, the active one to the cut.
    [[nodiscard]] std::uint64_t end_of(const std::shared_ptr<segment<IO>>& in) const noexcept {
        return in == active ? active_end : in->size;
    }
};

/// Copies a store's files at a cut into a backup directory and checks the copy. It
/// refers to the engine's I/O policy, directory and composition, which do not change
/// while the store is open; the cut holds the segments it copies.
template <class IO>
class log_backup {
public:
    log_backup(IO& io, const store_directory<IO>& directory, const composition& recorded) noexcept
        : io_(io), directory_(directory), composition_(recorded) {}

    /// Writes the backup's files into dest: each closed segment whole with its hint, the
    /// active one up to the cut (it is written only past it), the list of the segments,
    /// the compression dictionaries, then the MANIFEST; copied, or linked where how.link_files asks and
    /// the file system allows it. A failure after dest was made says that the copy there
    /// is incomplete.
    bool copy(const backup_cut<IO>& cut, const std::string& dest, const backup_options& how, std::error_code& ec) {
        backup_copier<IO> copier(io_, directory_);
        if (!copier.start(dest, ec)) return false;
        bool ok = true;
        for (const std::shared_ptr<segment<IO>>& in : cut.segments) {
            if (!ok) break;
            if (in == cut.active) {
                ok = copier.copy(in->file, store_file_name::data(in->id), cut.active_end, false, ec);
                continue;
            }
            if (how.link_files && link_closed_segment(*in, copier)) continue;
            ok = copier.copy(in->file, store_file_name::data(in->id), in->size, true, ec) && copy_hint(in->id, copier, ec);
        }
        // The copy's list names exactly the segments copied, so that its opens find any of
        // them lost as the store's do.
        if (ok) {
            segment_list list;
            for (const std::shared_ptr<segment<IO>>& in : cut.segments) {
                list.segments.push_back({in->id, in->file_id});
            }
            sort_by_id(list.segments);
            ok = copier.write(store_file_name::segment_list(), list.encode(), ec);
        }
        // Only once the segments' names (links included) are durable may the MANIFEST make
        // the copy a store.
        return copier.finish(ok && copier.copy_dictionaries(how.link_files, ec), composition_, ec);
    }

    /// Opens the finished backup read-only and checks every record, and that it holds
    /// the keys and bytes the store held at the cut. Store is the engine's own type.
    template <class Store>
    void verify(const backup_cut<IO>& cut, const std::string& dest, std::error_code& ec) {
        Store copy;
        kvforge::options read_only;
        read_only.read_only = true;
        copy.open(dest, read_only, io_, composition_, ec);
        if (ec) return;
        const verify_report report = copy.verify(ec);
        if (ec) return;
        const kvforge::stats held = copy.stats();
        copy.close(ec);
        if (ec) return;
        if (!report.damaged.empty()) {
            fail(ec, errc::corrupt_record,
                 report.damaged.front().file + " (the backup in " + dest + "): " + report.damaged.front().problem +
                     " at offset " + std::to_string(report.damaged.front().offset) +
                     "; the copy does not match the store: remove it and back up again");
        } else if (held.live_keys != cut.live_keys || held.live_bytes != cut.live_bytes) {
            fail(ec, errc::corrupt_record,
                 dest + ": the backup holds " + std::to_string(held.live_keys) + " keys (" +
                     std::to_string(held.live_bytes) + " bytes) where the store held " + std::to_string(cut.live_keys) +
                     " (" + std::to_string(cut.live_bytes) +
                     " bytes) at the cut; the copy does not match the store: remove it and back up again");
        }
    }

private:
    /// Copies closed segment id's hint, when it has one, into the backup. A hint is
    /// replaced only through a rename, so the file opened here is whole; one that is gone
    /// (the segment was never given one, or its next hint is being written) is left out:
    /// a hint only spares the copy's first open a replay.
    bool copy_hint(std::uint32_t id, backup_copier<IO>& copier, std::error_code& ec) {
        const store_file_name name = store_file_name::hint(id);
        data_file<IO> from;
        std::error_code missing;
        if (!directory_.open_file(from, name, O_RDONLY, missing)) {
            if (missing == std::errc::no_such_file_or_directory) return true;
            ec = missing;
            return false;
        }
        std::uint64_t size = 0;
        return from.size(size, ec) && copier.copy(from, name, size, true, ec);
    }

    /// Links closed segment `in`, and its hint when it has one, into the backup's directory
    /// under their own names (backup_options::link_files); false when the segment must be
    /// copied instead: the link fails (backup_copier::link), or the file holds bytes past
    /// the segment's end, which a link would take and a copy does not. The linked bytes
    /// are durable already: a segment is synced before it closes (rollover) or is
    /// published (compaction), and a hint before its rename; the directory sync that
    /// precedes the MANIFEST makes the new names durable. A hint only spares the copy's
    /// first open a replay, so one that cannot be linked (there is none, or the link
    /// fails) is left out.
    bool link_closed_segment(const segment<IO>& in, backup_copier<IO>& copier) {
        std::error_code ignored;
        std::uint64_t file_size = 0;
        if (!in.file.size(file_size, ignored) || file_size != in.size) return false;
        if (!copier.link(store_file_name::data(in.id))) return false;
        copier.link(store_file_name::hint(in.id));
        return true;
    }

    IO& io_;
    const store_directory<IO>& directory_;
    const composition& composition_;  // written into the copy's MANIFEST
};

}  // namespace kvforge::detail
