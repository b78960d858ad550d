#pragma once
/// \file recovery.hpp
/// A log store's open: the segments found in its directory, checked, and replayed into
/// the index.
///
/// Recovery replays the segments by (order, id), each from its hint (hint.hpp, checked
/// ahead on a second thread: hint_checks.hpp) and then its records after what the hint
/// covers (log_scan.hpp); only the last may end in a torn write, which a writable open
/// cuts off. A hint that does not match its segment is ignored, and with
/// options::salvage none is trusted. A segment that SEGMENTS lists (segment_list.hpp) or
/// a hint names must be there: else it was lost, and the open fails naming it. Leftovers
/// (.tmp files, hints without their segment,
/// the older data file of a format 1 store) are removed, and appending goes on in the
/// last segment when the writer made it and it has room, else in a new one. A store
/// opened read-only changes no file.

#include <fcntl.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include "../../detail/data_file.hpp"
#include "../../detail/store_directory.hpp"
#include "../../detail/store_files.hpp"
#include "../../error.hpp"
#include "../../manifest.hpp"
#include "../../options.hpp"
#include "../../stats.hpp"
#include "hint.hpp"
#include "hint_checks.hpp"
#include "hinted_entries.hpp"
#include "index_updates.hpp"
#include "key_order.hpp"
#include "log_scan.hpp"
#include "record_format.hpp"
#include "segment.hpp"
#include "segment_list.hpp"

namespace kvforge::detail {

/// What recovery found, for the engine to install: the segments, the one the writer
/// appends to and where its records end, and what was read, cut and dropped (the live
/// and dead bytes the index's records add up to are log_recovery::index()'s).
template <class IO>
struct recovered_log {
    segment_set<IO> segments;
    std::shared_ptr<segment<IO>> active;  ///< appended to (read-only: the last in replay order)
    std::uint64_t active_end = 0;         ///< where the active segment's records end
    /// The active segment's records so far, for its hint; empty without
    /// options::write_hints and for a read-only store.
    std::optional<hint_builder> active_hint;
    /// The key order of the active segment's records so far, which the writes follow on
    /// (log_writes.hpp); followed only where a sorting job would use it.
    key_order_check active_order{false};
    std::uint32_t next_id = 1;  ///< the id of the next segment made
    /// What SEGMENTS listed; none when the store has no such file (or salvage set aside a damaged one).
    std::optional<segment_list> listed;
    std::uint64_t records = 0;             ///< records read from hints and segments (stats().recovered_records)
    std::uint64_t bytes_cut = 0;           ///< the torn tail cut off the last segment (stats().recovered_bytes_cut)
    std::vector<damaged_record> salvaged;  ///< what salvage dropped
    /// The damage to the store's files that salvage found and a scan of the segments it
    /// kept cannot find again (a missing segment, a data file shorter than its hint
    /// proves, a damaged header), for verify() of a read-only store.
    std::vector<damaged_record> file_damage;

    /// Records damage of that kind that the salvaged log's rewrite removes.
    void note_file_damage(damaged_record damage) {
        salvaged.push_back(damage);
        file_damage.push_back(std::move(damage));
    }
};

/// The files recovery makes, through the store's own (segment_files.hpp) and its hints
/// (hint_keeper.hpp), so that stats() counts their syncs and bytes as it counts the rest.
template <class SegmentFiles, class Hints>
struct recovery_files {
    SegmentFiles& files;
    Hints& hints;

    template <class Pointer>
    bool create_segment(std::uint32_t id, Pointer& out, std::error_code& ec) {
        return files.create_segment(id, out, ec);
    }
    template <class Segment>
    void write_hint_of(Segment& in, hint_builder& hint) {
        hints.write_hint_of(in, hint);
    }
    template <class File>
    bool sync_file(File& file, std::error_code& ec) {
        return files.sync_file(file, ec);
    }
    bool sync_directory(std::error_code& ec) { return files.sync_directory(ec); }
};

/// Opens a log store's segments and rebuilds its index (table) from them, into `into`,
/// through index updates of its own (index_updates.hpp), which count the live and dead
/// bytes as the engine's writes do. It refers to the engine's I/O policy, directory,
/// options and composition, and to its reader, which maps the segments it reads. Files
/// makes files for recovery as the store makes all of its files (recovery_files, above),
/// so that stats() counts their syncs and bytes: create_segment, write_hint_of, sync_file
/// and sync_directory.
template <class IO, class Table, class Reader, class Files>
class log_recovery {
    using io_type = IO;
    using segment_type = segment<IO>;
    using segment_pointer = std::shared_ptr<segment_type>;

public:
    log_recovery(IO& io, const store_directory<IO>& directory, const kvforge::options& opts, const composition& wanted,
                 Table& table, const Reader& reader, Files& files, recovered_log<IO>& into) noexcept
        : io_(io),
          directory_(directory),
          options_(opts),
          composition_(wanted),
          table_(table),
          reader_(reader),
          files_(files),
          state_(&into),
          index_(table, into.segments) {}

    /// The live and dead bytes of the records replayed so far.
    [[nodiscard]] const index_updates<IO, Table>& index() const noexcept { return index_; }

    /// Opens every segment (or creates the first), removes leftovers, and rebuilds the
    /// index from the segments in replay order, each from its hint and its records after
    /// what the hint covers. A read-only store removes, creates and cuts nothing: it
    /// serves the intact records and leaves the files as they are. With salvage no hint
    /// is trusted: every record is read, so that every damaged one is found and dropped.
    /// Returns what it found in `into`, whose segments the table's entries point into.
    /// False with ec set when the store cannot be opened: `into` then holds the segments
    /// opened so far, and the caller releases them, as the rest of its state, once it has
    /// closed the directory.
    bool recover(std::error_code& ec) {
        // The list before the directory: a writer takes a segment off the list before it
        // removes its files, so a reader beside it that finds a listed segment missing
        // meets a change made since it began, and tries again (log_backend::read_files).
        if (!read_segment_list(ec)) return false;
        std::vector<store_file_name> names;
        if (!directory_.list(names, ec)) return false;
        std::vector<std::uint32_t> ids;
        for (const store_file_name& name : names) {
            if (name.kind() == store_file_kind::data && !name.is_temporary()) ids.push_back(name.generation());
        }
        std::sort(ids.begin(), ids.end());
        if (!check_hinted_segments(names, ids, ec) || !check_listed_segments(names, ids, ec)) return false;
        const int flags = options_.read_only ? O_RDONLY : O_RDWR;
        std::vector<segment_pointer> found;
        std::uint32_t newest_v1 = 0;
        for (const std::uint32_t id : ids) {
            auto in = std::make_shared<segment_type>();
            in->id = id;
            if (!directory_.open_file(in->file, store_file_name::data(id), flags, ec) || !in->file.size(in->size, ec)) {
                return false;
            }
            // An empty data file holds no record: a leftover, removed below as the others
            // are (check_hinted_segments failed the open if a hint lists records of it).
            if (in->size == 0) {
                if (holds(names, store_file_name::hint(id))) {
                    if (!missing_segment(id, " is empty", hint_witness(id), ec)) return false;
                } else if (listed(id)) {
                    if (!missing_segment(id, " is empty", list_witness(), ec)) return false;
                }
                continue;
            }
            if (!check_header(*in, ec) || !check_listed_file(*in, ec)) return false;
            if (in->version < 2) newest_v1 = id;
            found.push_back(std::move(in));
        }
        // Format 1 kept one data file: an older one beside its newest is the leftover of
        // a compaction that a crash interrupted (removed below, as other leftovers are).
        for (segment_pointer& in : found) {
            if (in->version == format_version || in->id == newest_v1) state_->segments.add(std::move(in));
        }
        found.clear();

        if (!options_.read_only) {
            // Nothing is changed before every data file proved to be a store of ours.
            // A hint whose segment is gone goes too, so that no later segment of its id
            // meets it: first, and for good, since one left without its segment's .tmp
            // would name a lost segment.
            bool removed = false;
            for (const bool hints : {true, false}) {
                for (const store_file_name& other : names) {
                    const bool segment_file =
                        other.kind() == store_file_kind::data || other.kind() == store_file_kind::hint;
                    if ((other.kind() == store_file_kind::hint && !other.is_temporary()) != hints) continue;
                    if (other.is_temporary() ||
                        (segment_file && state_->segments.find(other.generation()) == nullptr)) {
                        if (!directory_.remove(other, ec)) return false;
                        removed = true;
                    }
                }
                if (hints && removed && !files_.sync_directory(ec)) return false;
            }
            // Synced even when nothing was removed: the open that created or renamed these
            // files may have failed to sync the directory, and what this store acknowledges
            // from now on rests on those entries.
            if ((removed || !ids.empty()) && !files_.sync_directory(ec)) return false;
        }
        // The directory refused a missing store unless this open may create one.
        if (state_->segments.empty()) {
            segment_pointer first;
            if (!files_.create_segment(state_->next_id++, first, ec)) return false;
            state_->segments.add(first);
            make_active(std::move(first));
            return true;
        }
        state_->next_id = ids.back() + 1;

        const std::vector<segment_pointer> ordered = state_->segments.in_replay_order();
        // With salvage no hint's entries are read, but what a hint proves of its data
        // file's length still tells a truncated file from a torn write.
        hint_checks<io_type> hints(io_, directory_, std::span(ordered),
                                   [&](const segment_type& in) { return identity(in); });
        // Sized once for every record the hints list: growing while replaying would move every slot again.
        const std::uint64_t hinted = hints.listed_entries();
        if constexpr (requires { table_.reserve(std::size_t{}); }) {
            if (hinted != 0) table_.reserve(static_cast<std::size_t>(hinted));
        }
        // An ordered index empty at open is built from the hints in one pass.
        if constexpr (sorted_buildable<Table>) {
            gathering_ = !options_.salvage && table_.empty();
            if (gathering_) gathered_.reserve(static_cast<std::size_t>(hinted));
        }
        hints.start_ahead();
        std::optional<hint_builder> last_hint;
        for (std::size_t i = 0; i < ordered.size(); ++i) {
            const mapped_hint<io_type> hint = hints.take(i);
            if (!replay(*ordered[i], hint, i + 1 == ordered.size(), last_hint, ec)) return false;
        }
        build_gathered();
        const segment_pointer& last = ordered.back();
        if (options_.read_only) {
            // Nothing is appended: the writer only tells readers where the intact records
            // end, which is where refresh() reads on (engine_refresh.hpp).
            state_->active = last;
            state_->active_end = last_intact_end_;
            return true;
        }
        // Appending goes on in the last segment if the writer made it and it has room.
        if (last->writer_made() && last->size < options_.segment_bytes) {
            state_->active = last;
            state_->active_end = last->size;
            state_->active_hint = std::move(last_hint);
            reader_.cover(*last, last->size);
            return true;
        }
        if (last_hint && last->hint_covered != last->size) {
            // A hint proves its bytes durable (a later open that finds fewer reports damage,
            // not a torn write): after a crash, the last segment's may be in the page cache only.
            if (!files_.sync_file(last->file, ec)) return false;
            files_.write_hint_of(*last, *last_hint);
        }
        segment_pointer next;
        if (!files_.create_segment(state_->next_id++, next, ec)) return false;
        state_->segments.add(next);
        make_active(std::move(next));
        return true;
    }

    /// Opens segment `id`, which the writer published after this read-only store's open,
    /// and checks its header as recover() checks every segment's (refresh()).
    bool open_published(std::uint32_t id, segment_pointer& out, std::error_code& ec) {
        auto in = std::make_shared<segment_type>();
        in->id = id;
        if (!directory_.open_file(in->file, store_file_name::data(id), O_RDONLY, ec) || !in->file.size(in->size, ec) ||
            !check_header(*in, ec)) {
            return false;
        }
        out = std::move(in);
        return true;
    }

private:
    /// Replays segment `in` into the index: its hint (in_hint, unless it has none or
    /// failed its check), then its records after what the hint covers. Only the last
    /// segment may end in a torn write (every other was durable before the next was made);
    /// a writable open cuts it off. The entries of the last segment are gathered in
    /// last_hint (it may become the active one); a segment without a hint covering it
    /// whole gets one written.
    bool replay(segment_type& in, const mapped_hint<io_type>& in_hint, bool last,
                std::optional<hint_builder>& last_hint, std::error_code& ec) {
        if (in.size > max_segment_bytes) {
            fail(ec, errc::not_a_store,
                 in.file.path() + ": " + std::to_string(in.size) + " bytes, more than a segment may hold (" +
                     std::to_string(max_segment_bytes) + ")");
            return false;
        }
        const bool build = options_.write_hints && !options_.read_only;
        std::optional<hint_builder> local;
        std::optional<hint_builder>& hint = last ? last_hint : local;
        std::uint64_t scan_from = in.records_start();
        // Followed only where a sorting job would use it: each key is copied as it passes.
        key_order_check order = order_to_follow();
        in.proven_end = std::max(in_hint.check.covered, in_hint.check.proven_end);
        if (in_hint.check.proven_end != 0 && !report_cut_below_hint(in, in_hint.check, ec)) return false;
        if (!options_.salvage && in_hint.check.passed()) load_hint(in, in_hint, scan_from, build && last, hint, order);
        if (build && !hint && in.hint_covered != in.size) hint.emplace(identity(in));
        log_scan_result scanned;
        const bool scanned_ok = scan_log(
            in.file, scan_from, in.size, in.version, options_.salvage,
            [&](const log_entry& entry) {
                build_gathered();  // records come after the hints gathered so far
                order.next(entry.key);
                index_.replay(entry, in);
                if (hint) {
                    hint->add({entry.type, entry.flags, entry.key, static_cast<std::uint32_t>(entry.value.size()),
                               entry.deadline, entry.tag, entry.offset, 0});
                }
            },
            scanned, ec);
        if (!scanned_ok) return false;
        if (last) last_intact_end_ = scanned.torn_tail ? scanned.valid_end : in.size;
        // The last segment may become the active one, appended to: its writes follow its order on.
        in.in_key_order = !last && order.ordered();
        if (last) state_->active_order = std::move(order);
        index_.add_dead(in, scanned.overhead_bytes);
        state_->records += scanned.records;
        state_->salvaged.insert(state_->salvaged.end(), scanned.damage.begin(), scanned.damage.end());
        if (scanned.torn_tail) {
            // Only a salvaging open reads the records a hint covers: one of them that does
            // not parse, with no intact record after it, is damage, not a torn write
            // (cut off all the same when it ends the last segment).
            const bool below_hint = in_hint.check.passed() && scanned.valid_end < in_hint.check.covered;
            if (below_hint) {
                state_->note_file_damage({in.file.path(), scanned.valid_end,
                                          "damaged record (checksum or structure) that its hint " +
                                              store_file_name::hint(in.id).str() +
                                              " proves was durable; no intact record follows it"});
            } else if (!last) {
                const std::string problem = "incomplete record at the end of a closed segment";
                if (!options_.salvage) {
                    fail(ec, errc::corrupt_record,
                         in.file.path() + ": " + problem + " at offset " + std::to_string(scanned.valid_end) +
                             " (a closed segment was complete on disk before the next one was made); open with "
                             "options::salvage to keep the intact records");
                    return false;
                }
                state_->salvaged.push_back({in.file.path(), scanned.valid_end, problem});
            }
            if (last && !options_.read_only) {
                // Cut the torn tail before anything is appended after it, and make the cut durable.
                state_->bytes_cut = in.size - scanned.valid_end;
                if (!in.file.truncate(scanned.valid_end, ec) || !files_.sync_file(in.file, ec)) return false;
                in.size = scanned.valid_end;
            }
        }
        reader_.map_final(in, in.size);
        if (!last && local && in.hint_covered != in.size) files_.write_hint_of(in, *local);
        return true;
    }

    // The checks of the segments found against what proves they were there (their hints,
    // SEGMENTS) and of their headers: recovery_checks.hpp.
    [[nodiscard]] static bool holds(const std::vector<store_file_name>& names, const store_file_name& name);
    bool check_hinted_segments(const std::vector<store_file_name>& names, const std::vector<std::uint32_t>& ids,
                               std::error_code& ec);
    bool read_segment_list(std::error_code& ec);
    [[nodiscard]] bool listed(std::uint32_t id) const;
    bool check_listed_file(const segment_type& in, std::error_code& ec);
    bool check_listed_segments(const std::vector<store_file_name>& names, const std::vector<std::uint32_t>& ids,
                               std::error_code& ec);
    [[nodiscard]] static std::string hint_witness(std::uint32_t id);
    [[nodiscard]] static std::string list_witness();
    bool missing_segment(std::uint32_t id, std::string_view what, const std::string& witness, std::error_code& ec);
    bool report_cut_below_hint(const segment_type& in, const hint_check& check, std::error_code& ec);
    bool salvage_header(segment_type& in, std::string_view bytes);
    [[nodiscard]] static std::optional<std::uint64_t> damaged_order(const char* half, std::uint32_t id);
    bool check_header(segment_type& in, std::error_code& ec);

    /// Loads segment `in`'s hint, which passed its check; scan_from becomes the first byte
    /// of the segment it does not cover. With gather, or when the hint covers only part of
    /// the segment, its entries are gathered in hint too, for the segment's next hint. Each
    /// entry's key goes to order.
    void load_hint(segment_type& in, const mapped_hint<io_type>& in_hint, std::uint64_t& scan_from, bool gather,
                   std::optional<hint_builder>& hint, key_order_check& order) {
        const bool build = options_.write_hints && !options_.read_only;
        // When the entries are gathered, they go in as the hint's bytes at the end; only
        // the last is kept from the way, for the entries added after it.
        std::uint64_t listed = 0;
        std::uint64_t to_list = 0;
        hint_entry last;
        std::string last_key;
        const auto apply_listing = [&](const hint_entry& entry) {
            order.next(entry.key);
            index_.add_dead(in, entry.gap);  // records the hint leaves out: batch headers, or all but live puts
            if (++listed == to_list && hint) {
                last = entry;
                last_key.assign(entry.key);
                last.key = last_key;
            }
        };
        const auto apply = [&](const hint_entry& entry) {
            apply_listing(entry);
            if (entry.type == record_type::put) {
                index_.put(entry.key, {in.id, static_cast<std::uint32_t>(entry.offset), entry.value_size, entry.flags});
            } else if (entry.type == record_type::erase) {
                index_.erase(entry.key, entry.record_size(), in);
            } else {
                index_.replay_clear(in, entry.offset + entry.record_size());
            }
        };
        const auto apply_puts = [&](std::span<const hint_entry> puts) {
            for (const hint_entry& entry : puts) apply_listing(entry);
            index_.put_many(puts, in.id);
        };
        const std::uint64_t covered = in_hint.check.covered;
        if constexpr (requires { table_.reserve(std::size_t{}); }) {
            if (table_.size() == 0) table_.reserve(static_cast<std::size_t>(in_hint.check.entries));
        }
        state_->records += in_hint.check.entries;
        to_list = in_hint.check.entries;
        if (gather || (build && covered < in.size)) hint.emplace(identity(in));
        hint_put_batch batch;
        read_checked_hint(in_hint.bytes(), identity(in), in_hint.check, [&](const hint_entry& entry) {
            if (gathering_) {
                apply_listing(entry);
                gather_for_build(entry, in);
            } else {
                batch.push(entry, apply_puts, apply);
            }
        });
        batch.flush(apply_puts);
        if (hint) hint->add_encoded(hint_encoded_entries(in_hint.bytes()), to_list, last);
        in.hint_bytes = in_hint.bytes().size();
        in.hint_covered = covered;
        scan_from = covered;
    }

    /// Gathers a hint entry of segment `in` for build_gathered(), counting its bytes as
    /// index_updates' put(), erase() and replay_clear() do.
    void gather_for_build(const hint_entry& entry, segment_type& in) {
        if (entry.type == record_type::put) {
            gathered_.put(entry.key, {in.id, static_cast<std::uint32_t>(entry.offset), entry.value_size, entry.flags});
            index_.add_live(entry.key.size() + entry.value_size);
        } else if (entry.type == record_type::erase) {
            index_.add_dead(in, entry.record_size());
            gathered_.erase(entry.key);
        } else {
            gathered_.clear();
            index_.replay_clear(in, entry.offset + entry.record_size());
        }
    }

    /// Builds the index from the entries gathered so far; from then on entries go into
    /// the index one by one.
    void build_gathered() {
        if (!gathering_) return;
        gathering_ = false;
        if constexpr (sorted_buildable<Table>) {
            gathered_.build(table_, [&](std::string_view key, std::string_view old) { index_.retire(key, old); });
        }
    }

    /// Makes `next`, which holds only its header, the segment the writer appends to.
    void make_active(segment_pointer next) {
        if (options_.write_hints && !options_.read_only) state_->active_hint.emplace(identity(*next));
        state_->active_end = file_header::size;
        state_->active_order = order_to_follow();
        reader_.cover(*next, state_->active_end);
        state_->active = std::move(next);
    }

    /// A fresh follower of a segment's key order: one that follows it only where a sorting
    /// job would use it (a sorted index, options::sort_closed_segments).
    [[nodiscard]] key_order_check order_to_follow() const noexcept {
        return key_order_check(sorted_buildable<Table> && options_.sort_closed_segments);
    }

    /// Which segment a hint describes.
    [[nodiscard]] hint_identity identity(const segment_type& in) const noexcept {
        return {in.id, composition_.codec_fingerprint, in.file_id, in.records_start()};
    }

    IO& io_;
    const store_directory<IO>& directory_;
    const kvforge::options& options_;
    const composition& composition_;
    Table& table_;
    const Reader& reader_;
    Files& files_;
    recovered_log<IO>* state_;  // what recover() fills
    index_updates<IO, Table> index_;
    bool gathering_ = false;             // hint entries go to gathered_, not to the index
    std::uint64_t last_intact_end_ = 0;  // where the intact records of the last segment end
    hinted_entries gathered_;
};

}  // namespace kvforge::detail

#include "recovery_checks.hpp"
