#pragma once
/// \file segment_files.hpp
/// The files a log store makes in its directory: new segments (started as a .tmp,
/// published by a rename), files written safely, at once or piece by piece (hints, the
/// manifest), segments removed once retired, and the syncs and bytes all of that costs,
/// which stats() reports beside the writer's.
///
/// It owns the store's directory. The engine, its recovery and its compaction make
/// every file through it, so that every sync and byte is counted, from whichever thread.
///
/// It keeps the list of segments too (SEGMENTS, segment_list.hpp), which lets an open tell
/// a segment lost with its hint from one that was never there. The list only ever names
/// segments that are in place: a segment joins it once its name is durable (its rename
/// and the directory synced), and leaves it, the list written, before its files are
/// removed. A new segment is listed at the next write of the list (a step after the
/// closed segment's hint, or on the compaction thread after it; at a compaction, at close
/// and at open), not at once, so that a rollover costs no more syncs than it did.

#include <fcntl.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#include "../../detail/data_file.hpp"
#include "../../detail/log_writer.hpp"
#include "../../detail/store_directory.hpp"
#include "../../detail/store_files.hpp"
#include "file_id.hpp"
#include "record_format.hpp"
#include "segment.hpp"
#include "segment_list.hpp"
#include "segment_list_keeper.hpp"

namespace kvforge::detail {

/// The directory of a log store and the files it makes there. Counter is the threading
/// policy's counter for the syncs.
template <class IO, class Counter>
class segment_files {
    using segment_type = segment<IO>;
    using segment_pointer = std::shared_ptr<segment_type>;

public:
    /// failure is the store's: a segment that could not be published stops its writes.
    explicit segment_files(sticky_failure& failure) noexcept : failure_(failure) {}

    /// Opens the directory as mode says, for a store whose records are encoded as
    /// codec_fingerprint says and whose values as layers says (layers_fingerprint), both
    /// written into each new segment's header.
    bool open(IO& io, std::string_view path, const directory_mode& mode, std::uint64_t codec_fingerprint,
              std::uint64_t layers, std::error_code& ec) {
        fingerprint_ = codec_fingerprint;
        layers_ = layers;
        bytes_written_.store(0, std::memory_order_relaxed);
        return directory_.open(io, path, mode, ec);
    }

    /// Releases the directory's lock; nothing writes the list until the next adopt_segments.
    void close() noexcept {
        list_.stop();
        directory_.close();
    }

    /// How the records of the segments it makes are encoded (their headers' codec_fingerprint).
    [[nodiscard]] std::uint64_t codec_fingerprint() const noexcept { return fingerprint_; }

    [[nodiscard]] store_directory<IO>& directory() noexcept { return directory_; }
    [[nodiscard]] const store_directory<IO>& directory() const noexcept { return directory_; }

    /// Syncs of files and of the directory made through this, ever (stats().syncs adds the writer's).
    [[nodiscard]] std::uint64_t syncs() const noexcept { return syncs_.load(); }
    /// Bytes written through this since open (stats().bytes_written adds the writer's).
    [[nodiscard]] std::uint64_t bytes_written() const noexcept {
        return bytes_written_.load(std::memory_order_relaxed);
    }

    bool sync_directory(std::error_code& ec) {
        syncs_.add(1);
        return directory_.sync(ec);
    }

    /// Syncs a file of the store's own (a segment, a hint, the manifest).
    bool sync_file(data_file<IO>& file, std::error_code& ec) {
        syncs_.add(1);
        return file.sync(ec);
    }

    /// Writes bytes the store's writer does not (headers, compaction output, hints, the manifest).
    bool write_counted(data_file<IO>& file, std::uint64_t offset, std::string_view bytes, std::error_code& ec) {
        if (!file.write(offset, bytes, ec)) return false;
        bytes_written_.fetch_add(bytes.size(), std::memory_order_relaxed);
        return true;
    }

    /// Writes a whole file safely: .tmp, sync, rename, sync the directory.
    bool write_file(const store_file_name& name, std::string_view bytes, std::error_code& ec) {
        return write_file(name, std::span<const std::string_view>(&bytes, 1), ec);
    }

    /// The same for a file given as pieces written one after another.
    bool write_file(const store_file_name& name, std::span<const std::string_view> pieces, std::error_code& ec) {
        data_file<IO> file;
        std::uint64_t at = 0;
        return start_file(name, file, ec) && write_pieces(file, at, pieces, ec) && finish_file(name, file, ec);
    }

    /// Writes pieces one after another from offset `at`, counted; `at` ends past the last
    /// one written.
    bool write_pieces(data_file<IO>& file, std::uint64_t& at, std::span<const std::string_view> pieces,
                      std::error_code& ec) {
        for (const std::string_view piece : pieces) {
            if (!write_counted(file, at, piece, ec)) return false;
            at += piece.size();
        }
        return true;
    }

    /// Opens the .tmp of a file written safely but not at once (write_counted, as its
    /// bytes come; then finish_file, or remove_unfinished).
    bool start_file(const store_file_name& name, data_file<IO>& file, std::error_code& ec) {
        return directory_.open_file(file, name.temporary(), O_WRONLY | O_CREAT | O_TRUNC, ec);
    }

    /// Syncs a file opened by start_file, renames its .tmp to name and syncs the directory.
    bool finish_file(const store_file_name& name, data_file<IO>& file, std::error_code& ec) {
        return sync_file(file, ec) && directory_.rename(name.temporary(), name, ec) && sync_directory(ec);
    }

    /// Removes the .tmp of a file started but given up. A failure leaves it to the next
    /// open, which removes every .tmp.
    void remove_unfinished(const store_file_name& name) {
        std::error_code ignored;
        directory_.remove(name.temporary(), ignored);
    }

    /// Starts segment `id` as a .tmp holding its header, with a new file id. No hint of
    /// that id exists: ids are above every id on disk at open, where hints without their
    /// segment were removed.
    bool start_segment(std::uint32_t id, std::uint64_t order, segment_pointer& out, std::error_code& ec) {
        auto created = std::make_shared<segment_type>();
        created->id = id;
        created->order = order;
        created->file_id = new_file_id();
        const store_file_name tmp = store_file_name::data(id).temporary();
        if (!directory_.open_file(created->file, tmp, O_RDWR | O_CREAT | O_TRUNC, ec)) return false;
        file_header header;
        header.codec_fingerprint = fingerprint_;
        header.layers = layers_;
        header.generation = id;
        header.order = order;
        header.file_id = created->file_id;
        char bytes[file_header::size];
        header.encode(bytes);
        if (!write_counted(created->file, 0, {bytes, sizeof bytes}, ec)) return false;
        created->size = file_header::size;
        out = std::move(created);
        return true;
    }

    /// Syncs a finished .tmp segment, renames it into place and syncs the directory. A
    /// failure stops the store's writes: a failed sync is never retried (the kernel may
    /// have dropped the pages), and after the rename the next open may find the segment.
    bool publish_segment(segment_type& in, std::error_code& ec) {
        if (!sync_file(in.file, ec)) {
            failure_.record(ec);
            return false;
        }
        return place_segment(in, ec);
    }

    /// Creates segment `id`, the next one the writer appends to, holding only its header,
    /// through a synced .tmp and a rename; it replays after every earlier one (its order is
    /// its id, the highest yet).
    bool create_segment(std::uint32_t id, segment_pointer& out, std::error_code& ec) {
        return start_segment(id, id, out, ec) && publish_segment(*out, ec);
    }

    /// Renames a synced .tmp segment into place and syncs the directory (publish_segment;
    /// a rollover's spare segment, synced when it was prepared).
    bool place_segment(segment_type& in, std::error_code& ec) {
        const store_file_name name = store_file_name::data(in.id);
        if (directory_.rename(name.temporary(), name, ec)) {
            in.file.renamed(directory_.file_path(name));
            if (sync_directory(ec)) {
                note_published(in);
                return true;
            }
        }
        failure_.record(ec);
        return false;
    }

    /// Removes the .tmp of segment `id`, started but never published (a spare segment no
    /// longer wanted, a dropped compaction's output). A failure leaves it to the next open,
    /// which removes every .tmp.
    void remove_unpublished_segment(std::uint32_t id) { remove_unfinished(store_file_name::data(id)); }

    /// Makes and publishes segment `id` holding only a clear record (clear()): replayed
    /// after every earlier segment, it drops what they hold.
    bool publish_cleared_segment(std::uint32_t id, segment_pointer& out, std::error_code& ec) {
        segment_pointer next;
        if (!start_segment(id, id, next, ec)) return false;
        std::string record;
        append_clear_record(record);
        if (!write_counted(next->file, next->size, record, ec)) return false;
        next->size += record.size();
        next->holds_clear = true;
        if (!publish_segment(*next, ec)) return false;
        out = std::move(next);
        return true;
    }

    /// Removes the files of segments taken out of the store, in their replay order, the
    /// directory synced after each: should a crash leave some, they are the last ones in
    /// replay order, whose tombstones are still there for their older records. A removal
    /// that fails stops it; the next open replays what is left, to the same contents.
    void remove_segments(const std::vector<segment_pointer>& retired) {
        if (!forget(retired)) return;
        for (const segment_pointer& in : retired) {
            if (!remove_segment(*in)) return;
        }
    }

    /// Removes one segment taken out of the store: it leaves the list of segments, then
    /// its hint goes, a sync of the directory, its data file, a sync of the directory. The
    /// hint goes first and for good, since a hint left without its data file names a
    /// segment that was lost (recovery.hpp). False when the list could not be written or a
    /// removal failed (what is left replays at the next open).
    bool remove_segment(const segment_type& retired) {
        std::error_code ignored;
        return forget_ids({retired.id}) && directory_.remove(store_file_name::hint(retired.id), ignored) &&
               sync_directory(ignored) && directory_.remove(store_file_name::data(retired.id), ignored) &&
               sync_directory(ignored);
    }

    /// Takes the segments a writable open found as the store's list; on_disk is the list
    /// SEGMENTS held (none: no such file), so that an open whose list is up to date writes
    /// none. Until this is called, nothing writes the list (a read-only store never does).
    void adopt_segments(std::vector<listed_segment> found, const std::optional<segment_list>& on_disk) {
        list_.adopt(std::move(found), on_disk);
    }

    /// Notes a segment whose name is durable (place_segment; compaction's outputs, renamed
    /// into place and the directory synced): the next write of the list names it.
    void note_published(const segment_type& in) { list_.add({in.id, in.file_id}); }

    /// Takes segments off the list and writes it, before their files are removed; false
    /// when the list could not be written, and then their files must stay.
    bool forget(const std::vector<segment_pointer>& retired) {
        std::vector<std::uint32_t> ids;
        ids.reserve(retired.size());
        for (const segment_pointer& in : retired) ids.push_back(in->id);
        return forget_ids(ids);
    }

    /// Whether a segment joined the list since it was last written (or a write failed).
    [[nodiscard]] bool list_out_of_date() const noexcept { return list_.out_of_date(); }

    /// Writes SEGMENTS, safely as every file of the store's own, when the list changed
    /// since it was last written.
    bool write_list(std::error_code& ec) {
        return list_.write_if_changed(
            [&](std::string_view bytes, std::error_code& failed) {
                return write_file(store_file_name::segment_list(), bytes, failed);
            },
            ec);
    }

private:
    /// Takes segments of these ids off the list, and writes it when that changed it.
    bool forget_ids(const std::vector<std::uint32_t>& ids) {
        list_.remove(ids);
        std::error_code ignored;
        return write_list(ignored);
    }

    store_directory<IO> directory_;
    sticky_failure& failure_;
    std::uint64_t fingerprint_ = 0;
    std::uint64_t layers_ = 0;
    Counter syncs_;  // bumped outside the lock stats() reads under
    std::atomic<std::uint64_t> bytes_written_{0};
    segment_list_keeper list_;  // SEGMENTS, between its writes
};

}  // namespace kvforge::detail
