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

#include "../error.hpp"
#include "../stats.hpp"
#include "data_file.hpp"
#include "log_format.hpp"

namespace kvforge::detail {

/// One put or erase found in the log; views are valid during the callback only.
struct log_entry {
    record_type type = record_type::put;
    std::uint64_t offset = 0;  ///< where the record starts in the file
    std::uint64_t size = 0;    ///< bytes of the record
    std::string_view key;
    std::string_view value;
};

/// What a scan found besides the records it delivered.
struct log_scan_result {
    std::uint64_t records = 0;        ///< puts and erases delivered
    std::uint64_t overhead_bytes = 0;  ///< bytes of batch headers, which hold no key or value
    std::uint64_t valid_end = 0;      ///< the end of the last intact record
    bool torn_tail = false;           ///< bytes after valid_end hold no intact record
    std::vector<damaged_record> damage;
};

/// The offset of the first intact record in bytes after position from, or npos.
[[nodiscard]] inline std::size_t find_intact_record(std::string_view bytes, std::size_t from) noexcept {
    record_info info;
    for (std::size_t at = from; at + 5 <= bytes.size(); ++at) {
        if (parse_record(bytes.substr(at), info) == parse_status::ok) return at;
    }
    return std::string_view::npos;
}

/// Where to look for intact records after the bad record at position from. A batch
/// cut short before its last operation begins with complete records of its own; those
/// follow nothing, so the search starts after them, and the cut batch is a torn tail.
[[nodiscard]] inline std::size_t search_after_bad_record(std::string_view bytes, std::size_t from) noexcept {
    record_info batch;
    const parse_status status = parse_record(bytes.substr(from), batch);
    // Only a batch running past the end of the bytes can have been cut short; a complete
    // one that fails its checksum is damage, and its count may be what the damage changed.
    if (status != parse_status::incomplete || batch.type != record_type::batch || batch.value_offset == 0) {
        return from + 1;
    }
    std::size_t at = from + batch.value_offset;
    for (std::size_t operations = 0; operations < batch.count; ++operations) {
        record_info inner;
        if (parse_record(bytes.substr(at), inner) != parse_status::ok || inner.type == record_type::batch) {
            // With no complete operation the "batch" may be garbage; a record may start in its header.
            return operations == 0 ? from + 1 : at;
        }
        at += inner.size;
    }
    return from + 1;  // every operation is there, so the batch did not end short: damage
}

/// Calls on_entry(const log_entry&) for every put and erase of the file's bytes in
/// [begin, end), in order; a batch's entries come together, after its checksum passed.
/// Damage before the tail fails the scan with errc::corrupt_record naming the file and
/// offset, unless skip_damage, which records it in result.damage and goes on after it.
template <class IO, class OnEntry>
bool scan_log(const data_file<IO>& file, std::uint64_t begin, std::uint64_t end, bool skip_damage,
              OnEntry&& on_entry, log_scan_result& result, std::error_code& ec) {
    constexpr std::size_t chunk = std::size_t{1} << 20;
    std::string buffer;
    std::uint64_t buffer_start = begin;  // file offset of buffer[0]
    std::size_t position = 0;            // parse position in buffer
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
        const parse_status status = parse_record(rest, info);
        const bool more_in_file = buffer_start + buffer.size() < end;
        if (status == parse_status::incomplete && more_in_file) {
            // Records can be larger than a chunk: ask for enough to finish this one.
            const std::size_t wanted = info.size > rest.size() ? info.size - rest.size() : chunk;
            if (!read_more(wanted)) return false;
            continue;
        }
        const std::uint64_t offset = buffer_start + position;
        if (status == parse_status::ok) {
            bool intact = true;
            if (info.type == record_type::batch) {
                // The batch's checksum passed; its inner records must all parse too.
                std::vector<log_entry> entries;
                std::string_view body = rest.substr(info.value_offset, info.value_size);
                std::uint64_t inner_offset = offset + info.value_offset;
                while (!body.empty() && intact) {
                    record_info inner;
                    intact = parse_record(body, inner) == parse_status::ok && inner.type != record_type::batch;
                    if (!intact) break;
                    entries.push_back({inner.type, inner_offset, inner.size, body.substr(inner.key_offset, inner.key_size),
                                       body.substr(inner.value_offset, inner.value_size)});
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
                on_entry(log_entry{info.type, offset, info.size, rest.substr(info.key_offset, info.key_size),
                                   rest.substr(info.value_offset, info.value_size)});
                ++result.records;
            }
            if (intact) {
                position += info.size;
                result.valid_end = offset + info.size;
                continue;
            }
        }
        // A bad record, or one cut off by the end of the file: is anything intact after it?
        if (more_in_file && !read_more(static_cast<std::size_t>(end - (buffer_start + buffer.size())))) return false;
        const std::size_t next = find_intact_record(buffer, search_after_bad_record(buffer, position));
        if (next == std::string_view::npos) {
            result.torn_tail = true;
            return true;
        }
        result.damage.push_back({file.path(), offset, "damaged record (checksum or structure), intact records follow"});
        if (!skip_damage) {
            fail(ec, errc::corrupt_record,
                 file.path() + ": damaged record at offset " + std::to_string(offset) +
                     " with intact records after it; open with options::salvage to keep the intact ones");
            return false;
        }
        position = next;
    }
    return true;
}

}  // namespace kvforge::detail
