#pragma once
// Opening and recovering a store from arbitrary file bytes: the harness behind
// fuzz/open_fuzzer.cpp, also replayed by tests/reliability/fuzz_regression_test.cpp.
//
// The input's first byte chooses a mode; the rest becomes the store's files:
//   bit 0  repair checksums: give the data file a valid header, recompute the CRC of
//          every record the bytes hold (a batch's inner records first) and the hint's,
//          so that mutations reach the parsing behind the checksums
//   bit 1  a hint file too: the next two bytes (little-endian) are the data file's
//          length, the bytes after the data file are the hint file
//   bit 2  sorted_index (else hash_index)
//   bit 3  mmap_file (else file_log)
// The store is opened with default options and with options::salvage. Without a hint,
// the outcome must equal that of a reference recovery written here from
// docs/format.md: the same error (with the offset) or the same contents and cut tail.
// The reference reads format 1 (which the repair mode writes); for a format 2 header
// only the properties below are checked.
// With a hint, a read may give only a value some intact record in the file holds for
// that key, or errc::corrupt_record. Always: open fails only with the documented codes,
// verify() works, and closing and reopening shows the same contents. A violation aborts.

#include <kvforge/kvforge.hpp>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include "../tests/support/file_bytes.hpp"
#include "scratch_dir.hpp"

namespace kvforge_fuzz {

namespace open_detail {

namespace kd = kvforge::detail;
using kvforge_test::write_file;

constexpr std::size_t header_size = 32;
constexpr std::uint64_t max_key = std::uint64_t{1} << 16;
constexpr std::uint64_t max_value = std::uint64_t{64} << 20;

inline std::uint32_t le32(const char* p) {
    std::uint32_t v = 0;
    for (int i = 3; i >= 0; --i) v = (v << 8) | static_cast<unsigned char>(p[i]);
    return v;
}

inline void put_le32(char* p, std::uint32_t v) {
    for (int i = 0; i < 4; ++i) p[i] = static_cast<char>(v >> (8 * i));
}

inline void put_le64(char* p, std::uint64_t v) {
    for (int i = 0; i < 8; ++i) p[i] = static_cast<char>(v >> (8 * i));
}

/// One put or erase of a record.
struct op {
    bool put = true;
    std::string key;
    std::string value;
};

/// A record read by the reference parser, written from docs/format.md.
struct record {
    std::size_t size = 0;
    bool checksum_ok = false;  ///< sizes within the limits and the file, and the CRC matches
    bool applicable = false;   ///< and, for a batch, its body is exactly `count` intact puts and erases
    std::vector<op> ops;
    std::size_t body = 0;         ///< batch: offset of the body from the record's start
    bool batch_past_end = false;  ///< a readable batch header whose body runs past the end of the bytes
    std::uint64_t count = 0;      ///< batch: operations its header announces
};

/// Parses the record at bytes[0..]. When repair is given (bytes.data() itself, writable),
/// rewrites the record's CRC (a batch's inner records first) whenever its structure is readable.
inline record parse(std::string_view bytes, char* repair, bool inner = false) {
    record r;
    if (bytes.size() < 5) return r;
    const char* const end = bytes.data() + bytes.size();
    const char* p = bytes.data() + 5;
    std::uint64_t first = 0;
    std::uint64_t second = 0;
    const auto type = static_cast<unsigned char>(bytes[4]);
    if (type < 1 || type > 3 || (inner && type == 3)) return r;
    p = kd::get_varint(p, end, first);
    if (p != nullptr && type != 2) p = kd::get_varint(p, end, second);
    if (p == nullptr) return r;
    const auto head = static_cast<std::size_t>(p - bytes.data());
    if (head != 5 + kd::varint_size(first) + (type == 2 ? 0 : kd::varint_size(second))) return r;  // not shortest
    std::uint64_t body = 0;
    if (type == 3) {
        if (second > (std::uint64_t{1} << 40) || first == 0 || first > second / 6) return r;
        body = second;
    } else {
        if (first > max_key || second > max_value) return r;
        body = first + second;
    }
    r.body = head;
    r.count = first;
    if (body > bytes.size() - head) {
        r.batch_past_end = type == 3;
        return r;
    }
    r.size = head + static_cast<std::size_t>(body);
    if (type == 3) {
        // The batch's body: its records one after another, each checked on its own.
        std::size_t at = head;
        bool inner_ok = true;
        while (at < r.size) {
            const record one = parse(bytes.substr(at, r.size - at), repair ? repair + at : nullptr, true);
            if (!one.applicable) {
                inner_ok = false;
                break;
            }
            r.ops.push_back(one.ops.front());
            at += one.size;
        }
        r.applicable = inner_ok && r.ops.size() == first;
    } else {
        const std::string_view key = bytes.substr(head, first);
        r.ops.push_back({type == 1, std::string(key), std::string(bytes.substr(head + first, second))});
        r.applicable = true;
    }
    if (repair) put_le32(repair, kd::crc32c({repair + 4, r.size - 4}));
    r.checksum_ok = le32(bytes.data()) == kd::crc32c(bytes.substr(4, r.size - 4));
    r.applicable = r.applicable && r.checksum_ok;
    if (!r.checksum_ok) r.ops.clear();
    return r;
}

inline std::uint64_t string_fingerprint() {
    return kd::codec_fingerprint(kvforge::codec<std::string>::name(), kvforge::codec<std::string>::name());
}

/// Gives data a valid header and every record it holds a valid CRC.
inline void repair_data(std::string& data) {
    if (data.size() < header_size) return;
    std::memcpy(data.data(), "kvforgeL", 8);
    put_le32(data.data() + 8, 1);  // version 1, flags 0
    put_le64(data.data() + 16, string_fingerprint());
    put_le32(data.data() + 24, 1);
    put_le32(data.data() + 28, kd::crc32c({data.data(), 28}));
    // Where a record is readable, make it intact and go on after it; else try the next byte.
    std::size_t at = header_size;
    while (at + 5 <= data.size()) {
        const record r = parse(std::string_view(data).substr(at), data.data() + at);
        at += r.checksum_ok ? r.size : 1;
    }
}

/// Gives a hint file a valid header (generation 1, and the data file's id) and CRC.
inline void repair_hint(std::string& hint, const std::string& data) {
    if (hint.size() < header_size + 28) return;
    std::memcpy(hint.data(), "kvforgeH", 8);
    put_le32(hint.data() + 8, 1);
    if (data.size() >= 16) std::memcpy(hint.data() + 12, data.data() + 12, 4);
    put_le64(hint.data() + 16, string_fingerprint());
    put_le32(hint.data() + 24, 1);
    put_le32(hint.data() + 28, kd::crc32c({hint.data(), 28}));
    put_le32(hint.data() + hint.size() - 4,
             kd::crc32c(std::string_view(hint).substr(header_size, hint.size() - header_size - 4)));
}

using contents = std::map<std::string, std::string>;

/// What recovery should make of a data file, per docs/format.md.
struct expected_recovery {
    std::error_code error;
    std::size_t error_offset = 0;
    contents state;
    std::uint64_t cut = 0;
    /// A format 2 header, or with salvage a damaged one (which salvage reads past, finding
    /// the records one by one): the reference, of format 1, predicts nothing.
    bool unpredicted = false;
};

inline expected_recovery recover(std::string_view data, bool salvage) {
    expected_recovery out;
    // An empty data file is a leftover (a crash between its creation and its header):
    // the open passes it by, and the store is empty. (With a hint that lists records of
    // it, the open fails with corrupt_record, which open_files accepts where a hint is.)
    if (data.empty()) return out;
    if (data.size() < header_size) {
        out.error = kvforge::errc::corrupt_header;
    } else if (data.substr(0, 8) != "kvforgeL") {
        out.error = kvforge::errc::not_a_store;
    } else if (le32(data.data() + 28) != kd::crc32c(data.substr(0, 28))) {
        out.error = kvforge::errc::corrupt_header;
    } else if (le32(data.data() + 8) == 2) {
        out.unpredicted = true;
        return out;
    } else if ((le32(data.data() + 8) & 0xffff) > 2 || (le32(data.data() + 8) >> 16) != 0) {
        out.error = kvforge::errc::unsupported_version;
    } else if ((le32(data.data() + 16) | std::uint64_t{le32(data.data() + 20)} << 32) != string_fingerprint()) {
        out.error = kvforge::errc::codec_mismatch;
    }
    // Salvage reads past a damaged header (cut short, without the magic, failing its
    // checksum), finding the records one by one.
    if (salvage && (out.error == kvforge::errc::corrupt_header || out.error == kvforge::errc::not_a_store)) {
        out.error = {};
        out.unpredicted = true;
        return out;
    }
    if (out.error) return out;
    std::size_t at = header_size;
    std::size_t valid_end = header_size;  // the end of the last record applied
    while (at < data.size()) {
        const record r = parse(data.substr(at), nullptr);
        if (r.applicable) {
            for (const op& o : r.ops) {
                if (o.put) {
                    out.state[o.key] = o.value;
                } else {
                    out.state.erase(o.key);
                }
            }
            at += r.size;
            valid_end = at;
            continue;
        }
        // A torn tail when no record with a good checksum follows, cut after the last record
        // applied (with salvage, skipped damage before it goes too); damage otherwise.
        std::size_t next = at + 1;
        const record bad = parse(data.substr(at), nullptr);
        if (bad.batch_past_end) {
            // A batch cut short by the end of the file: its complete operations follow nothing.
            std::size_t op_at = at + bad.body;
            std::uint64_t complete = 0;
            for (; complete < bad.count; ++complete) {
                const record one = parse(data.substr(op_at), nullptr, true);
                if (!one.applicable) break;
                op_at += one.size;
            }
            if (complete > 0 && complete < bad.count) next = op_at;
        }
        while (next + 5 <= data.size() && !parse(data.substr(next), nullptr).checksum_ok) ++next;
        if (next + 5 > data.size()) {
            out.cut = data.size() - valid_end;
            break;
        }
        if (!salvage) {
            out.error = kvforge::errc::corrupt_record;
            out.error_offset = at;
            return out;
        }
        at = next;
    }
    return out;
}

/// Every key a store could know from these files, with every value an intact put gives it.
inline std::map<std::string, std::set<std::string>> possible_values(std::string_view data, std::string_view hint) {
    std::map<std::string, std::set<std::string>> values;
    values[""];
    for (std::size_t at = header_size; at + 5 <= data.size(); ++at) {
        for (const op& o : parse(data.substr(at), nullptr).ops) {
            if (o.put) {
                values[o.key].insert(o.value);
            } else {
                values[o.key];
            }
        }
    }
    // A hint's keys, read as far as they are readable.
    const char* p = hint.size() > header_size + 24 ? hint.data() + header_size + 24 : nullptr;
    const char* const end = hint.data() + hint.size();
    while (p != nullptr && p < end) {
        std::uint64_t key_size = 0;
        p = kd::get_varint(p, end, key_size);
        if (p == nullptr || key_size > static_cast<std::uint64_t>(end - p)) break;
        values[std::string(p, key_size)];
        p += key_size;
        std::uint64_t ignored = 0;
        p = kd::get_varint(p, end, ignored);
        if (p != nullptr) p = kd::get_varint(p, end, ignored);
    }
    return values;
}

/// What a store says about each key: its value, nothing, or an error.
using observations = std::map<std::string, std::string>;

template <class Store>
observations observe(const Store& db, const std::map<std::string, std::set<std::string>>& keys, bool with_hint) {
    observations seen;
    for (const auto& [key, values] : keys) {
        std::error_code ec;
        const std::optional<std::string> got = db.get(key, ec);
        if (ec) {
            if (ec != kvforge::errc::corrupt_record) finding("get failed with '" + ec.message() + "'");
            seen[key] = "<corrupt_record>";
        } else if (got) {
            if (with_hint && values.count(*got) == 0) finding("get returned a value no intact record holds");
            seen[key] = "=" + *got;
        }
    }
    if constexpr (Store::index_policy::ordered) {
        std::error_code ec;
        for (const auto& [key, value] : db.scan("", "\xff\xff", ec)) {
            if (seen.count(key) == 0 || seen.at(key) != "=" + value) finding("scan and get disagree");
        }
        if (ec && ec != kvforge::errc::corrupt_record) finding("scan failed with '" + ec.message() + "'");
    }
    return seen;
}

inline bool documented_open_error(const std::error_code& ec) {
    return ec == kvforge::errc::not_a_store || ec == kvforge::errc::corrupt_header ||
           ec == kvforge::errc::corrupt_record || ec == kvforge::errc::unsupported_version ||
           ec == kvforge::errc::codec_mismatch;
}

template <class Store>
void open_files(std::string_view data, std::optional<std::string_view> hint, bool salvage) {
    const std::filesystem::path dir = scratch().fresh_store();
    write_file(dir / "data-0000000001.kvlog", data);
    if (hint) write_file(dir / "data-0000000001.kvhint", *hint);

    kvforge::options opts;
    opts.salvage = salvage;
    Store db;
    std::error_code ec;
    db.open(dir.string(), opts, {}, ec);
    const expected_recovery expected = recover(data, salvage);
    if (ec) {
        const std::string message = kvforge::last_error_message();
        if (!documented_open_error(ec)) finding("open failed with '" + ec.message() + "': " + message);
        if (message.find("data-0000000001.kvlog") == std::string::npos) finding("open's message names no file");
        if (ec == kvforge::errc::corrupt_record && !hint && !expected.unpredicted) {
            if (message.find("offset " + std::to_string(expected.error_offset) + " ") == std::string::npos) {
                finding("open names another offset than " + std::to_string(expected.error_offset) + ": " + message);
            }
        }
        if (db.is_open()) finding("open failed but left the store open");
        // With a hint the scan starts where the hint ends, so it may meet damage the reference
        // does not, or miss damage the reference meets; the header's errors still agree.
        if ((!hint || ec != kvforge::errc::corrupt_record) && !expected.unpredicted && ec != expected.error) {
            finding("open failed with '" + ec.message() + "', expected '" + expected.error.message() + "'");
        }
        return;
    }
    if (expected.error && (!hint || expected.error != kvforge::errc::corrupt_record)) {
        finding("open succeeded, expected '" + expected.error.message() + "'");
    }
    const auto keys = possible_values(data, hint.value_or(std::string_view()));
    const observations first = observe(db, keys, hint.has_value());
    if (!hint && !expected.unpredicted) {
        if (db.stats().recovered_bytes_cut != expected.cut) {
            finding("open cut " + std::to_string(db.stats().recovered_bytes_cut) + " bytes, the reference " +
                    std::to_string(expected.cut));
        }
        observations want;
        for (const auto& [key, value] : expected.state) want[key] = "=" + value;
        if (first != want || db.size() != expected.state.size()) finding("contents differ from the reference recovery");
    }
    const kvforge::verify_report report = db.verify(ec);
    if (ec) finding("verify failed: " + kvforge::last_error_message());
    if (!hint && !report.ok()) finding("verify finds damage in a recovered log");
    db.close(ec);
    if (ec) finding("close failed: " + kvforge::last_error_message());

    Store again;
    again.open(dir.string(), kvforge::options{}, {}, ec);
    if (ec) finding("reopening failed: " + kvforge::last_error_message());
    if (observe(again, keys, hint.has_value()) != first) finding("reopening shows other contents");
}

template <class Store>
void open_both_ways(std::string_view data, std::optional<std::string_view> hint) {
    open_files<Store>(data, hint, false);
    open_files<Store>(data, hint, true);
}

}  // namespace open_detail

/// Runs one input (see the top of this file); aborts on a finding.
inline void run_open_input(const std::uint8_t* input, std::size_t size) {
    using namespace open_detail;
    if (size == 0) return;
    const unsigned mode = input[0];
    std::string_view rest(reinterpret_cast<const char*>(input) + 1, size - 1);
    std::string data(rest);
    std::optional<std::string> hint;
    if (mode & 2U) {
        if (rest.size() < 2) return;
        const std::size_t length =
            static_cast<unsigned char>(rest[0]) | static_cast<std::size_t>(static_cast<unsigned char>(rest[1])) << 8;
        rest.remove_prefix(2);
        data = std::string(rest.substr(0, length));
        hint = std::string(rest.substr(std::min(length, rest.size())));
    }
    if (mode & 1U) {
        repair_data(data);
        if (hint) repair_hint(*hint, data);
    }
    using namespace kvforge;
    const std::optional<std::string_view> hint_view = hint ? std::optional<std::string_view>(*hint) : std::nullopt;
    switch ((mode >> 2) & 3U) {
        case 0:
            open_both_ways<store<std::string, std::string, file_log, hash_index>>(data, hint_view);
            break;
        case 1:
            open_both_ways<store<std::string, std::string, file_log, sorted_index>>(data, hint_view);
            break;
        case 2:
            open_both_ways<store<std::string, std::string, mmap_file, hash_index>>(data, hint_view);
            break;
        default:
            open_both_ways<store<std::string, std::string, mmap_file, sorted_index>>(data, hint_view);
            break;
    }
}

}  // namespace kvforge_fuzz
