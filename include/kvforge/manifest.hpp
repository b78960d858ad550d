#pragma once
/// \file manifest.hpp
/// The text of the MANIFEST file in which a persistent store records its
/// kvforge::composition (composition.hpp), so that tools open any store with no flags.
///
/// The manifest is one `name value` line per field, in a fixed order, then a line
/// `crc32c <8 hex digits>` over every byte before it:
///
///     kvforge-manifest 1
///     format 2
///     store file_log
///     index sorted_index
///     durability buffered
///     key_codec bytes
///     value_codec bytes
///     codec_fingerprint 0123456789abcdef
///     expiry none
///     compression none
///
/// Some fields bind: bytes written under one value of them cannot be read under another
/// (the format, the codecs, expiry, compression). The others (store, index, durability)
/// only say how the store was made: file_log and mmap_file read the same files, and any
/// in-memory index is rebuilt from the log, so tools take them as defaults and nothing
/// more. One index binds: disk_index keeps its records in sorted tables, which no other
/// index reads, and its stores record format 3 (table_store_format), which a release that
/// knows no tables refuses instead of reading their newest log alone.

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>
#include <utility>

#include "composition.hpp"
#include "detail/crc32c.hpp"
#include "detail/store_files.hpp"

namespace kvforge {

namespace detail {

/// The index that keeps a store's records in sorted tables (kvforge::disk_index).
inline constexpr std::string_view disk_index_name = "disk_index";
/// The format a store over sorted tables records in its MANIFEST; its logs and tables are
/// of format 2 inside (record_format.hpp's format_version).
inline constexpr std::uint32_t table_store_format = 3;

/// The manifest's fields in file order: each line's name and the member it fills.
/// A field is added with one line here (and, if it binds, one in first_binding_difference).
struct manifest_field {
    std::string_view name;
    std::string composition::*text = nullptr;   ///< for text fields
    bool numeric = false;                       ///< format (decimal) or codec_fingerprint (hex)
};

inline constexpr std::string_view manifest_magic = "kvforge-manifest 1";

inline constexpr manifest_field manifest_fields[] = {
    {"format", nullptr, true},
    {"store", &composition::store},
    {"index", &composition::index},
    {"durability", &composition::durability},
    {"key_codec", &composition::key_codec},
    {"value_codec", &composition::value_codec},
    {"codec_fingerprint", nullptr, true},
    {"expiry", &composition::expiry},
    {"compression", &composition::compression},
};

/// Whether a value can stand in a manifest line: not empty, no spaces, newlines or
/// control bytes (codec names are the users', so this is checked, not assumed).
[[nodiscard]] inline bool manifest_value_ok(std::string_view value) noexcept {
    if (value.empty()) return false;
    for (const char c : value) {
        if (static_cast<unsigned char>(c) <= ' ' || c == 0x7f) return false;
    }
    return true;
}

/// The text of a manifest for c; empty when one of its names cannot stand in a line.
[[nodiscard]] inline std::string format_manifest(const composition& c) {
    std::string text(manifest_magic);
    text += '\n';
    for (const manifest_field& field : manifest_fields) {
        std::string value;
        if (field.text != nullptr) {
            value = c.*field.text;
        } else if (field.name == "format") {
            value = std::to_string(c.format);
        } else {
            char hex[17];
            std::snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>(c.codec_fingerprint));
            value = hex;
        }
        if (!manifest_value_ok(value)) return {};
        text.append(field.name).append(1, ' ').append(value).append(1, '\n');
    }
    char crc[24];
    std::snprintf(crc, sizeof crc, "crc32c %08x\n", static_cast<unsigned>(crc32c(text)));
    return text + crc;
}

/// Parses a number of the given base that fills all of text; false otherwise.
[[nodiscard]] inline bool parse_manifest_number(std::string_view text, int base, std::uint64_t& out) noexcept {
    if (text.empty() || text.size() > 20) return false;
    std::uint64_t value = 0;
    for (const char c : text) {
        unsigned digit = 0;
        if (c >= '0' && c <= '9') {
            digit = static_cast<unsigned>(c - '0');
        } else if (base == 16 && c >= 'a' && c <= 'f') {
            digit = static_cast<unsigned>(c - 'a' + 10);
        } else {
            return false;
        }
        if (value > (~std::uint64_t{0} - digit) / static_cast<unsigned>(base)) return false;
        value = value * static_cast<unsigned>(base) + digit;
    }
    out = value;
    return true;
}

/// Reads a manifest's text into out; on failure returns false and says in problem what is
/// wrong (the caller adds the file's name).
[[nodiscard]] inline bool parse_manifest(std::string_view text, composition& out, std::string& problem) {
    const std::size_t crc_line = text.rfind("crc32c ", text.size() < 2 ? 0 : text.size() - 2);
    std::uint64_t stored_crc = 0;
    if (crc_line == std::string_view::npos || (crc_line != 0 && text[crc_line - 1] != '\n') ||
        text.size() != crc_line + 16 || text.back() != '\n' ||
        !parse_manifest_number(text.substr(crc_line + 7, 8), 16, stored_crc)) {
        problem = "does not end in a crc32c line; the file is cut short or is not a kvforge manifest";
        return false;
    }
    if (stored_crc != crc32c(text.substr(0, crc_line))) {
        problem = "fails its checksum";
        return false;
    }
    std::string_view rest = text.substr(0, crc_line);
    auto next_line = [&rest]() {
        const std::size_t end = rest.find('\n');
        const std::string_view line = rest.substr(0, end);
        rest.remove_prefix(end == std::string_view::npos ? rest.size() : end + 1);
        return line;
    };
    if (next_line() != manifest_magic) {
        problem = "does not start with '" + std::string(manifest_magic) +
                  "'; it was written by a newer kvforge, or is not a kvforge manifest";
        return false;
    }
    composition parsed;
    for (const manifest_field& field : manifest_fields) {
        const std::string_view line = next_line();
        const std::size_t space = line.find(' ');
        const std::string_view name = line.substr(0, space);
        const std::string_view value = space == std::string_view::npos ? std::string_view{} : line.substr(space + 1);
        if (name != field.name || !manifest_value_ok(value)) {
            problem = "has '" + std::string(line) + "' where the field '" + std::string(field.name) +
                      "' should be; it was written by another kvforge version";
            return false;
        }
        if (field.text != nullptr) {
            parsed.*field.text = std::string(value);
            continue;
        }
        std::uint64_t number = 0;
        const bool is_format = field.name == "format";
        if (!parse_manifest_number(value, is_format ? 10 : 16, number) || (is_format && number > 0xffffffffU)) {
            problem = "has a malformed " + std::string(field.name) + " '" + std::string(value) + "'";
            return false;
        }
        if (is_format) {
            parsed.format = static_cast<std::uint32_t>(number);
        } else {
            parsed.codec_fingerprint = number;
        }
    }
    if (!rest.empty()) {
        problem = "has fields this kvforge does not know ('" + std::string(next_line()) +
                  "'); it was written by a newer kvforge";
        return false;
    }
    out = std::move(parsed);
    return true;
}

/// The first field that binds the bytes on disk in which `on_disk` and `opening` differ,
/// described with both sides ("value codec: written with 'bytes', opened with
/// 'uint64.be'"); empty when `opening` can read what `on_disk` wrote.
[[nodiscard]] inline std::string first_binding_difference(const composition& on_disk, const composition& opening) {
    auto both = [](std::string_view what, const std::string& written, const std::string& opened) {
        return std::string(what) + ": written with '" + written + "', opened with '" + opened + "'";
    };
    if ((on_disk.index == disk_index_name) != (opening.index == disk_index_name)) {
        return both("index", on_disk.index, opening.index);
    }
    if (on_disk.key_codec != opening.key_codec) return both("key codec", on_disk.key_codec, opening.key_codec);
    if (on_disk.value_codec != opening.value_codec) {
        return both("value codec", on_disk.value_codec, opening.value_codec);
    }
    if (on_disk.codec_fingerprint != opening.codec_fingerprint) {
        return "codec fingerprint: the codec names agree but the fingerprints differ";
    }
    if (on_disk.expiry != opening.expiry) return both("expiry", on_disk.expiry, opening.expiry);
    if (on_disk.compression != opening.compression) {
        return both("compression", on_disk.compression, opening.compression);
    }
    return {};
}

/// What to do about the first binding difference between `on_disk` and `opening`: open
/// with the index, the types, the expiry or the compression the store was written with.
[[nodiscard]] inline std::string binding_remedy(const composition& on_disk, const composition& opening) {
    if ((on_disk.index == disk_index_name) != (opening.index == disk_index_name)) {
        return on_disk.index == disk_index_name
                   ? "its records are in sorted tables, which only kvforge::disk_index reads: open the store with "
                     "kvforge::disk_index (<kvforge/index/disk_index.hpp>)"
                   : "its records are in logs, which kvforge::disk_index does not read: open the store with the "
                     "index it names, and copy it into a new disk_index store with kvforge::copy";
    }
    if (on_disk.key_codec != opening.key_codec || on_disk.value_codec != opening.value_codec ||
        on_disk.codec_fingerprint != opening.codec_fingerprint) {
        return "open the store with the key and value types it was written with";
    }
    if (on_disk.expiry != opening.expiry) {
        return on_disk.expiry == "none" ? "open the store without kvforge::expiring<>"
                                        : "open the store with kvforge::expiring<> of the clock it names";
    }
    return on_disk.compression == "none" ? "open the store without kvforge::compressed<>"
                                         : "open the store with kvforge::compressed<Codec> of a codec whose name is '" +
                                               on_disk.compression + "'";
}

}  // namespace detail

}  // namespace kvforge
