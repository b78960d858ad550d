// Bit rot: a store whose files changed under it must never return a wrong value.
//
// Every bit of a small store's files is flipped in turn, each time on a fresh copy of
// the files, and a larger store gets random single-bit flips and multi-byte overwrites.
// Each damaged copy is opened with and without its hint file, with default options and
// with options::salvage, and what the store says is checked against what the damage
// explains, computed from the layout of the undamaged data file:
//   - open fails only with the documented code (not_a_store, corrupt_header,
//     corrupt_record), its message naming the file and, for a record, its offset;
//   - or it opens, and every key reads as its true value, as its value in a shorter
//     history only where a torn tail was cut or salvage dropped the damaged records, or
//     as errc::corrupt_record naming the record's offset: never as any other value;
//   - verify() names the first damaged record whenever damage stays in the file.
//
// KVFORGE_TEST_ROT_TRIALS sets the number of random trials on the larger store per
// configuration (default 100); KVFORGE_TEST_SEED replays a run (the seed is printed on failure).

#include <catch2/catch.hpp>

#include <kvforge/kvforge.hpp>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <system_error>
#include <vector>

#include "../support/file_bytes.hpp"
#include "../support/temp_dir.hpp"

namespace {

using kvforge_test::read_file;
using kvforge_test::write_file;

namespace fs = std::filesystem;
namespace kd = kvforge::detail;
using kvforge_test::temp_dir;

using hashed_log_store = kvforge::store<std::string, std::string, kvforge::file_log, kvforge::hash_index>;
using sorted_mapped_store = kvforge::store<std::string, std::string, kvforge::mmap_file, kvforge::sorted_index>;

const std::string rot_data_name = "data-0000000001.kvlog";
const std::string rot_hint_name = "data-0000000001.kvhint";

using contents = std::map<std::string, std::string>;

/// One put or erase as the log holds it.
struct logged_op {
    std::uint64_t offset = 0;
    std::uint64_t size = 0;
    bool put = true;
    std::string key;
    std::string value;
};

/// One record of the log: a put or an erase (one op), or a batch (its ops).
struct logged_record {
    std::uint64_t offset = 0;
    std::uint64_t size = 0;
    bool batch = false;
    std::vector<logged_op> ops;
};

/// Changed bytes: offset in the file to the mask XORed into the byte there (never 0).
using byte_changes = std::map<std::uint64_t, unsigned char>;

struct damage {
    byte_changes data;
    byte_changes hint;

    /// Whether any byte of the data file in [offset, offset + size) changed.
    [[nodiscard]] bool hits(std::uint64_t offset, std::uint64_t size) const {
        const auto it = data.lower_bound(offset);
        return it != data.end() && it->first < offset + size;
    }

    [[nodiscard]] std::string describe() const {
        std::string text = "data bytes changed:";
        for (const auto& [offset, mask] : data) text += " " + std::to_string(offset) + "^" + std::to_string(mask);
        text += "; hint bytes changed:";
        for (const auto& [offset, mask] : hint) text += " " + std::to_string(offset) + "^" + std::to_string(mask);
        return text;
    }
};

std::string apply_changes(std::string bytes, const byte_changes& changes) {
    for (const auto& [offset, mask] : changes) {
        bytes[offset] = static_cast<char>(static_cast<unsigned char>(bytes[offset]) ^ mask);
    }
    return bytes;
}

/// A closed store's files and the layout of its data file, read while undamaged.
struct pristine {
    std::string data;
    std::string hint;
    std::string manifest;  // never damaged here: a lost or damaged MANIFEST has tests of its own
    std::vector<logged_record> records;
    std::vector<std::string> keys;  // every key ever written, and one never written

    explicit pristine(const fs::path& directory)
        : data(read_file(directory / rot_data_name)),
          hint(read_file(directory / rot_hint_name)),
          manifest(read_file(directory / "MANIFEST")) {
        REQUIRE(!hint.empty());
        const std::string_view bytes(data);
        std::size_t at = kd::file_header::size;
        std::set<std::string> seen;
        while (at < bytes.size()) {
            kd::record_info info;
            REQUIRE(kd::parse_record(bytes.substr(at), info) == kd::parse_status::ok);
            logged_record record{at, info.size, info.type == kd::record_type::batch, {}};
            auto add_op = [&](std::size_t start, const kd::record_info& op) {
                const std::string_view op_bytes = bytes.substr(start, op.size);
                record.ops.push_back({start, op.size, op.type == kd::record_type::put,
                                      std::string(op_bytes.substr(op.key_offset, op.key_size)),
                                      std::string(op_bytes.substr(op.value_offset, op.value_size))});
                if (seen.insert(record.ops.back().key).second) keys.push_back(record.ops.back().key);
            };
            if (record.batch) {
                std::size_t inner = at + info.value_offset;
                while (inner < at + info.size) {
                    kd::record_info op;
                    REQUIRE(kd::parse_record(bytes.substr(inner, at + info.size - inner), op) == kd::parse_status::ok);
                    add_op(inner, op);
                    inner += op.size;
                }
            } else {
                add_op(at, info);
            }
            records.push_back(std::move(record));
            at += info.size;
        }
        keys.push_back("never-written");
    }

    /// The first record with a changed byte, or records.size().
    [[nodiscard]] std::size_t first_damaged(const damage& d) const {
        std::size_t i = 0;
        while (i < records.size() && !d.hits(records[i].offset, records[i].size)) ++i;
        return i;
    }

    /// Whether an intact record starts after records[from]'s start: an undamaged record,
    /// or an undamaged put or erase inside a damaged batch. Recovery can only tell a torn
    /// tail from damage by this.
    [[nodiscard]] bool intact_after(std::size_t from, const damage& d) const {
        for (std::size_t i = from; i < records.size(); ++i) {
            const logged_record& r = records[i];
            if (i > from && !d.hits(r.offset, r.size)) return true;
            if (!r.batch || !d.hits(r.offset, r.size)) continue;
            for (const logged_op& op : r.ops) {
                if (!d.hits(op.offset, op.size)) return true;
            }
        }
        return false;
    }

    /// The contents after replaying the first `count` records.
    [[nodiscard]] contents prefix(std::size_t count) const {
        contents state;
        for (std::size_t i = 0; i < count; ++i) {
            for (const logged_op& op : records[i].ops) replay(state, op);
        }
        return state;
    }

    /// The contents after replaying every intact record: salvage keeps the undamaged
    /// records, and the undamaged puts and erases of a damaged batch, one by one.
    [[nodiscard]] contents salvaged(const damage& d) const {
        contents state;
        for (const logged_record& r : records) {
            const bool damaged = d.hits(r.offset, r.size);
            if (damaged && !r.batch) continue;
            for (const logged_op& op : r.ops) {
                if (!damaged || !d.hits(op.offset, op.size)) replay(state, op);
            }
        }
        return state;
    }

    /// Each live key's last put: the record a get reads.
    [[nodiscard]] std::map<std::string, const logged_op*> live_records() const {
        std::map<std::string, const logged_op*> live;
        for (const logged_record& r : records) {
            for (const logged_op& op : r.ops) {
                if (op.put) {
                    live[op.key] = &op;
                } else {
                    live.erase(op.key);
                }
            }
        }
        return live;
    }

    static void replay(contents& state, const logged_op& op) {
        if (op.put) {
            state[op.key] = op.value;
        } else {
            state.erase(op.key);
        }
    }
};

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

std::string quoted(const std::optional<std::string>& value) { return value ? "'" + *value + "'" : "nothing"; }

/// Checks that an open failed with code, its message naming the data file and part.
std::string expect_open_error(const std::error_code& ec, const std::string& message, kvforge::errc code,
                              const std::string& data_path, const std::string& part) {
    if (ec != code) return "open gave '" + ec.message() + "', expected '" + make_error_code(code).message() + "'";
    if (!contains(message, data_path) || !contains(message, part)) {
        return "open's message '" + message + "' does not name " + data_path + " and '" + part + "'";
    }
    return {};
}

/// Checks that every key reads as in expected, through get and (ordered stores) scan.
template <class Store>
std::string expect_contents(Store& db, const pristine& p, const contents& expected) {
    for (const std::string& key : p.keys) {
        std::error_code ec;
        const std::optional<std::string> got = db.get(key, ec);
        const auto it = expected.find(key);
        const std::optional<std::string> want = it == expected.end() ? std::nullopt : std::optional(it->second);
        if (ec) return "get('" + key + "') failed: " + kvforge::last_error_message();
        if (got != want) return "get('" + key + "') gave " + quoted(got) + ", expected " + quoted(want);
    }
    if (db.size() != expected.size()) return "size() is " + std::to_string(db.size());
    if constexpr (Store::index_policy::ordered) {
        std::error_code ec;
        contents scanned;
        for (const auto& [key, value] : db.scan("", "\xff", ec)) scanned[key] = value;
        if (ec || scanned != expected) return "scan() does not give the expected contents";
    }
    return {};
}

/// Checks reads through an index built from the hint: the true contents, except that
/// a key whose live record is damaged reads as corrupt_record naming its offset.
template <class Store>
std::string expect_true_or_damaged(Store& db, const pristine& p, const damage& d, const std::string& data_path) {
    const contents truth = p.prefix(p.records.size());
    const auto live = p.live_records();
    for (const std::string& key : p.keys) {
        std::error_code ec;
        const std::optional<std::string> got = db.get(key, ec);
        const auto it = live.find(key);
        if (it != live.end() && d.hits(it->second->offset, it->second->size)) {
            const std::string offset = "offset " + std::to_string(it->second->offset) + " ";
            if (ec != kvforge::errc::corrupt_record)
                return "get('" + key + "') of a damaged record gave " + quoted(got);
            if (!contains(kvforge::last_error_message(), data_path) ||
                !contains(kvforge::last_error_message(), offset)) {
                return "get('" + key + "'): message '" + kvforge::last_error_message() + "' does not name " + offset;
            }
            continue;
        }
        const auto want = truth.find(key) == truth.end() ? std::nullopt : std::optional(truth.at(key));
        if (ec) return "get('" + key + "') of an intact record failed: " + kvforge::last_error_message();
        if (got != want) return "get('" + key + "') gave " + quoted(got) + ", expected " + quoted(want);
    }
    if constexpr (Store::index_policy::ordered) {
        // A scan stops at a damaged record with its error; what it gave before must be true.
        std::error_code ec;
        for (const auto& [key, value] : db.scan("", "\xff", ec)) {
            if (truth.count(key) == 0 || truth.at(key) != value) return "scan() gave a wrong value for '" + key + "'";
        }
        if (ec && ec != kvforge::errc::corrupt_record) return "scan() failed with '" + ec.message() + "'";
    }
    return {};
}

/// Checks that verify() names the first damaged record, and only damaged records.
template <class Store>
std::string expect_verify(Store& db, const pristine& p, const damage& d, const std::string& data_path) {
    std::error_code ec;
    const kvforge::verify_report report = db.verify(ec);
    if (ec) return "verify() failed: " + kvforge::last_error_message();
    const std::size_t first = p.first_damaged(d);
    if (first == p.records.size()) return report.ok() ? std::string() : "verify() reports damage in an intact file";
    if (report.ok()) return "verify() misses the damaged record at offset " + std::to_string(p.records[first].offset);
    if (report.damaged.front().offset != p.records[first].offset) {
        return "verify() reports offset " + std::to_string(report.damaged.front().offset) + " first, expected " +
               std::to_string(p.records[first].offset);
    }
    for (const kvforge::damaged_record& damaged : report.damaged) {
        bool inside = false;
        for (const logged_record& r : p.records) {
            inside = inside ||
                     (d.hits(r.offset, r.size) && damaged.offset >= r.offset && damaged.offset < r.offset + r.size);
        }
        if (damaged.file != data_path || !inside) {
            return "verify() reports " + damaged.file + " offset " + std::to_string(damaged.offset) +
                   ", outside the damaged records";
        }
    }
    return {};
}

/// Lays a damaged copy of the store's files in directory, opens it and checks
/// everything the store says; returns what was wrong, or nothing.
template <class Store>
std::string check_damaged_copy(const pristine& p, const damage& d, bool with_hint, bool salvage,
                               const fs::path& directory) {
    fs::remove_all(directory);
    fs::create_directory(directory);
    write_file(directory / "MANIFEST", p.manifest);
    write_file(directory / rot_data_name, apply_changes(p.data, d.data));
    if (with_hint) write_file(directory / rot_hint_name, apply_changes(p.hint, d.hint));
    const std::string data_path = (directory / rot_data_name).string();

    kvforge::options opts;
    opts.salvage = salvage;
    Store db;
    std::error_code ec;
    db.open(directory.string(), opts, {}, ec);
    const std::string message = kvforge::last_error_message();

    // The header: its magic is checked first, then its checksum. Salvage reads the
    // records of a file whose header is damaged one by one, each checked against its CRC.
    if (!salvage && d.hits(0, 8)) return expect_open_error(ec, message, kvforge::errc::not_a_store, data_path, "");
    if (!salvage && d.hits(8, kd::file_header::size - 8)) {
        return expect_open_error(ec, message, kvforge::errc::corrupt_header, data_path, "checksum");
    }

    const std::size_t first = p.first_damaged(d);
    if ((with_hint && !salvage && d.hint.empty()) || first == p.records.size()) {
        // The index comes from the intact hint (the log after it is empty; salvage reads
        // the whole log instead) or from an intact log: it is the true one, and only the
        // damaged records' reads fail.
        if (ec) return "open failed: " + message;
        if (db.stats().recovered_bytes_cut != 0) return "open cut a tail off an intact log";
        if (auto problem = expect_true_or_damaged(db, p, d, data_path); !problem.empty()) return problem;
        return expect_verify(db, p, d, data_path);
    }

    const std::uint64_t damaged_at = p.records[first].offset;
    contents expected;
    if (!p.intact_after(first, d)) {
        // Nothing intact follows the damage: a torn tail, cut off.
        if (ec) return "open of a log with a torn tail failed: " + message;
        if (db.stats().recovered_bytes_cut != p.data.size() - damaged_at) {
            return "open cut " + std::to_string(db.stats().recovered_bytes_cut) + " bytes, expected " +
                   std::to_string(p.data.size() - damaged_at);
        }
        expected = p.prefix(first);
    } else if (!salvage) {
        return expect_open_error(ec, message, kvforge::errc::corrupt_record, data_path,
                                 "offset " + std::to_string(damaged_at) + " ");
    } else {
        if (ec) return "open with salvage failed: " + message;
        expected = p.salvaged(d);
    }
    if (auto problem = expect_contents(db, p, expected); !problem.empty()) return problem;
    // The damage is gone: cut off, or rewritten away by salvage.
    return expect_verify(db, p, damage{}, data_path);
}

/// Opens every variant of one damaged copy: with and without the hint, with default
/// options and with salvage.
template <class Store>
std::string check_all_opens(const pristine& p, const damage& d, const fs::path& directory) {
    for (const bool with_hint : {true, false}) {
        if (!with_hint && d.data.empty()) continue;  // the hint's damage does not matter without it
        for (const bool salvage : {false, true}) {
            std::string problem = check_damaged_copy<Store>(p, d, with_hint, salvage, directory);
            if (!problem.empty()) {
                return problem + " (" + (with_hint ? "with" : "without") + " hint, " +
                       (salvage ? "salvage" : "default options") + "; " + d.describe() + ")";
            }
        }
    }
    return {};
}

/// A handful of records: puts, a replaced value, an erase, a batch, empty key and value.
template <class Store>
void write_small_store(const std::string& path) {
    Store db(path);
    db.put("alpha", "one");
    db.put("bravo", "two");
    db.put("charlie", "three");
    db.erase("bravo");
    kvforge::batch<std::string, std::string> b;
    b.put("delta", "four");
    b.erase("alpha");
    b.put("echo", "five");
    db.write(b);
    db.put("charlie", "three, again");
    db.put("", "empty key");
    db.put("foxtrot", "");
    db.close();
}

/// A few thousand records over a few hundred keys, with erases and batches.
template <class Store>
void write_larger_store(const std::string& path) {
    kvforge::options opts;
    opts.compact_dead_ratio = 0;  // keep the whole history in the log
    Store db(path, opts);
    std::mt19937_64 rng(20240611);
    auto key = [&] { return "key-" + std::to_string(rng() % 400); };
    auto value = [&] { return std::string(rng() % 120, static_cast<char>('a' + rng() % 26)) + std::to_string(rng()); };
    for (int i = 0; i < 3000; ++i) {
        const auto dice = rng() % 20;
        if (dice < 2) {
            db.erase(key());
        } else if (dice < 3) {
            kvforge::batch<std::string, std::string> b;
            for (auto n = rng() % 5 + 1; n > 0; --n) {
                if (rng() % 4 == 0) {
                    b.erase(key());
                } else {
                    b.put(key(), value());
                }
            }
            db.write(b);
        } else {
            db.put(key(), value());
        }
    }
    db.close();
}

template <class Store>
void flip_every_bit() {
    temp_dir dir;
    write_small_store<Store>(dir / "original");
    const pristine p(dir / "original");
    REQUIRE(p.records.size() == 8);
    const fs::path copy = dir / "copy";
    for (const bool in_hint : {false, true}) {
        const std::size_t bytes = in_hint ? p.hint.size() : p.data.size();
        for (std::size_t offset = 0; offset < bytes; ++offset) {
            for (int bit = 0; bit < 8; ++bit) {
                damage d;
                (in_hint ? d.hint : d.data)[offset] = static_cast<unsigned char>(1U << bit);
                const std::string problem = check_all_opens<Store>(p, d, copy);
                if (!problem.empty()) FAIL(problem);
            }
        }
    }
}

std::uint64_t run_seed() {
    if (const char* text = std::getenv("KVFORGE_TEST_SEED")) return std::strtoull(text, nullptr, 10);
    return std::random_device{}();
}

int random_trials() {
    if (const char* text = std::getenv("KVFORGE_TEST_ROT_TRIALS")) return std::atoi(text);
    return 100;
}

/// Random damage: single bits, a run of overwritten bytes, scattered bits, in the data
/// file, the hint file or both.
damage random_damage(std::mt19937_64& rng, const pristine& p) {
    damage d;
    auto flip_bit = [&](byte_changes& changes, std::size_t size) {
        changes[rng() % size] ^= static_cast<unsigned char>(1U << rng() % 8);
    };
    auto overwrite_run = [&](byte_changes& changes, std::size_t size) {
        const std::size_t length = rng() % 16 + 1;
        const std::size_t start = rng() % (size - length);
        for (std::size_t i = start; i < start + length; ++i) changes[i] = static_cast<unsigned char>(rng() % 255 + 1);
    };
    switch (rng() % 5) {
        case 0:
            flip_bit(d.data, p.data.size());
            break;
        case 1:
            overwrite_run(d.data, p.data.size());
            break;
        case 2:
            for (auto n = rng() % 4 + 2; n > 0; --n) flip_bit(d.data, p.data.size());
            break;
        case 3:
            flip_bit(d.hint, p.hint.size());
            break;
        default:
            flip_bit(d.data, p.data.size());
            overwrite_run(d.hint, p.hint.size());
            break;
    }
    // Two flips of one bit cancel out; drop what they left unchanged.
    std::erase_if(d.data, [](const auto& change) { return change.second == 0; });
    return d;
}

template <class Store>
void flip_random_bits() {
    temp_dir dir;
    write_larger_store<Store>(dir / "original");
    const pristine p(dir / "original");
    const std::uint64_t seed = run_seed();
    INFO("KVFORGE_TEST_SEED=" << seed);
    std::mt19937_64 rng(seed);
    for (int trial = random_trials(); trial > 0; --trial) {
        const damage d = random_damage(rng, p);
        const std::string problem = check_all_opens<Store>(p, d, dir / "copy");
        if (!problem.empty()) FAIL(problem);
    }
}

}  // namespace

TEST_CASE("bit rot: every bit of a small file_log store flipped in turn", "[reliability][bit_rot]") {
    flip_every_bit<hashed_log_store>();
}

TEST_CASE("bit rot: every bit of a small mmap_file store flipped in turn", "[reliability][bit_rot]") {
    flip_every_bit<sorted_mapped_store>();
}

TEST_CASE("bit rot: random flips and overwrites in a larger file_log store", "[reliability][bit_rot]") {
    flip_random_bits<hashed_log_store>();
}

TEST_CASE("bit rot: random flips and overwrites in a larger mmap_file store", "[reliability][bit_rot]") {
    flip_random_bits<sorted_mapped_store>();
}
