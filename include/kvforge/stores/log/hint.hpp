#pragma once
/// \file hint.hpp
/// Hint files: the records of a data file without their values, so that reopening a
/// store reads the keys without reading the values.
///
/// A hint file (format version 2) is a file header (kind 'H', the generation, codecs
/// and file id of the data file it describes), then a body: how many bytes of the data
/// file it covers (u64), how many entries follow (u64), and per record, in file order,
///
///     u8      the record's type byte (kind and flags, as in the record)
///     varint  bytes the key shares with the previous entry's key
///     varint  length of the rest of the key, then those bytes
///     put:    varint value size, [deadline i64], [tag u8] as the flags say
///     varint  gap: bytes between the previous entry's record's end (or the data
///             file's header) and this record's start
///
/// then a CRC-32C of the body. Offsets follow from the sizes and gaps, so a hint may
/// leave records out (a hint written at close lists the live puts only: the gaps hold
/// the rest). A hint that fails any check, or of format version 1, is ignored and the
/// log is read instead.

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "../../detail/byte_order.hpp"
#include "../../detail/crc32c.hpp"
#include "record_format.hpp"

namespace kvforge::detail {

/// Which data file a hint describes: its generation, codecs and file id, as its header
/// says, and where its records start (the size of its header).
struct hint_identity {
    std::uint32_t generation = 0;
    std::uint64_t fingerprint = 0;
    std::uint32_t file_id = 0;
    std::uint64_t records_start = file_header::size;
};

/// One record a hint lists; key views the hint's bytes during the callback only.
struct hint_entry {
    record_type type = record_type::put;
    unsigned char flags = 0;  ///< a put's record_flag bits
    std::string_view key;
    std::uint32_t value_size = 0;  ///< put
    std::int64_t deadline = 0;     ///< put with record_flag::deadline
    unsigned char tag = 0;         ///< put with record_flag::tag
    std::uint64_t offset = 0;      ///< where the record starts in the data file
    std::uint64_t gap = 0;         ///< bytes between the previous listed record and this one

    /// The bytes of the record in the data file.
    [[nodiscard]] std::uint64_t record_size() const noexcept { return record_size_with_key(key.size()); }

    /// The same for a key of key_size bytes, whatever key views.
    [[nodiscard]] std::uint64_t record_size_with_key(std::size_t key_size) const noexcept {
        switch (type) {
            case record_type::put:
                return put_header_size(key_size, value_size, flags) + key_size + value_size;
            case record_type::erase:
                return erase_record_size(key_size);
            default:
                return 5;
        }
    }
};

/// Appends a hint file's header for data, with room for the body's two counts after it.
inline void append_hint_header(std::string& out, const hint_identity& data) {
    file_header header;
    header.kind = file_kind::hint;
    header.generation = data.generation;
    header.order = data.generation;
    header.codec_fingerprint = data.fingerprint;
    header.file_id = data.file_id;
    const std::size_t at = out.size();
    out.resize(at + file_header::size + 16);
    header.encode(out.data() + at);
}

/// Writes the body's counts (bytes covered, entries) at `at`, the 16 bytes after the header.
inline void put_hint_counts(char* at, std::uint64_t covered_end, std::uint64_t entries) noexcept {
    file_header::put_le64(at, covered_end);
    file_header::put_le64(at + 8, entries);
}

/// Appends a hint's trailer: the CRC-32C of the body, given as crc.
inline void append_hint_trailer(std::string& out, std::uint32_t crc) {
    char trailer[4];
    file_header::put_le32(trailer, crc);
    out.append(trailer, 4);
}

/// Encodes hint entries one after another, in file order: each shares its key's prefix
/// with the entry before and gives its offset as the gap after that entry's record.
class hint_entry_encoder {
public:
    explicit hint_entry_encoder(std::uint64_t records_start) noexcept : end_(records_start) {}

    /// Appends the entry of the record entry describes (its offset at or after the previous one's end).
    void append(std::string& out, const hint_entry& entry) {
        std::size_t shared = 0;
        const std::size_t most = std::min(entry.key.size(), previous_key_.size());
        while (shared < most && entry.key[shared] == previous_key_[shared]) ++shared;
        char fields[1 + 3 * max_varint_size + 9];
        char* p = fields;
        *p++ = static_cast<char>(static_cast<unsigned char>(entry.type) | entry.flags);
        p = put_varint(p, shared);
        p = put_varint(p, entry.key.size() - shared);
        out.append(fields, static_cast<std::size_t>(p - fields));
        out.append(entry.key.substr(shared));
        p = fields;
        if (entry.type == record_type::put) {
            p = put_varint(p, entry.value_size);
            if ((entry.flags & record_flag::deadline) != 0) {
                file_header::put_le64(p, static_cast<std::uint64_t>(entry.deadline));
                p += 8;
            }
            if ((entry.flags & record_flag::tag) != 0) *p++ = static_cast<char>(entry.tag);
        }
        p = put_varint(p, entry.offset - end_);
        out.append(fields, static_cast<std::size_t>(p - fields));
        resume_after(entry);
    }

    /// Goes on from entry, the last one listed so far (entries listed without append()).
    void resume_after(const hint_entry& entry) {
        previous_key_.assign(entry.key);
        end_ = entry.offset + entry.record_size();
    }

private:
    std::string previous_key_;
    std::uint64_t end_;  // the end of the previous record listed
};

/// Builds a hint file's bytes: add() records in file order, then finish(). For a data
/// file whose entry count is known only at the end (compaction's output), and the active
/// segment's, whose entries are gathered as its records are appended.
///
/// The bytes go in blocks of block_size rather than one buffer: one that grew by doubling
/// would copy itself at each step and leave the smaller buffers behind as free heap the
/// process still holds, several megabytes at a segment of 32 MiB, at the size where a
/// load's peak memory is counted. A full block may be handed out to be written to the
/// file (full_block, release_full_block), and its buffer is reused for the next: so
/// the active segment's hint holds a block or two in memory, whatever the segment's size.
class hint_builder {
public:
    static constexpr std::size_t block_size = std::size_t{64} << 10;

    explicit hint_builder(const hint_identity& data) : encoder_(data.records_start) {
        append_hint_header(entry_bytes_, data);
        append_bytes(entry_bytes_);
    }

    /// Lists the record entry describes (its offset at or after the previous one's end).
    void add(const hint_entry& entry) {
        entry_bytes_.clear();
        encoder_.append(entry_bytes_, entry);
        append_bytes(entry_bytes_);
        ++entries_;
    }

    /// Lists `count` entries already encoded one after another (the entries of a hint
    /// read_hint accepted, as it holds them), the last of them `last`: a copy of their
    /// bytes, where add() would decode and encode each again. Only before any add().
    void add_encoded(std::string_view encoded, std::uint64_t count, const hint_entry& last) {
        if (count == 0) return;
        append_bytes(encoded);
        entries_ += count;
        encoder_.resume_after(last);
    }

    /// Whether the oldest block held is full and followed by another, so that it can be
    /// handed out.
    [[nodiscard]] bool has_full_block() const noexcept { return blocks_.size() > 1; }

    /// The oldest block held, full (has_full_block()): the file's bytes from handed_out().
    /// The first block's counts are left zero; finish() gives them.
    [[nodiscard]] std::string_view full_block() const noexcept { return blocks_.front(); }

    /// Forgets the oldest block, written out by the caller; its buffer takes the next bytes.
    void release_full_block() {
        std::string& block = blocks_.front();
        entries_crc_ = crc32c_extend(entries_crc_, entries_in(block));
        handed_out_ += block.size();
        spare_ = std::move(block);
        spare_.clear();
        blocks_.erase(blocks_.begin());
    }

    /// How many bytes of the file were handed out in full blocks.
    [[nodiscard]] std::uint64_t handed_out() const noexcept { return handed_out_; }

    /// The finished file, covering the data file up to covered_end: the pieces to write one
    /// after another from offset handed_out(), views of the builder's blocks; when blocks
    /// were handed out, counts() to write over the zeros at file_header::size. Called once.
    [[nodiscard]] std::vector<std::string_view> finish(std::uint64_t covered_end) {
        put_hint_counts(counts_.data(), covered_end, entries_);
        if (handed_out_ == 0) std::copy(counts_.begin(), counts_.end(), blocks_.front().data() + file_header::size);
        // The body is the counts then the entries: the entries' CRC is known before the counts are.
        std::uint32_t crc = entries_crc_;
        std::uint64_t entries_size = handed_out_ == 0 ? 0 : handed_out_ - file_header::size - counts_.size();
        for (const std::string& block : blocks_) {
            const std::string_view entries = entries_in(block);
            crc = crc32c_extend(crc, entries);
            entries_size += entries.size();
        }
        crc = crc32c_combine(crc32c(std::string_view(counts_.data(), counts_.size())), crc, entries_size);
        entry_bytes_.clear();
        append_hint_trailer(entry_bytes_, crc);
        append_bytes(entry_bytes_);
        return {blocks_.begin(), blocks_.end()};
    }

    /// The body's counts (bytes covered, entries), once finish() gave them.
    [[nodiscard]] std::string_view counts() const noexcept { return {counts_.data(), counts_.size()}; }

private:
    void append_bytes(std::string_view bytes) {
        while (!bytes.empty()) {
            if (blocks_.empty() || blocks_.back().size() == block_size) {
                blocks_.push_back(std::exchange(spare_, {}));
                blocks_.back().reserve(block_size);
            }
            std::string& last = blocks_.back();
            const std::size_t part = std::min(bytes.size(), block_size - last.size());
            last.append(bytes.substr(0, part));
            bytes.remove_prefix(part);
        }
    }

    /// The entries' bytes in a block, the oldest held: the first block of the file begins
    /// with the header and the counts, which it is never smaller than.
    [[nodiscard]] std::string_view entries_in(const std::string& block) const noexcept {
        const bool first = handed_out_ == 0 && &block == &blocks_.front();
        return std::string_view(block).substr(first ? file_header::size + counts_.size() : 0);
    }

    std::vector<std::string> blocks_;  // each full but the last
    std::string spare_;                // a block handed out, its buffer kept for the next
    std::string entry_bytes_;          // the bytes of the entry being added, reused
    hint_entry_encoder encoder_;
    std::uint64_t entries_ = 0;
    std::uint64_t handed_out_ = 0;   // bytes in the blocks handed out
    std::uint32_t entries_crc_ = 0;  // the CRC-32C of the entries in those blocks
    std::array<char, 16> counts_{};
};

/// The entry count in the head of a hint file (its header and the body's two counts, or
/// more) written for data, or 0 when the head does not match. Only a bound for sizing
/// the index before the hint is read in full: no count above what a file of hint_size
/// bytes can list (an entry takes at least 4 bytes) is returned.
[[nodiscard]] inline std::uint64_t hint_entry_count(std::string_view head, std::uint64_t hint_size,
                                                    const hint_identity& data) noexcept {
    file_header header;
    if (head.size() < file_header::size + 16 || hint_size < file_header::size + 16 + 4 ||
        file_header::decode(head, file_kind::hint, header) != file_header::problem::none ||
        header.version != format_version || header.generation != data.generation ||
        header.codec_fingerprint != data.fingerprint || header.file_id != data.file_id) {
        return 0;
    }
    const std::uint64_t most = (hint_size - file_header::size - 16 - 4) / 4;
    return std::min(file_header::get_le64(head.data() + file_header::size + 8), most);
}

/// The encoded entries of a hint file whose bytes read_hint accepted: what lies between
/// the body's counts and the CRC.
[[nodiscard]] inline std::string_view hint_encoded_entries(std::string_view hint) noexcept {
    return hint.substr(file_header::size + 16, hint.size() - file_header::size - 16 - 4);
}

/// Gathers a hint's puts into runs of up to `capacity`, each entry with a copy of its key,
/// so that whoever receives a run can insert its keys together (hash_table::upsert_many
/// overlaps their cache misses). An entry that is not a put ends the run before it and is
/// handed on alone, so entries are handed on in the order they came.
class hint_put_batch {
public:
    static constexpr std::size_t capacity = 128;

    /// Takes entry: a put joins the run (handed to apply_puts(std::span<const hint_entry>)
    /// once full); anything else goes to apply_other(entry) after the run is handed on.
    template <class ApplyPuts, class ApplyOther>
    void push(const hint_entry& entry, ApplyPuts&& apply_puts, ApplyOther&& apply_other) {
        if (entry.type != record_type::put) {
            flush(apply_puts);
            apply_other(entry);
            return;
        }
        // Field by field: a copy of the whole entry, just written by the parser, was
        // measured to stall on the stores it reads from.
        hint_entry& held = entries_[size_];
        keys_[size_].assign(entry.key);
        held.key = keys_[size_];
        held.type = entry.type;
        held.flags = entry.flags;
        held.value_size = entry.value_size;
        held.deadline = entry.deadline;
        held.tag = entry.tag;
        held.offset = entry.offset;
        held.gap = entry.gap;
        if (++size_ == capacity) flush(apply_puts);
    }

    /// Hands on the puts still held.
    template <class ApplyPuts>
    void flush(ApplyPuts&& apply_puts) {
        if (size_ == 0) return;
        const std::span<const hint_entry> run(entries_.data(), size_);
        size_ = 0;
        apply_puts(run);
    }

private:
    std::array<hint_entry, capacity> entries_;
    std::array<std::string, capacity> keys_;  // reused: each grows to the longest key, then stays
    std::size_t size_ = 0;
};

/// What check_hint() found in a hint file: the bytes of its data file it covers (0 when
/// the hint was not written for that data file or fails a check) and how many entries it lists.
struct hint_check {
    std::uint64_t covered = 0;
    std::uint64_t entries = 0;
    /// When the hint was written for that data file and passes its checks but covers
    /// more bytes than the file holds: those bytes (covered stays 0). A hint is written only
    /// once the bytes it covers are durable, so the file lost bytes it had: damage, not a
    /// torn write.
    std::uint64_t proven_end = 0;
    /// With proven_end: the entries whose records lie wholly or partly past the file's end.
    std::uint64_t entries_beyond = 0;

    [[nodiscard]] bool passed() const noexcept { return covered != 0; }
};

namespace hint_parse {

/// Walks the entries of a hint body (after the header: the two counts, the entries; no
/// CRC), which lists `entries` entries covering the data file up to covered, checking
/// each; with Deliver, calls on_entry(const hint_entry&) for each, its key rebuilt.
/// False at the first entry that fails a check.
template <bool Deliver, class OnEntry>
bool walk(std::string_view body, std::uint64_t records_start, std::uint64_t covered, std::uint64_t entries,
          OnEntry&& on_entry) {
    const char* const end = body.data() + body.size();
    const char* p = body.data() + 16;
    std::uint64_t record_end = records_start;
    std::uint64_t key_size = 0;
    std::string key;
    for (std::uint64_t i = 0; i < entries; ++i) {
        if (p == end) return false;
        hint_entry entry;
        const auto type_byte = static_cast<unsigned char>(*p++);
        entry.type = static_cast<record_type>(type_byte & 0x07);
        entry.flags = static_cast<unsigned char>(type_byte & ~0x07);
        const bool put = entry.type == record_type::put;
        if ((!put && entry.type != record_type::erase && entry.type != record_type::clear) ||
            (entry.flags & ~record_flag::known) != 0 || (!put && entry.flags != 0)) {
            return false;
        }
        std::uint64_t shared = 0;
        std::uint64_t rest = 0;
        p = get_varint(p, end, shared);
        if (p != nullptr) p = get_varint(p, end, rest);
        if (p == nullptr || shared > key_size || rest > static_cast<std::uint64_t>(end - p) ||
            shared + rest > max_key_size || (entry.type == record_type::clear && shared + rest != 0)) {
            return false;
        }
        key_size = shared + rest;
        if constexpr (Deliver) {
            key.resize(static_cast<std::size_t>(shared));
            key.append(p, static_cast<std::size_t>(rest));
        }
        p += rest;
        if (put) {
            std::uint64_t value_size = 0;
            p = get_varint(p, end, value_size);
            if (p == nullptr || value_size > max_value_size ||
                static_cast<std::size_t>(end - p) < flag_fields_size(entry.flags)) {
                return false;
            }
            entry.value_size = static_cast<std::uint32_t>(value_size);
            if ((entry.flags & record_flag::deadline) != 0) {
                entry.deadline = static_cast<std::int64_t>(file_header::get_le64(p));
                p += 8;
            }
            if ((entry.flags & record_flag::tag) != 0) entry.tag = static_cast<unsigned char>(*p++);
        }
        p = get_varint(p, end, entry.gap);
        // Every record must lie in the covered part of the data file: else a read
        // would go past its end (SIGBUS through a mapping).
        if (p == nullptr || entry.gap > covered - record_end) return false;
        entry.key = key;
        entry.offset = record_end + entry.gap;
        const std::uint64_t record_size = entry.record_size_with_key(static_cast<std::size_t>(key_size));
        if (record_size > covered - entry.offset) return false;
        record_end = entry.offset + record_size;
        if constexpr (Deliver) on_entry(std::as_const(entry));
    }
    return p == end;
}

/// The body of a hint file of at least its header, the counts and the CRC.
[[nodiscard]] inline std::string_view body_of(std::string_view bytes) noexcept {
    return bytes.substr(file_header::size, bytes.size() - file_header::size - 4);
}

}  // namespace hint_parse

/// Checks a hint file's bytes against its data file (identity, and data_size bytes
/// long): its header, CRC and counts, and the structure of every entry, so that a hint
/// that passes delivers all its entries (read_checked_hint) and a bad one changes nothing.
/// Needs only the keys' lengths, not the keys. Reads nothing but bytes, so it may run on
/// any thread.
[[nodiscard]] inline hint_check check_hint(std::string_view bytes, const hint_identity& data, std::uint64_t data_size) {
    file_header header;
    if (file_header::decode(bytes, file_kind::hint, header) != file_header::problem::none ||
        header.version != format_version) {
        return {};
    }
    if (header.generation != data.generation || header.codec_fingerprint != data.fingerprint ||
        header.file_id != data.file_id) {
        return {};
    }
    if (bytes.size() < file_header::size + 16 + 4) return {};
    const std::string_view body = hint_parse::body_of(bytes);
    if (file_header::get_le32(bytes.data() + bytes.size() - 4) != crc32c(body)) return {};
    const std::uint64_t covered = file_header::get_le64(body.data());
    const std::uint64_t entries = file_header::get_le64(body.data() + 8);
    if (covered < data.records_start) return {};
    if (covered > data_size) {
        std::uint64_t beyond = 0;
        const auto count_beyond = [&](const hint_entry& entry) {
            if (entry.offset + entry.record_size() > data_size) ++beyond;
        };
        if (!hint_parse::walk<true>(body, data.records_start, covered, entries, count_beyond)) return {};
        return {.proven_end = covered, .entries_beyond = beyond};
    }
    if (!hint_parse::walk<false>(body, data.records_start, covered, entries, [](const hint_entry&) {})) return {};
    return {.covered = covered, .entries = entries};
}

/// Calls on_entry(const hint_entry&) for each entry of a hint file's bytes that
/// check_hint() passed as `checked` for data.
template <class OnEntry>
void read_checked_hint(std::string_view bytes, const hint_identity& data, const hint_check& checked,
                       OnEntry&& on_entry) {
    hint_parse::walk<true>(hint_parse::body_of(bytes), data.records_start, checked.covered, checked.entries, on_entry);
}

/// Checks a hint file's bytes against its data file (check_hint), then calls
/// on_start(entry count, bytes covered) once and on_entry(const hint_entry&) for each
/// entry; returns the data file's bytes it covers, or 0 (having called nothing) when the
/// hint was not written for this data file or fails a check.
template <class OnStart, class OnEntry>
std::uint64_t read_hint(std::string_view bytes, const hint_identity& data, std::uint64_t data_size, OnStart&& on_start,
                        OnEntry&& on_entry) {
    const hint_check checked = check_hint(bytes, data, data_size);
    if (!checked.passed()) return 0;
    on_start(checked.entries, checked.covered);
    read_checked_hint(bytes, data, checked, on_entry);
    return checked.covered;
}

}  // namespace kvforge::detail
