#pragma once
/// \file hint_file.hpp
/// Hint files: every live key with the place of its record, so that reopening a store
/// reads the keys without reading the values.
///
/// A hint file is a file header (kind 'H', the generation and file id of the data file
/// it describes), then three u64 (little-endian): how many bytes of the data file it
/// covers, how many entries follow, and the dead bytes within the covered part; then
/// per entry a varint key size, the key, a varint value size and a varint record
/// offset; then a CRC-32C of everything after the header. A hint that fails any check
/// is ignored and the log is read instead.

#include <fcntl.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>

#include "byte_order.hpp"
#include "crc32c.hpp"
#include "data_file.hpp"
#include "log_format.hpp"

namespace kvforge::detail {

/// Which data file a hint describes: its generation, codecs and file id, as its header says.
struct hint_identity {
    std::uint32_t generation = 0;
    std::uint64_t fingerprint = 0;
    std::uint32_t file_id = 0;
};

/// What a hint file says about its data file.
struct hint_summary {
    std::uint64_t covered_bytes = 0;
    std::uint64_t entries = 0;
    std::uint64_t dead_bytes = 0;
};

/// Appends a hint file's header for data, with room for the summary after it (file_header::size + 24 bytes).
inline void append_hint_header(std::string& out, const hint_identity& data) {
    file_header header;
    header.kind = file_kind::hint;
    header.generation = data.generation;
    header.codec_fingerprint = data.fingerprint;
    header.file_id = data.file_id;
    const std::size_t at = out.size();
    out.resize(at + file_header::size + 24);
    header.encode(out.data() + at);
}

/// Writes the summary of a hint with entries entries at `at`, the 24 bytes after the header.
inline void put_hint_summary(char* at, const hint_summary& summary, std::uint64_t entries) noexcept {
    file_header::put_le64(at, summary.covered_bytes);
    file_header::put_le64(at + 8, entries);
    file_header::put_le64(at + 16, summary.dead_bytes);
}

/// Appends one entry of a hint file.
inline void append_hint_entry(std::string& out, std::string_view key, std::uint64_t value_size,
                              std::uint64_t record_offset) {
    char header[max_varint_size];
    out.append(header, static_cast<std::size_t>(put_varint(header, key.size()) - header));
    out.append(key);
    char numbers[2 * max_varint_size];
    char* p = put_varint(numbers, value_size);
    p = put_varint(p, record_offset);
    out.append(numbers, static_cast<std::size_t>(p - numbers));
}

/// Appends the trailer: the CRC-32C of everything after the header, given as crc.
inline void append_hint_trailer(std::string& out, std::uint32_t crc) {
    char trailer[4];
    file_header::put_le32(trailer, crc);
    out.append(trailer, 4);
}

/// Builds a hint file's bytes in memory; add() each live entry, then finish(). For a data
/// file whose summary is only known at the end (compaction's output as it is written).
class hint_builder {
public:
    explicit hint_builder(const hint_identity& data) { append_hint_header(bytes_, data); }

    void add(std::string_view key, std::uint64_t value_size, std::uint64_t record_offset) {
        append_hint_entry(bytes_, key, value_size, record_offset);
        ++entries_;
    }

    /// The finished file's bytes.
    std::string& finish(const hint_summary& summary) {
        put_hint_summary(bytes_.data() + file_header::size, summary, entries_);
        append_hint_trailer(bytes_, crc32c(std::string_view(bytes_).substr(file_header::size)));
        return bytes_;
    }

private:
    std::string bytes_;
    std::uint64_t entries_ = 0;
};

/// Writes a hint file a block at a time, for a data file whose summary (entries included)
/// is known before its entries: add() each, then finish(). Each full block goes to
/// sink(std::string_view) -> bool, so that the hint of a large store never sits in
/// memory whole (at a million keys it would be about a fifth of a load's peak memory).
template <class Sink>
class hint_writer {
public:
    /// Bytes gathered before they go to the sink.
    static constexpr std::size_t block_size = std::size_t{256} << 10;

    hint_writer(const hint_identity& data, const hint_summary& summary, Sink& sink) : sink_(&sink) {
        bytes_.reserve(block_size + 64);
        append_hint_header(bytes_, data);
        put_hint_summary(bytes_.data() + file_header::size, summary, summary.entries);
        checked_from_ = file_header::size;
    }

    /// Adds an entry; false when the sink failed.
    bool add(std::string_view key, std::uint64_t value_size, std::uint64_t record_offset) {
        append_hint_entry(bytes_, key, value_size, record_offset);
        if (bytes_.size() < block_size) return true;
        take_into_crc();
        return write_out();
    }

    /// Writes what is left and the trailer; false when the sink failed.
    bool finish() {
        take_into_crc();
        append_hint_trailer(bytes_, crc_);
        return write_out();
    }

private:
    void take_into_crc() noexcept { crc_ = crc32c_extend(crc_, std::string_view(bytes_).substr(checked_from_)); }

    bool write_out() {
        const bool written = (*sink_)(std::string_view(bytes_));
        bytes_.clear();
        checked_from_ = 0;
        return written;
    }

    Sink* sink_;
    std::string bytes_;
    std::size_t checked_from_ = 0;  // where the bytes crc_ covers start in bytes_ (after the header, which it does not cover)
    std::uint32_t crc_ = 0;
};

/// Checks a hint file's bytes, then calls on_start(summary) once and
/// on_entry(key, value_size, record_offset) for each entry; false (having called
/// nothing) when the hint was not written for this data file (generation, codecs and
/// file id) or fails its checksum or structure.
template <class OnStart, class OnEntry>
bool read_hint(std::string_view bytes, const hint_identity& data, hint_summary& summary, OnStart&& on_start,
               OnEntry&& on_entry) {
    file_header header;
    if (file_header::decode(bytes, file_kind::hint, header) != file_header::problem::none) return false;
    if (header.generation != data.generation || header.codec_fingerprint != data.fingerprint ||
        header.file_id != data.file_id) {
        return false;
    }
    if (bytes.size() < file_header::size + 24 + 4) return false;
    const std::string_view body = bytes.substr(file_header::size, bytes.size() - file_header::size - 4);
    if (file_header::get_le32(bytes.data() + bytes.size() - 4) != crc32c(body)) return false;
    summary.covered_bytes = file_header::get_le64(body.data());
    summary.entries = file_header::get_le64(body.data() + 8);
    summary.dead_bytes = file_header::get_le64(body.data() + 16);

    // Check the structure before delivering anything, so a bad hint changes nothing.
    const char* const end = body.data() + body.size();
    for (int pass = 0; pass < 2; ++pass) {
        const char* p = body.data() + 24;
        for (std::uint64_t i = 0; i < summary.entries; ++i) {
            std::uint64_t key_size = 0;
            std::uint64_t value_size = 0;
            std::uint64_t offset = 0;
            p = get_varint(p, end, key_size);
            if (p == nullptr || key_size > max_key_size || key_size > static_cast<std::uint64_t>(end - p)) return false;
            const std::string_view key(p, key_size);
            p += key_size;
            p = get_varint(p, end, value_size);
            if (p != nullptr) p = get_varint(p, end, offset);
            if (p == nullptr || value_size > max_value_size) return false;
            if (pass == 1) on_entry(key, value_size, offset);
        }
        if (p != end) return false;
        if (pass == 0) on_start(std::as_const(summary));
    }
    return true;
}

}  // namespace kvforge::detail
