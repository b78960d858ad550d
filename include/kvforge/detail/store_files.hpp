#pragma once
/// \file store_files.hpp
/// The names of the files kvforge writes in a store's directory, recognised in one place.
///
/// A store's directory holds only these: LOCK, MANIFEST, data-<generation>.kvlog,
/// data-<generation>.kvhint, SEGMENTS (the list of a log store's segments),
/// data-<generation>.kvtable and TABLES (the sorted tables of a store whose index lives
/// on disk, and their list), dictionary-<generation>.zstd (the compression dictionaries
/// a store of kvforge::compressed<kvforge::zstd_trained<>> trains), deadlines (the
/// deadline index an expiring store writes at a clean close), and each name but LOCK
/// followed by .tmp while it is written. <generation> is ten decimal digits, 0000000001
/// to 4294967295 (a dictionary's is its number). Anything else in the directory is not
/// kvforge's: a store is never opened among such entries, and
/// kvforge removes, renames and truncates only files whose names are recognised here
/// (store_directory's operations take a store_file_name, which only these functions make).

#include <cstdint>
#include <cstdio>
#include <optional>
#include <string>
#include <string_view>

namespace kvforge::detail {

/// The manifest's file name in a store's directory (its text: manifest.hpp).
inline constexpr std::string_view manifest_file_name = "MANIFEST";

/// The kinds of file in a store's directory.
enum class store_file_kind {
    lock,        ///< LOCK: holds no data; flock() on it marks the store as open
    manifest,    ///< MANIFEST: the store's composition, as text
    data,        ///< data-<generation>.kvlog: a header and the log of records
    hint,        ///< data-<generation>.kvhint: every live key with the place of its record
    segment_list,  ///< SEGMENTS: the segments a log store's open must find (stores/log/segment_list.hpp)
    dictionary,  ///< dictionary-<number>.zstd: a zstd dictionary trained from the store's values
    deadlines,   ///< deadlines: an expiring store's deadline index at its last clean close
    table,       ///< data-<generation>.kvtable: a sorted table (stores/table/table_format.hpp)
    table_list,  ///< TABLES: the tables in use, by level (stores/table/table_list.hpp)
};

/// The ten digits of a generation as a number, or nothing when they are not ten decimal
/// digits of a generation kvforge can write (1 to UINT32_MAX).
[[nodiscard]] constexpr std::optional<std::uint32_t> parse_generation(std::string_view digits) noexcept {
    if (digits.size() != 10) return std::nullopt;
    std::uint64_t value = 0;  // ten digits fit: at most 9,999,999,999
    for (const char c : digits) {
        if (c < '0' || c > '9') return std::nullopt;
        value = value * 10 + static_cast<std::uint64_t>(c - '0');
    }
    if (value == 0 || value > UINT32_MAX) return std::nullopt;
    return static_cast<std::uint32_t>(value);
}

/// The name of a file kvforge writes in a store's directory. Made only from the parts of
/// such a name, or by recognising one, so that a value of this type is always a name
/// of kvforge's own.
class store_file_name {
public:
    /// The lock file.
    [[nodiscard]] static store_file_name lock() { return {store_file_kind::lock, 0, false}; }
    /// The manifest.
    [[nodiscard]] static store_file_name manifest() { return {store_file_kind::manifest, 0, false}; }
    /// The data file of a generation.
    [[nodiscard]] static store_file_name data(std::uint32_t generation) {
        return {store_file_kind::data, generation, false};
    }
    /// The hint file of a generation.
    [[nodiscard]] static store_file_name hint(std::uint32_t generation) {
        return {store_file_kind::hint, generation, false};
    }

    /// The sorted table of a generation.
    [[nodiscard]] static store_file_name table(std::uint32_t generation) {
        return {store_file_kind::table, generation, false};
    }
    /// The list of a store's sorted tables.
    [[nodiscard]] static store_file_name table_list() { return {store_file_kind::table_list, 0, false}; }
    /// The list of a log store's segments.
    [[nodiscard]] static store_file_name segment_list() { return {store_file_kind::segment_list, 0, false}; }

    /// The deadline index of an expiring store (expiry/deadline_file.hpp).
    [[nodiscard]] static store_file_name deadlines() { return {store_file_kind::deadlines, 0, false}; }

    /// The compression dictionary of a number (compression/zstd_trained.hpp).
    [[nodiscard]] static store_file_name dictionary(std::uint32_t number) {
        return {store_file_kind::dictionary, number, false};
    }

    /// The name of an entry of a store's directory, when kvforge writes files of that name.
    [[nodiscard]] static std::optional<store_file_name> recognise(std::string_view name) {
        constexpr std::string_view tmp = ".tmp";
        const bool temporary = name.size() > tmp.size() && name.substr(name.size() - tmp.size()) == tmp;
        const std::string_view base = temporary ? name.substr(0, name.size() - tmp.size()) : name;
        // Names without a generation.
        if (base == "LOCK") {
            if (temporary) return std::nullopt;
            return lock();
        }
        if (base == manifest_file_name) return store_file_name(store_file_kind::manifest, 0, temporary);
        if (base == "deadlines") return store_file_name(store_file_kind::deadlines, 0, temporary);
        if (base == "TABLES") return store_file_name(store_file_kind::table_list, 0, temporary);
        if (base == "SEGMENTS") return store_file_name(store_file_kind::segment_list, 0, temporary);
        // dictionary-<ten digits>.zstd
        constexpr std::string_view dictionary_prefix = "dictionary-";
        constexpr std::string_view dictionary_extension = ".zstd";
        if (base.size() == dictionary_prefix.size() + 10 + dictionary_extension.size() &&
            base.substr(0, dictionary_prefix.size()) == dictionary_prefix &&
            base.substr(dictionary_prefix.size() + 10) == dictionary_extension) {
            const std::optional<std::uint32_t> number = parse_generation(base.substr(dictionary_prefix.size(), 10));
            if (!number) return std::nullopt;
            return store_file_name(store_file_kind::dictionary, *number, temporary);
        }
        // data-<ten digits>.kvlog, .kvhint and .kvtable
        constexpr std::string_view prefix = "data-";
        if (base.size() < prefix.size() + 10 || base.substr(0, prefix.size()) != prefix) return std::nullopt;
        const std::optional<std::uint32_t> generation = parse_generation(base.substr(prefix.size(), 10));
        if (!generation) return std::nullopt;
        const std::string_view extension = base.substr(prefix.size() + 10);
        if (extension == ".kvlog") return store_file_name(store_file_kind::data, *generation, temporary);
        if (extension == ".kvhint") return store_file_name(store_file_kind::hint, *generation, temporary);
        if (extension == ".kvtable") return store_file_name(store_file_kind::table, *generation, temporary);
        return std::nullopt;
    }

    /// The name a file (any but LOCK) has while it is written, before it is renamed into place.
    [[nodiscard]] store_file_name temporary() const { return {kind_, generation_, true}; }

    [[nodiscard]] store_file_kind kind() const noexcept { return kind_; }
    /// The generation of a data, hint or table file, the number of a dictionary; 0 for LOCK,
    /// MANIFEST, deadlines, TABLES and SEGMENTS.
    [[nodiscard]] std::uint32_t generation() const noexcept { return generation_; }
    /// Whether this is a .tmp name: a file being written, never read.
    [[nodiscard]] bool is_temporary() const noexcept { return temporary_; }
    [[nodiscard]] const std::string& str() const noexcept { return name_; }

    friend bool operator==(const store_file_name& a, const store_file_name& b) noexcept { return a.name_ == b.name_; }

private:
    store_file_name(store_file_kind kind, std::uint32_t generation, bool temporary)
        : kind_(kind), generation_(generation), temporary_(temporary) {
        if (kind == store_file_kind::lock) {
            name_ = "LOCK";
        } else if (kind == store_file_kind::manifest) {
            name_ = manifest_file_name;
        } else if (kind == store_file_kind::deadlines) {
            name_ = "deadlines";
        } else if (kind == store_file_kind::table_list) {
            name_ = "TABLES";
        } else if (kind == store_file_kind::segment_list) {
            name_ = "SEGMENTS";
        } else if (kind == store_file_kind::dictionary) {
            char name[32];
            std::snprintf(name, sizeof name, "dictionary-%010u.zstd", static_cast<unsigned>(generation));
            name_ = name;
        } else {
            char name[32];
            std::snprintf(name, sizeof name, "data-%010u.%s", static_cast<unsigned>(generation),
                          kind == store_file_kind::data    ? "kvlog"
                          : kind == store_file_kind::hint ? "kvhint"
                                                          : "kvtable");
            name_ = name;
        }
        if (temporary) name_ += ".tmp";
    }

    store_file_kind kind_;
    std::uint32_t generation_;
    bool temporary_;
    std::string name_;
};

}  // namespace kvforge::detail
