#pragma once
/// \file recovery_checks.hpp
/// Members of log_recovery (recovery.hpp): the checks of what an open finds against
/// what proves it was there. A segment that a hint names, or SEGMENTS lists, must be in
/// place, and be the file listed; a segment must be no shorter than its hint proves; and
/// each data file's header must be one of this store's. Each failure names the file and
/// fails the open (errc::corrupt_record, corrupt_header, not_a_store or
/// unsupported_version), or, with options::salvage, is recorded as damage and the open
/// goes on with the intact records.

#include <fcntl.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include "../../detail/crc32c.hpp"
#include "../../detail/data_file.hpp"
#include "../../detail/store_files.hpp"
#include "../../error.hpp"
#include "hint_checks.hpp"
#include "record_format.hpp"
#include "recovery.hpp"
#include "segment_list.hpp"
#include "written_with.hpp"

namespace kvforge::detail {

/// Whether names holds name.
template <class IO, class Table, class Reader, class Files>
bool log_recovery<IO, Table, Reader, Files>::holds(const std::vector<store_file_name>& names,
                                                   const store_file_name& name) {
    return std::any_of(names.begin(), names.end(), [&](const store_file_name& other) { return other == name; });
}

/// Fails the open with errc::corrupt_record, or with salvage records the loss, when a
/// hint names a segment whose data file is missing. Segments are removed hint first
/// (segment_files.hpp), so such a hint means the data file was lost, unless it is the
/// hint of a compaction's output that a crash left unpublished beside its .tmp.
template <class IO, class Table, class Reader, class Files>
bool log_recovery<IO, Table, Reader, Files>::check_hinted_segments(const std::vector<store_file_name>& names,
                                                                   const std::vector<std::uint32_t>& ids,
                                                                   std::error_code& ec) {
    for (const store_file_name& name : names) {
        if (name.kind() != store_file_kind::hint || name.is_temporary()) continue;
        const std::uint32_t id = name.generation();
        if (std::binary_search(ids.begin(), ids.end(), id) || holds(names, store_file_name::data(id).temporary())) {
            continue;
        }
        if (!missing_segment(id, " is missing", hint_witness(id), ec)) return false;
    }
    return true;
}

/// Reads SEGMENTS into the recovered state's list; a store without one (written before
/// kvforge kept it, or never opened to write) has none. A damaged list fails the open,
/// naming it; with salvage it is set aside (recorded as damage), and a writable open
/// writes it again from the segments found.
template <class IO, class Table, class Reader, class Files>
bool log_recovery<IO, Table, Reader, Files>::read_segment_list(std::error_code& ec) {
    state_->listed.reset();
    const store_file_name name = store_file_name::segment_list();
    data_file<IO> file;
    if (!directory_.open_file(file, name, O_RDONLY, ec)) {
        if (ec != std::errc::no_such_file_or_directory) return false;
        ec.clear();
        return true;
    }
    std::uint64_t size = 0;
    if (!file.size(size, ec)) return false;
    std::string bytes(static_cast<std::size_t>(size), '\0');
    if (!file.read(0, bytes.data(), bytes.size(), ec)) return false;
    segment_list list;
    const std::string path = directory_.file_path(name);
    if (!list.decode(bytes, path, ec)) {
        const std::string detail = last_error_detail();
        if (!options_.salvage) {
            const std::error_code code = ec;
            fail(ec, code,
                 detail +
                     "; restore the store from a backup, or open it with options::salvage (kvforge repair), "
                     "which writes the list again from the segments there");
            return false;
        }
        state_->file_damage.push_back({path, 0, detail.substr(path.size() + 2)});
        ec.clear();
        return true;
    }
    state_->listed = std::move(list);
    return true;
}

/// Whether SEGMENTS lists segment id.
template <class IO, class Table, class Reader, class Files>
bool log_recovery<IO, Table, Reader, Files>::listed(std::uint32_t id) const {
    return state_->listed && state_->listed->find(id) != nullptr;
}

/// Fails the open when the data file of a listed segment is not the file listed (its
/// header's file id differs): another store's data file, or an older one of this
/// store, was put in its place. With salvage, recorded, and its records read as
/// they are, as those of a segment the list does not name.
template <class IO, class Table, class Reader, class Files>
bool log_recovery<IO, Table, Reader, Files>::check_listed_file(const segment_type& in, std::error_code& ec) {
    const listed_segment* entry = state_->listed ? state_->listed->find(in.id) : nullptr;
    if (entry == nullptr || entry->file_id == in.file_id) return true;
    char ids[64];
    std::snprintf(ids, sizeof ids, "its file id is %08x, the list's %08x", static_cast<unsigned>(in.file_id),
                  static_cast<unsigned>(entry->file_id));
    const std::string problem = "is not the segment " + store_file_name::segment_list().str() + " lists: " + ids +
                                " (a data file of another store, or an older one of this store, was put in its "
                                "place)";
    if (!options_.salvage) {
        fail(ec, errc::corrupt_header,
             in.file.path() + " " + problem +
                 "; put the store's own file back or restore the store from a backup, or open with "
                 "options::salvage (kvforge repair) to keep the records of the file there");
        return false;
    }
    state_->file_damage.push_back({in.file.path(), 0, problem});
    return true;
}

/// Fails the open, as check_hinted_segments does, when a segment SEGMENTS lists has no
/// data file: the list names only segments that were in place.
template <class IO, class Table, class Reader, class Files>
bool log_recovery<IO, Table, Reader, Files>::check_listed_segments(const std::vector<store_file_name>& names,
                                                                   const std::vector<std::uint32_t>& ids,
                                                                   std::error_code& ec) {
    if (!state_->listed) return true;
    for (const listed_segment& entry : state_->listed->segments) {
        // A hint of it failed check_hinted_segments already, or was recorded by salvage.
        const std::uint32_t id = entry.id;
        if (std::binary_search(ids.begin(), ids.end(), id) || holds(names, store_file_name::hint(id))) continue;
        if (!missing_segment(id, " is missing", list_witness(), ec)) return false;
    }
    return true;
}

/// What proves a segment existed: its hint (hint_witness), or SEGMENTS (list_witness).
template <class IO, class Table, class Reader, class Files>
std::string log_recovery<IO, Table, Reader, Files>::hint_witness(std::uint32_t id) {
    return "its hint " + store_file_name::hint(id).str() + " lists its records";
}

template <class IO, class Table, class Reader, class Files>
std::string log_recovery<IO, Table, Reader, Files>::list_witness() {
    return store_file_name::segment_list().str() + " lists it";
}

/// Reports that the records of segment `id` are gone: its data file is missing or
/// empty (what says how), though witness proves it was there. With salvage, recorded;
/// else the open fails.
template <class IO, class Table, class Reader, class Files>
bool log_recovery<IO, Table, Reader, Files>::missing_segment(std::uint32_t id, std::string_view what,
                                                             const std::string& witness, std::error_code& ec) {
    const std::string data = directory_.file_path(store_file_name::data(id));
    const std::string problem = std::string(what) + ", though " + witness +
                                ": a segment of the store was lost (deleted, moved or "
                                "truncated), and its records with it";
    if (!options_.salvage) {
        fail(ec, errc::corrupt_record,
             data + problem +
                 "; put the file back or restore the store from a backup, or open with options::salvage "
                 "(kvforge repair) to keep the other segments' records");
        return false;
    }
    // Nothing to rewrite: a writable open removes the hint and writes the list of the
    // segments there, and the rest of the store is whole.
    state_->file_damage.push_back({data, 0, problem.substr(1)});
    return true;
}

/// Reports that segment `in` is shorter than its hint proves it was (check, whose
/// proven_end is set): a cut below bytes once durable is damage, never a torn write.
/// With salvage, recorded (its intact records are kept); else the open fails.
template <class IO, class Table, class Reader, class Files>
bool log_recovery<IO, Table, Reader, Files>::report_cut_below_hint(const segment_type& in, const hint_check& check,
                                                                   std::error_code& ec) {
    const std::string problem = "the file ends at " + std::to_string(in.size) + " bytes, but its hint " +
                                store_file_name::hint(in.id).str() + " proves " + std::to_string(check.proven_end) +
                                " bytes were durable: the file was truncated, and " +
                                std::to_string(check.entries_beyond) + " records the hint lists past its end are lost";
    if (!options_.salvage) {
        fail(ec, errc::corrupt_record,
             in.file.path() + ": " + problem +
                 "; restore it from a backup, or open with options::salvage (kvforge repair) to keep the "
                 "intact records");
        return false;
    }
    state_->note_file_damage({in.file.path(), in.size, problem});
    return true;
}

/// Salvage of segment `in`, whose header (the first `bytes` of the file) is damaged:
/// what its intact half tells (kvforge-written headers have two, each with its own
/// CRC), the rest assumed, so that its records are found and checked one by one. A
/// replay order that neither half gives intact is recovered when a single byte of its
/// half was changed, else taken from the file's id, as the writer gives it. A file id
/// the first half cannot give is SEGMENTS's, when it lists the segment.
template <class IO, class Table, class Reader, class Files>
bool log_recovery<IO, Table, Reader, Files>::salvage_header(segment_type& in, std::string_view bytes) {
    const char* p = bytes.data();
    const bool first_half = bytes.size() >= file_header::v1_size && std::memcmp(p, "kvforge", 7) == 0 &&
                            p[7] == static_cast<char>(file_kind::data) &&
                            file_header::get_le32(p + 28) == crc32c({p, 28}) &&
                            file_header::get_le16(p + 8) <= format_version && file_header::get_le16(p + 10) == 0;
    in.version = first_half ? file_header::get_le16(p + 8) : format_version;
    const listed_segment* entry = state_->listed ? state_->listed->find(in.id) : nullptr;
    in.file_id = first_half ? file_header::get_le32(p + 12) : entry != nullptr ? entry->file_id : 0;
    in.order = in.id;
    bool order_known = in.version < 2;
    if (!order_known && bytes.size() >= file_header::size) {
        const std::optional<std::uint64_t> order = damaged_order(p + 32, in.id);
        if (order) {
            in.order = *order;
            in.version = format_version;
            order_known = true;
        }
    }
    std::string problem = "the file header is damaged; its records were read one by one";
    if (!order_known) problem += ", replayed as if the writer had made it (its replay order could not be read)";
    state_->note_file_damage({in.file.path(), 0, std::move(problem)});
    return true;
}

/// The replay order in a header's second half (`half`, 32 bytes: order, layers,
/// reserved zeros, CRC) of a file of id `id`, read when it passes its CRC or when one
/// byte changed makes it pass in one way only (the changed byte may be in any field);
/// nullopt when it cannot be told.
template <class IO, class Table, class Reader, class Files>
std::optional<std::uint64_t> log_recovery<IO, Table, Reader, Files>::damaged_order(const char* half, std::uint32_t id) {
    std::optional<std::uint64_t> found;
    int matches = 0;
    char candidate[32];
    const auto consider = [&] {
        bool zeros = true;
        for (std::size_t i = 16; i < 28; ++i) zeros = zeros && candidate[i] == 0;  // after order and layers
        const std::uint64_t order = file_header::get_le64(candidate);
        if (!zeros || order > id || file_header::get_le32(candidate + 28) != crc32c({candidate, 28})) return;
        if (!found || *found != order) ++matches;
        found = order;
    };
    std::memcpy(candidate, half, sizeof candidate);
    consider();
    if (matches == 1) return found;
    for (std::size_t at = 0; at < sizeof candidate; ++at) {
        for (int value = 0; value < 256; ++value) {
            if (static_cast<char>(value) == half[at]) continue;
            candidate[at] = static_cast<char>(value);
            consider();
        }
        candidate[at] = half[at];
    }
    return matches == 1 ? found : std::nullopt;
}

/// Reads segment `in`'s header: a data file of ours, of a version this code reads,
/// written with this store's codecs.
template <class IO, class Table, class Reader, class Files>
bool log_recovery<IO, Table, Reader, Files>::check_header(segment_type& in, std::error_code& ec) {
    char bytes[file_header::size];
    const std::size_t available = static_cast<std::size_t>(std::min<std::uint64_t>(in.size, sizeof bytes));
    if (!in.file.read(0, bytes, available, ec)) return false;
    file_header header;
    const std::string& path = in.file.path();
    const file_header::problem problem = file_header::decode({bytes, available}, file_kind::data, header);
    const bool damaged = problem == file_header::problem::truncated || problem == file_header::problem::bad_magic ||
                         problem == file_header::problem::bad_checksum;
    // The name is a data file's: with salvage its records are found and checked one by one.
    if (damaged && options_.salvage) return salvage_header(in, {bytes, available});
    constexpr std::string_view way_out =
        "; restore it from a backup, or open with options::salvage (kvforge repair) to keep every intact record";
    switch (problem) {
        case file_header::problem::none:
            break;
        case file_header::problem::truncated:
            fail(ec, errc::corrupt_header,
                 path + ": " + std::to_string(in.size) + " bytes, shorter than its file header" + std::string(way_out));
            return false;
        case file_header::problem::bad_magic:
            fail(ec, errc::not_a_store,
                 path + ": does not start with a kvforge data file's magic bytes" + std::string(way_out));
            return false;
        case file_header::problem::bad_checksum:
            fail(ec, errc::corrupt_header, path + ": the file header fails its checksum" + std::string(way_out));
            return false;
        case file_header::problem::newer_version:
            fail(ec, errc::unsupported_version,
                 path + ": written in format version " + std::to_string(header.version) +
                     "; this kvforge reads up to version " + std::to_string(format_version) +
                     " (the file was not changed)");
            return false;
        case file_header::problem::unknown_flags:
            fail(ec, errc::unsupported_version,
                 path + ": the file header has flags or reserved fields this kvforge does not know");
            return false;
    }
    if (!check_written_with(header, composition_, path, ec)) return false;
    in.file_id = header.file_id;
    in.version = header.version;
    in.order = header.order;
    return true;
}

}  // namespace kvforge::detail
