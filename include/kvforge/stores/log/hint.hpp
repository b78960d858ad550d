#pragma once
/// \file hint.hpp
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

#include <cstdint>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>

#include "../../detail/byte_order.hpp"
#include "../../detail/crc32c.hpp"
#include "../../detail/data_file.hpp"
#include "record_format.hpp"

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

/// Builds a hint file's bytes; add() each live entry, then finish().
class hint_builder {
public:
    explicit hint_builder(const hint_identity& data) {
        file_header header;
        header.kind = file_kind::hint;
        header.generation = data.generation;
        header.codec_fingerprint = data.fingerprint;
        header.file_id = data.file_id;
        bytes_.resize(file_header::size + 24);
        header.encode(bytes_.data());
    }

    void add(std::string_view key, std::uint64_t value_size, std::uint64_t record_offset) {
        char header[max_varint_size];
        bytes_.append(header, static_cast<std::size_t>(put_varint(header, key.size()) - header));
        bytes_.append(key);
        char numbers[2 * max_varint_size];
        char* p = put_varint(numbers, value_size);
        p = put_varint(p, record_offset);
        bytes_.append(numbers, static_cast<std::size_t>(p - numbers));
        ++entries_;
    }

    /// The finished file's bytes.
    std::string& finish(const hint_summary& summary) {
        file_header::put_le64(bytes_.data() + file_header::size, summary.covered_bytes);
        file_header::put_le64(bytes_.data() + file_header::size + 8, entries_);
        file_header::put_le64(bytes_.data() + file_header::size + 16, summary.dead_bytes);
        const std::uint32_t crc = crc32c(std::string_view(bytes_).substr(file_header::size));
        char trailer[4];
        file_header::put_le32(trailer, crc);
        bytes_.append(trailer, 4);
        return bytes_;
    }

private:
    std::string bytes_;
    std::uint64_t entries_ = 0;
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
