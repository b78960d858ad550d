#pragma once
/// \file record_reader.hpp
/// The one read path of a log store: given where a key's record is (segment and
/// offset), read the record from the writer's pending bytes (active segment), from the
/// segment's mapping (every segment of mmap_file; file_log's closed segments and the
/// part of its active one written before the open) or with pread (with a read-ahead
/// window for scans), check its checksum and its key, and hand out the value.

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>

#include "../../detail/assign_bytes.hpp"
#include "../../detail/crc32c.hpp"
#include "../../detail/data_file.hpp"
#include "../../detail/thread_buffer.hpp"
#include "../../error.hpp"
#include "file_mapping.hpp"
#include "record_format.hpp"
#include "segment.hpp"

namespace kvforge::detail {

/// The bytes a scan read from the file beyond the record it asked for. After a
/// compaction a sorted store's records lie in key order, one after another, so a
/// scan that finds its next record right where the window ends doubles the window
/// (as an OS read-ahead does) and one pread serves many records; a scan whose
/// records lie scattered keeps reading one record at a time.
struct read_ahead {
    static constexpr std::size_t max_window = std::size_t{256} << 10;
    std::string bytes;
    std::uint32_t segment = 0;  // the id of the segment the bytes are from
    std::uint64_t start = 0;
    /// The scan goes forward through segments in key order: a mapped record's reader loads
    /// the lines a few records further on (record_reader::prefetch_further).
    bool forward = false;

    [[nodiscard]] bool holds(std::uint32_t id, std::uint64_t offset, std::size_t size) const noexcept {
        return id == segment && offset >= start && offset + size <= start + bytes.size();
    }
    [[nodiscard]] std::string_view view(std::uint64_t offset, std::size_t size) const noexcept {
        return std::string_view(bytes).substr(static_cast<std::size_t>(offset - start), size);
    }
};

/// Whether the size bytes at offset of segment `in` lie inside its mapping (it has one),
/// to be read there.
template <class Segment>
[[nodiscard]] bool mapped(const Segment& in, std::uint64_t offset, std::size_t size) noexcept {
    return in.mapping && offset + size <= in.mapping->length();
}

/// Asks the processor to start loading the size bytes at record, a record a scan reads
/// soon: in a store filled in random key order the next records in key order lie far
/// apart in the file, and loading several at once overlaps their cache misses.
inline void prefetch_record(const char* record, std::size_t size) noexcept {
    constexpr std::uintptr_t line = 64;
    const std::uintptr_t first = reinterpret_cast<std::uintptr_t>(record) & ~(line - 1);
    const std::uintptr_t end = reinterpret_cast<std::uintptr_t>(record) + size;
    for (std::uintptr_t at = first; at < end; at += line) __builtin_prefetch(reinterpret_cast<const char*>(at));
}

/// The segments a scan looked up last, by id. A scan asks for the segment of each record
/// twice (to load it ahead and to read it); once a store holds several segments, their
/// order from one record to the next is not one a binary search's branches can predict,
/// and the lookups took a seventh of a scan of four segments, three of them sorted. Valid
/// while the segment set does not change: for one visit under the read lock.
template <class Segment>
class recent_segments {
public:
    /// The segment with this id in set, or nullptr.
    template <class Set>
    const Segment* find(const Set& set, std::uint32_t id) noexcept {
        const Segment*& slot = slots_[id % slots_.size()];
        if (slot == nullptr || slot->id != id) slot = set.find(id);
        return slot;
    }

private:
    std::array<const Segment*, 8> slots_{};
};

/// Reads records of the engine's segments. It refers to the engine's segment set,
/// active segment and writer, which the engine changes under its exclusive lock
/// (rollover, compaction, clear); the segments own their mappings, whose records are
/// viewed where they lie, so a view stays valid while its segment is held (under the
/// read lock, or by a snapshot) even after compaction retired the segment.
template <class IO, class Writer, bool Mapped>
class record_reader {
public:
    using segment_type = segment<IO>;
    using segment_cache = recent_segments<segment_type>;

    record_reader(const IO& io, const segment_set<IO>& segments, const std::shared_ptr<segment_type>& active,
                  const std::optional<Writer>& writer) noexcept
        : io_(io), segments_(segments), active_(active), writer_(writer) {}

    /// Reads and checks the record at where; value views its value. A record inside its
    /// segment's mapping is viewed where it lies, leaving scratch empty; otherwise it is
    /// copied into scratch (from the writer, or from the file with pread).
    bool read(std::string_view key, const record_location& where, std::string& scratch, std::string_view& value,
              std::error_code& ec, read_ahead* ahead = nullptr, segment_cache* recent = nullptr) const {
        std::string_view record;
        record_info info;
        if (!read_record(key, where, scratch, record, info, ec, ahead, recent)) return false;
        value = record.substr(info.value_offset, info.value_size);
        return true;
    }

    /// read(), handing out the whole record, which info describes: a compaction copies
    /// it as it is, its checksum checked once and kept.
    bool read_record(std::string_view key, const record_location& where, std::string& scratch, std::string_view& record,
                     record_info& info, std::error_code& ec, read_ahead* ahead = nullptr,
                     segment_cache* recent = nullptr) const {
        const segment_type* const in = find(where, ec, recent);
        if (in == nullptr) return false;
        const auto size = static_cast<std::size_t>(where.record_size(key.size()));
        const bool pending = with_writer(*in, where.offset);
        record = {};
        scratch.clear();
        if (!pending && mapped(*in, where.offset, size)) {
            record = std::string_view(in->mapping->data() + where.offset, size);
            if (ahead != nullptr && ahead->forward && in->in_key_order) prefetch_further(*in, where.offset);
        } else if (!Mapped && ahead != nullptr && !pending) {
            if (!ahead->holds(in->id, where.offset, size) && !fill(*ahead, *in, where.offset, size, ec)) {
                return false;
            }
            record = ahead->view(where.offset, size);
        }
        if (record.empty()) {
            scratch.resize(size);
            if (!(pending && writer_->read_pending(where.offset, scratch.data(), size)) &&
                !in->file.read(where.offset, scratch.data(), size, ec)) {
                return false;
            }
            record = scratch;
        }
        // The index says how long the record and its value are, and its flags: the header
        // need only agree (a size written longer than its shortest form would move the
        // key), and the checksum match.
        const std::size_t value_offset = size - where.value_size;
        if (!parse_record_header(record.substr(0, value_offset), where.value_size, info) || info.flags != where.flags ||
            file_header::get_le32(record.data()) != crc32c(record.substr(4)) ||
            record.substr(info.key_offset, info.key_size) != key) {
            report_damage(*in, where.offset, ec);
            return false;
        }
        info.value_offset = value_offset;
        info.size = size;
        return true;
    }

    /// Starts loading the record at where into the cache when its segment is mapped,
    /// for a scan that reads it soon; a record read with pread has nothing to load.
    void prefetch(std::size_t key_size, const record_location& where, segment_cache& recent) const noexcept {
        const segment_type* const in = recent.find(segments_, where.segment);
        const auto size = static_cast<std::size_t>(where.record_size(key_size));
        if (in != nullptr && mapped(*in, where.offset, size)) prefetch_record(in->mapping->data() + where.offset, size);
    }

    /// Whether some record in a file may lie away from its neighbours in key order: a
    /// segment holds records without being known to hold them in key order (the active
    /// one, or a closed one not sorted yet); those still with the writer are read from it.
    /// When none does, a scan in key order reads each segment front to back, which the
    /// processor's own prefetching follows: loading records ahead of the scan then only
    /// costs it (a fifth of a scan of 1,000,000 records, every segment sorted).
    [[nodiscard]] bool scattered() const {
        for (const auto& in : segments_.by_id()) {
            const std::uint64_t end = in == active_ ? writer_->written_end() : in->size;
            if (!in->in_key_order && end > in->records_start()) return true;
        }
        return false;
    }

    /// Reads key's value straight into out, with no allocation beyond out's own: copied
    /// from the mapping, or one preadv puts the record's header and key in a small
    /// buffer and its value in out. A value that fails its checksum is not left there:
    /// out is emptied.
    bool read_value(std::string_view key, const record_location& where, std::string& out, std::error_code& ec) const {
        const std::size_t head_size = put_header_size(key.size(), where.value_size) + key.size();
        borrowed_buffer scratch(thread_buffer_use::value_head);
        const segment_type* const in = find(where, ec);
        if (in == nullptr) {
            out.clear();
            return false;
        }
        if (Mapped || with_writer(*in, where.offset) ||
            mapped(*in, where.offset, static_cast<std::size_t>(where.record_size(key.size())))) {
            // A mapped record is checked where it lies, and one not yet in the file is
            // copied from the writer in one piece.
            std::string_view value;
            if (!read(key, where, scratch.get(), value, ec)) {
                out.clear();
                return false;
            }
            assign_bytes(out, value);
            return true;
        }
        char small[256];
        char* head = small;
        if (head_size > sizeof small) {
            scratch.get().resize(head_size);
            head = scratch.get().data();
        }
        out.resize(where.value_size);
        // Whatever happens from here, out holds no byte of a value that failed its checks.
        if (!in->file.read2(where.offset, head, head_size, out.data(), out.size(), ec)) {
            out.clear();
            return false;
        }
        record_info info;
        const std::uint32_t crc = crc32c_extend(crc32c({head + 4, head_size - 4}), out);
        const std::string_view head_bytes(head, head_size);
        // The header parses on its own once the value's size is known to be in out.
        const bool header_ok = parse_record_header(head_bytes, where.value_size, info);
        if (!header_ok || crc != file_header::get_le32(head) || head_bytes.substr(info.key_offset) != key) {
            out.clear();
            report_damage(*in, where.offset, ec);
            return false;
        }
        return true;
    }

    /// The mapping that views handed out by read() of a record in this segment point
    /// into (mmap_file).
    [[nodiscard]] std::shared_ptr<const file_mapping<IO>> mapping(std::uint32_t segment_id) const noexcept {
        const segment_type* const in = segments_.find(segment_id);
        return in != nullptr ? in->mapping : nullptr;
    }

    /// Maps segment `in` for reads up to end, below which its bytes never change again:
    /// a closed segment whole, or the part of the active one written before the store
    /// was opened. file_log reads the records there through the mapping, with no system
    /// call, and the others with pread; mmap_file's mapping grows further (cover). Best
    /// effort: without a mapping, records are read with pread.
    void map_final(segment_type& in, std::uint64_t end) const {
        if constexpr (Mapped) {
            cover(in, end);
        } else {
            if (end <= in.records_start() || (in.mapping && in.mapping->length() >= end)) return;
            std::error_code ignored;
            if (auto whole = file_mapping<IO>::map(io_, in.file.descriptor(), static_cast<std::size_t>(end),
                                                   in.file.path(), ignored)) {
                in.mapping = std::move(whole);
            }
        }
    }

    /// Makes the mapping of segment `in` cover it up to end (mmap_file), so that records
    /// reaching the file later are inside it. Best effort: a record outside the mapping
    /// is read with pread instead.
    void cover(segment_type& in, std::uint64_t end) const {
        if constexpr (Mapped) {
            if (in.mapping && in.mapping->length() >= end) return;
            // Double, so remapping is rare; at least 1 MiB, so small stores map once.
            std::uint64_t length = in.mapping ? in.mapping->length() : std::uint64_t{1} << 20;
            while (length < end) length *= 2;
            std::error_code ignored;
            if (auto grown = file_mapping<IO>::map(io_, in.file.descriptor(), static_cast<std::size_t>(length),
                                                   in.file.path(), ignored)) {
                in.mapping = std::move(grown);
            }
        }
    }

    /// Fails with corrupt_record for the record at offset in segment `in`.
    static void report_damage(const segment_type& in, std::uint64_t offset, std::error_code& ec) {
        fail(ec, errc::corrupt_record,
             in.file.path() + ": the record at offset " + std::to_string(offset) +
                 " fails its checksum; its value is not returned (run verify() for a full report)");
    }

private:
    /// The segment where points into; nullptr with corrupt_record when there is none
    /// (an index entry that does not match the files).
    const segment_type* find(const record_location& where, std::error_code& ec, segment_cache* recent = nullptr) const {
        const segment_type* const in =
            recent != nullptr ? recent->find(segments_, where.segment) : segments_.find(where.segment);
        if (in == nullptr) {
            fail(ec, errc::corrupt_record,
                 "the index points at segment " + std::to_string(where.segment) + ", which the store does not hold");
        }
        return in;
    }

    /// For a scan reading segment `in`, known to be in key order, at offset: starts loading
    /// the lines a few records further on, which it reads next when it goes forward. A
    /// scan of a sorted store interleaves its segments, several streams of records, which
    /// the processor's own prefetching follows too late (1,000,000 records in five sorted
    /// segments: a scan took 7% less time with this).
    static void prefetch_further(const segment_type& in, std::uint64_t offset) noexcept {
        constexpr std::uint64_t distance = 512;
        constexpr std::size_t two_lines = 128;
        if (offset + distance + two_lines <= in.mapping->length()) {
            prefetch_record(in.mapping->data() + offset + distance, two_lines);
        }
    }

    /// Whether the record at offset of segment `in` is still with the writer (buffered,
    /// queued, or being written by async_worker's thread) rather than wholly in the file.
    [[nodiscard]] bool with_writer(const segment_type& in, std::uint64_t offset) const {
        return &in == active_.get() && offset >= writer_->written_end();
    }

    /// Reads the record at offset into the window, with as many bytes after it as the
    /// pattern of the scan so far suggests and the file already holds; or, when the scan
    /// reads records back to front (a descending scan of records written in key order),
    /// with as many bytes before it.
    bool fill(read_ahead& ahead, const segment_type& in, std::uint64_t offset, std::size_t size,
              std::error_code& ec) const {
        const bool sequential = !ahead.bytes.empty() && offset == ahead.start + ahead.bytes.size();
        const bool backward = !ahead.bytes.empty() && offset + size == ahead.start;
        std::size_t length = sequential || backward ? std::min(ahead.bytes.size() * 2, read_ahead::max_window) : size;
        length = std::max(length, size);
        std::size_t needed = size;
        if (backward) {
            // The window ends with the record, below the writer's records as the record is.
            length = static_cast<std::size_t>(std::min<std::uint64_t>(length, offset + size));
            offset = offset + size - length;
            needed = length;
        } else {
            // Records still with the writer lie from its written end on: read only below it.
            // The record at offset is below it (the caller checked), and that end only grows.
            // A closed segment ends where it ends.
            const std::uint64_t written = &in == active_.get() ? writer_->written_end() : in.size;
            const std::uint64_t room = written > offset ? written - offset : 0;
            length = std::max(size, static_cast<std::size_t>(std::min<std::uint64_t>(length, room)));
        }
        ahead.bytes.resize(length);
        std::size_t got = 0;
        if (!in.file.read_at_least(offset, ahead.bytes.data(), needed, length, got, ec)) return false;
        ahead.bytes.resize(got);
        ahead.segment = in.id;
        ahead.start = offset;
        return true;
    }

    const IO& io_;
    const segment_set<IO>& segments_;
    const std::shared_ptr<segment_type>& active_;
    const std::optional<Writer>& writer_;
};

}  // namespace kvforge::detail
