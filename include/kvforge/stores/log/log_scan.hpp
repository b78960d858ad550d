#pragma once
/// \file log_scan.hpp
/// Reading a data file's records in order: recovery on open, compaction's checks and
/// verify() all walk the log this way.
///
/// A record that does not parse is the start of a torn tail when no intact record
/// follows it anywhere in the file (a crash cut an append short, or the file system
/// zero-filled its end); it is damage when an intact record follows, since then bytes
/// that were once written whole have changed.

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include "../../detail/data_file.hpp"
#include "../../error.hpp"
#include "../../stats.hpp"
#include "record_format.hpp"

namespace kvforge::detail {

/// One put, erase or clear found in the log; views are valid during the callback only.
struct log_entry {
    record_type type = record_type::put;
    unsigned char flags = 0;  ///< a put's record_flag bits
    std::uint64_t offset = 0;  ///< where the record starts in the file
    std::uint64_t size = 0;    ///< bytes of the record
    std::string_view key;
    std::string_view value;
    std::int64_t deadline = 0;  ///< a put's, with record_flag::deadline
    unsigned char tag = 0;      ///< a put's, with record_flag::tag
};

/// How verify() describes bytes at a log's end that hold no whole record: a write that a
/// crash cut short, which a writable open cuts off and a read-only open leaves in place.
inline constexpr std::string_view torn_tail_problem = "incomplete record at the end of the file";

/// What a scan found besides the records it delivered.
struct log_scan_result {
    std::uint64_t records = 0;        ///< puts, erases and clears delivered
    std::uint64_t overhead_bytes = 0;  ///< bytes of batch headers, which hold no key or value
    std::uint64_t valid_end = 0;      ///< the end of the last intact record
    bool torn_tail = false;           ///< bytes after valid_end hold no intact record
    std::vector<damaged_record> damage;
};

/// Bytes of a data file read a piece at a time, for the search after damage: a view of
/// the bytes from an offset on, with at least as many as asked for (fewer only where the
/// file ends), from a buffer that holds about one chunk.
template <class IO>
class file_window {
public:
    static constexpr std::size_t chunk = std::size_t{1} << 20;

    file_window(const data_file<IO>& file, std::uint64_t end) : file_(file), end_(end) {}

    /// The bytes from offset to the end of the window, at least min(wanted, end - offset) of them.
    bool view(std::uint64_t offset, std::size_t wanted, std::string_view& out, std::error_code& ec) {
        const std::uint64_t available = end_ - offset;
        const auto needed = static_cast<std::size_t>(std::min<std::uint64_t>(wanted, available));
        if (offset < start_ || offset + needed > start_ + bytes_.size()) {
            const auto length = static_cast<std::size_t>(std::min<std::uint64_t>(std::max(needed, chunk), available));
            bytes_.resize(length);
            if (!file_.read(offset, bytes_.data(), length, ec)) return false;
            start_ = offset;
        }
        out = std::string_view(bytes_).substr(static_cast<std::size_t>(offset - start_));
        return true;
    }

private:
    const data_file<IO>& file_;
    std::uint64_t end_;
    std::string bytes_;
    std::uint64_t start_ = 0;
};

/// Whether a record of this type may stand in a batch's body: puts and erases only.
[[nodiscard]] constexpr bool inner_record_type(record_type type) noexcept {
    return type == record_type::put || type == record_type::erase;
}

/// Whether the `size` bytes at offset hold a record that matches its checksum, read a
/// chunk at a time: a record that claims to be huge costs no memory to check.
template <class IO>
bool checksum_matches(const data_file<IO>& file, std::uint64_t offset, std::uint64_t size, bool& matches,
                      std::error_code& ec) {
    std::string piece(static_cast<std::size_t>(std::min<std::uint64_t>(size, file_window<IO>::chunk)), '\0');
    if (!file.read(offset, piece.data(), 4, ec)) return false;
    const std::uint32_t stored = file_header::get_le32(piece.data());
    std::uint32_t crc = 0;
    for (std::uint64_t at = offset + 4; at < offset + size;) {
        const auto length = static_cast<std::size_t>(std::min<std::uint64_t>(offset + size - at, piece.size()));
        if (!file.read(at, piece.data(), length, ec)) return false;
        crc = crc32c_extend(crc, std::string_view(piece).substr(0, length));
        at += length;
    }
    matches = crc == stored;
    return true;
}

/// Whether an intact record starts at offset: a whole put, erase or batch record (within
/// the file) whose checksum matches. Small ones are checked in the window, larger ones
/// with checksum_matches.
template <class IO>
bool intact_record_at(file_window<IO>& window, const data_file<IO>& file, std::uint64_t offset, std::uint64_t end,
                      std::uint16_t version, bool& intact, std::error_code& ec) {
    intact = false;
    std::string_view bytes;
    if (!window.view(offset, max_record_header, bytes, ec)) return false;
    record_info info;
    const parse_status status = parse_record(bytes, info, version);
    if (status != parse_status::incomplete || info.size == 0) {
        intact = status == parse_status::ok;
        return true;
    }
    if (info.size > end - offset) return true;  // it would run past the end of the file
    if (info.size <= file_window<IO>::chunk) {
        if (!window.view(offset, info.size, bytes, ec)) return false;
        intact = parse_record(bytes, info, version) == parse_status::ok;
        return true;
    }
    return checksum_matches(file, offset, info.size, intact, ec);
}

/// Where to look for intact records after the bad record at offset bad. A batch cut
/// short by the end of the file begins with complete records of its own; those follow
/// nothing, so the search starts after them, and the cut batch is a torn tail.
template <class IO>
bool search_start_after(file_window<IO>& window, std::uint64_t bad, std::uint64_t end, std::uint16_t version,
                        std::uint64_t& from, std::error_code& ec) {
    from = bad + 1;
    std::string_view bytes;
    if (!window.view(bad, max_record_header, bytes, ec)) return false;
    record_info batch;
    const parse_status status = parse_record(bytes, batch, version);
    // Only a batch running past the end of the file can have been cut short; a complete
    // one that fails its checksum is damage, and its count may be what the damage changed.
    if (status != parse_status::incomplete || batch.type != record_type::batch || batch.value_offset == 0 ||
        batch.size <= end - bad) {
        return true;
    }
    std::uint64_t at = bad + batch.value_offset;
    for (std::size_t operations = 0; operations < batch.count; ++operations) {
        record_info inner;
        if (!window.view(at, max_record_header, bytes, ec)) return false;
        if (parse_record(bytes, inner, version) == parse_status::incomplete && inner.size != 0 && inner.size <= end - at &&
            !window.view(at, inner.size, bytes, ec)) {
            return false;
        }
        if (parse_record(bytes, inner, version) != parse_status::ok || !inner_record_type(inner.type)) {
            // With no complete operation the "batch" may be garbage; a record may start in its header.
            if (operations != 0) from = at;
            return true;
        }
        at += inner.size;
    }
    return true;  // every operation is there, so the batch did not end short: damage
}

/// The offset of the first intact record after the bad record at offset bad, or end
/// when there is none (the bad record starts a torn tail). Reads the file a window at a
/// time, never all of the rest of it at once.
template <class IO>
bool find_intact_record_after(const data_file<IO>& file, std::uint64_t bad, std::uint64_t end, std::uint16_t version,
                              std::uint64_t& found, std::error_code& ec) {
    file_window<IO> window(file, end);
    std::uint64_t at = 0;
    if (!search_start_after(window, bad, end, version, at, ec)) return false;
    for (; at + 5 <= end; ++at) {
        bool intact = false;
        if (!intact_record_at(window, file, at, end, version, intact, ec)) return false;
        if (intact) {
            found = at;
            return true;
        }
    }
    found = end;
    return true;
}

/// Where the damaged record at offset bad, which states its size as size (0: none could
/// be read), ends: there when an intact record starts there or the file ends there, so
/// that the stated size is the record's own; else bad + 1.
template <class IO>
bool damaged_record_end(const data_file<IO>& file, std::uint64_t bad, std::uint64_t size, std::uint64_t end,
                        std::uint16_t version, std::uint64_t& until, std::error_code& ec) {
    until = bad + 1;
    if (size == 0 || size > end - bad) return true;
    bool intact = bad + size == end;
    file_window<IO> window(file, end);
    if (!intact && !intact_record_at(window, file, bad + size, end, version, intact, ec)) return false;
    if (intact) until = bad + size;
    return true;
}

/// Calls on_entry(const log_entry&) for every put, erase and clear of the file's bytes
/// in [begin, end), in order, read by the rules of format `version`; a batch's entries
/// come together, after its checksum passed. Damage before the tail fails the scan with
/// errc::corrupt_record naming the file and offset, unless skip_damage, which records it
/// in result.damage and goes on after it.
template <class IO, class OnEntry>
bool scan_log(const data_file<IO>& file, std::uint64_t begin, std::uint64_t end, std::uint16_t version,
              bool skip_damage, OnEntry&& on_entry, log_scan_result& result, std::error_code& ec) {
    constexpr std::size_t chunk = file_window<IO>::chunk;
    std::string buffer;
    std::uint64_t buffer_start = begin;  // file offset of buffer[0]
    std::size_t position = 0;            // parse position in buffer
    std::uint64_t damaged_until = 0;     // the end of the last damaged record reported
    result.valid_end = begin;

    // Keeps the unparsed bytes and appends at least `wanted` more from the file.
    auto read_more = [&](std::size_t wanted) {
        buffer.erase(0, position);
        buffer_start += position;
        position = 0;
        const std::uint64_t available = end - (buffer_start + buffer.size());
        const auto amount = static_cast<std::size_t>(std::min<std::uint64_t>(available, std::max(wanted, chunk)));
        const std::size_t old_size = buffer.size();
        buffer.resize(old_size + amount);
        return file.read(buffer_start + old_size, buffer.data() + old_size, amount, ec);
    };

    while (buffer_start + position < end) {
        record_info info;
        const std::string_view rest = std::string_view(buffer).substr(position);
        parse_status status = parse_record(rest, info, version);
        const bool more_in_file = buffer_start + buffer.size() < end;
        const std::uint64_t offset = buffer_start + position;
        if (status == parse_status::incomplete && more_in_file) {
            if (info.size == 0) {
                if (!read_more(chunk)) return false;  // not even the header is here yet
                continue;
            }
            // A record longer than the window is loaded only once its checksum is known to
            // match: damage to its size must not make the scan read the rest of the file.
            bool whole = info.size <= end - offset;
            if (whole && info.size > chunk && !checksum_matches(file, offset, info.size, whole, ec)) return false;
            if (whole) {
                if (!read_more(info.size - rest.size())) return false;
                continue;
            }
            status = parse_status::bad;
        }
        if (status == parse_status::ok) {
            bool intact = true;
            if (info.type == record_type::batch) {
                // The batch's checksum passed; its inner records must all parse too.
                std::vector<log_entry> entries;
                std::string_view body = rest.substr(info.value_offset, info.value_size);
                std::uint64_t inner_offset = offset + info.value_offset;
                while (!body.empty() && intact) {
                    record_info inner;
                    intact = parse_record(body, inner, version) == parse_status::ok && inner_record_type(inner.type);
                    if (!intact) break;
                    entries.push_back({inner.type, inner.flags, inner_offset, inner.size,
                                       body.substr(inner.key_offset, inner.key_size),
                                       body.substr(inner.value_offset, inner.value_size), inner.deadline, inner.tag});
                    body.remove_prefix(inner.size);
                    inner_offset += inner.size;
                }
                intact = intact && entries.size() == info.count;
                if (intact) {
                    for (const log_entry& entry : entries) on_entry(entry);
                    result.records += entries.size();
                    result.overhead_bytes += info.value_offset;
                }
            } else {
                on_entry(log_entry{info.type, info.flags, offset, info.size, rest.substr(info.key_offset, info.key_size),
                                   rest.substr(info.value_offset, info.value_size), info.deadline, info.tag});
                ++result.records;
            }
            if (intact) {
                position += info.size;
                result.valid_end = offset + info.size;
                continue;
            }
        }
        // A bad record, or one cut off by the end of the file: is anything intact after it?
        std::uint64_t next = end;
        if (!find_intact_record_after(file, offset, end, version, next, ec)) return false;
        if (next == end) {
            result.torn_tail = true;
            return true;
        }
        // The scan goes on at the next intact record, which may be an operation of a damaged
        // batch: damage found further inside the batch is the same place.
        const bool same_place = offset < damaged_until;
        if (!same_place) {
            result.damage.push_back({file.path(), offset, "damaged record (checksum or structure), intact records follow"});
        }
        if (!skip_damage) {
            fail(ec, errc::corrupt_record,
                 file.path() + ": damaged record at offset " + std::to_string(offset) +
                     " with intact records after it; open with options::salvage to keep the intact ones");
            return false;
        }
        if (!same_place && !damaged_record_end(file, offset, info.size, end, version, damaged_until, ec)) return false;
        buffer.clear();
        buffer_start = next;
        position = 0;
    }
    return true;
}

}  // namespace kvforge::detail
