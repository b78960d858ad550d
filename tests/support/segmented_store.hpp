#pragma once
// A store of many small segments, for the tests that damage or remove its files: its keys
// and values, the names of its segments' files, and how many of its records a store still
// serves after the damage.

#include <kvforge/kvforge.hpp>

#include <catch2/catch.hpp>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <optional>
#include <string>
#include <system_error>

namespace kvforge_test {

inline std::string damage_key(int i) {
    char key[16];
    std::snprintf(key, sizeof key, "key%05d", i);
    return key;
}

inline std::string damage_value(int i) { return "value of " + damage_key(i) + std::string(60, '.'); }

/// The path of segment id's data file (or, with another suffix, its hint) in store path.
inline std::string segment_file(const std::string& path, std::uint32_t id, const char* suffix = ".kvlog") {
    char name[40];
    std::snprintf(name, sizeof name, "/data-%010u%s", static_cast<unsigned>(id), suffix);
    return path + name;
}

/// Options with salvage and read_only as given, and segments of segment_bytes (0: the default).
inline kvforge::options with(bool salvage, bool read_only = false, std::uint64_t segment_bytes = 0) {
    kvforge::options opts;
    opts.salvage = salvage;
    opts.read_only = read_only;
    if (segment_bytes != 0) opts.segment_bytes = segment_bytes;
    return opts;
}

/// Opens path with opts; the error of the open, the store open on success.
template <class Store>
std::error_code open_with(Store& db, const std::string& path, const kvforge::options& opts) {
    std::error_code ec;
    db.open(path, opts, {}, ec);
    return ec;
}

/// How many of keys [0, count) hold their value in db, checking that none holds another.
template <class Store>
int intact_keys(Store& db, int count) {
    int found = 0;
    for (int i = 0; i < count; ++i) {
        const std::optional<std::string> value = db.get(damage_key(i));
        if (!value) continue;
        REQUIRE(*value == damage_value(i));
        ++found;
    }
    return found;
}

/// Makes a store of `count` keys on segments of 64 KiB (a few dozen), closed cleanly.
template <class Store>
void make_segmented_store(const std::string& path, int count) {
    Store db(path, with(false, false, 64 << 10));
    for (int i = 0; i < count; ++i) db.put(damage_key(i), damage_value(i));
}

/// Whether a damage verify() reports names text in its file or its problem.
inline bool mentions(const kvforge::verify_report& report, const std::string& text) {
    return std::any_of(report.damaged.begin(), report.damaged.end(), [&](const kvforge::damaged_record& damage) {
        return damage.file.find(text) != std::string::npos || damage.problem.find(text) != std::string::npos;
    });
}

}  // namespace kvforge_test
