#pragma once
/// \file deadline_file.hpp
/// The deadlines file: an expiring store's deadline index, written at a clean close so
/// that the next open rebuilds the index without reading a value.
///
/// Layout, integers little-endian (docs/format.md):
///
///     magic "KVFDLINE", u32 format version (1),
///     u64 keys the store held at the close (expired or not),
///     u32 data file count, and for each data file (its logs and tables, by generation,
///     a log before a table of the same): u32 generation, u64 size, u64 inode, u64
///     modification time in nanoseconds,
///     u64 entry count,
///     entries in ascending order, each an index key (the deadline as 8 big-endian
///     bytes with the sign bit flipped, then the key) as a varint of the bytes it shares
///     with the previous entry, a varint of the length of the rest, and the rest,
///     u32 CRC-32C of every byte before it.
///
/// A writable open takes the file and removes it before the store can change, so a file
/// that exists describes the store as its last clean close left it. The data files it
/// names bind it to that state besides: a file whose data files are not the directory's
/// (another store's, or one that a close raced with a writer) is not used, nor one that
/// is damaged, of another version or for another number of keys: the open then reads the
/// deadlines from the stored values instead.

#include <fcntl.h>

#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <new>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include "../detail/btree.hpp"
#include "../detail/byte_order.hpp"
#include "../detail/crc32c.hpp"
#include "../detail/data_file.hpp"
#include "../detail/retry.hpp"
#include "../detail/std_function.hpp"
#include "../detail/store_directory.hpp"
#include "../detail/store_files.hpp"
#include "../error.hpp"

namespace kvforge::detail {

inline constexpr std::string_view deadline_file_magic = "KVFDLINE";
inline constexpr std::uint32_t deadline_file_version = 1;
/// Magic, version and key count; the data files and the entry count follow.
inline constexpr std::size_t deadline_file_header_size = 8 + 4 + 8;

/// The data files of a store directory as the deadlines file records them: for each, by
/// generation, its generation, size, inode and modification time. Any write to the store
/// changes one of them; a copy of the directory changes the inodes.
template <class IO>
bool describe_data_files(IO& io, const std::string& directory, std::string& out) {
    std::vector<std::string> entries;
    if (io.list_directory(directory.c_str(), entries) != 0) return false;
    std::vector<store_file_name> names;
    for (const std::string& entry : entries) {
        const std::optional<store_file_name> name = store_file_name::recognise(entry);
        const bool data = name && (name->kind() == store_file_kind::data || name->kind() == store_file_kind::table);
        if (data && !name->is_temporary()) names.push_back(*name);
    }
    std::sort(names.begin(), names.end(), [](const store_file_name& a, const store_file_name& b) {
        return a.generation() != b.generation() ? a.generation() < b.generation() : a.str() < b.str();
    });
    out.clear();
    const auto put = [&](auto value) {
        char raw[sizeof value];
        store_unaligned(raw, to_little_endian(value));
        out.append(raw, sizeof raw);
    };
    put(static_cast<std::uint32_t>(names.size()));
    for (const store_file_name& name : names) {
        struct stat info {};
        const std::string path = directory + "/" + name.str();
        if (io.stat(path.c_str(), &info) != 0) return false;
        put(name.generation());
        put(static_cast<std::uint64_t>(info.st_size));
        put(static_cast<std::uint64_t>(info.st_ino));
        put(static_cast<std::uint64_t>(info.st_mtim.tv_sec) * 1'000'000'000 +
            static_cast<std::uint64_t>(info.st_mtim.tv_nsec));
    }
    return true;
}

/// The bytes of the deadlines file for index, the deadline index of a store of
/// stored_keys keys whose data files describe_data_files() described as data_files.
[[nodiscard]] inline std::string encode_deadline_file(const btree_table& index, std::uint64_t stored_keys,
                                                      std::string_view data_files) {
    std::string bytes;
    const auto put = [&](auto value) {
        char raw[sizeof value];
        store_unaligned(raw, to_little_endian(value));
        bytes.append(raw, sizeof raw);
    };
    const auto put_length = [&](std::size_t value) {
        char raw[max_varint_size];
        bytes.append(raw, static_cast<std::size_t>(put_varint(raw, value) - raw));
    };
    bytes.append(deadline_file_magic);
    put(deadline_file_version);
    put(std::uint64_t{stored_keys});
    bytes.append(data_files);
    put(std::uint64_t{index.size()});
    std::string_view previous;  // a view into index's records, which stay where they are
    index.for_each([&](std::string_view entry, std::string_view) {
        std::size_t shared = 0;
        const std::size_t most = std::min(previous.size(), entry.size());
        while (shared < most && previous[shared] == entry[shared]) ++shared;
        put_length(shared);
        put_length(entry.size() - shared);
        bytes.append(entry.substr(shared));
        previous = entry;
    });
    put(crc32c(bytes));
    return bytes;
}

/// Builds index (empty) from the bytes of a deadlines file, checked whole first: false,
/// with index left empty, when they are not a deadlines file of this version whose
/// checksum holds, with ascending entries, for a store of stored_keys keys and these data_files.
inline bool load_deadline_file(std::string_view bytes, std::uint64_t stored_keys, std::string_view data_files,
                               btree_table& index) {
    if (bytes.size() < deadline_file_header_size + 4 || bytes.substr(0, 8) != deadline_file_magic) return false;
    const std::size_t body = bytes.size() - 4;
    if (to_little_endian(load_unaligned<std::uint32_t>(bytes.data() + body)) != crc32c(bytes.substr(0, body))) {
        return false;
    }
    if (to_little_endian(load_unaligned<std::uint32_t>(bytes.data() + 8)) != deadline_file_version ||
        to_little_endian(load_unaligned<std::uint64_t>(bytes.data() + 12)) != stored_keys ||
        body - deadline_file_header_size < data_files.size() + 8 ||
        bytes.substr(deadline_file_header_size, data_files.size()) != data_files) {
        return false;
    }
    const char* p = bytes.data() + deadline_file_header_size + data_files.size();
    const char* const end = bytes.data() + body;
    const std::uint64_t count = to_little_endian(load_unaligned<std::uint64_t>(p));
    p += 8;
    std::string entry;  // the previous entry, then this one
    std::uint64_t loaded = 0;
    bool damaged = false;
    index.assign_sorted([&](std::string_view& key, std::string_view& payload) {
        if (loaded == count) return false;
        std::uint64_t shared = 0;
        std::uint64_t rest = 0;
        if ((p = get_varint(p, end, shared)) == nullptr || (p = get_varint(p, end, rest)) == nullptr ||
            shared > entry.size() || rest > static_cast<std::uint64_t>(end - p)) {
            damaged = true;
            return false;
        }
        // Entries ascend: this one differs from the previous where the shared bytes end,
        // with a greater byte, or goes on past its end.
        const bool ascends =
            loaded == 0 || (rest != 0 && (shared == entry.size() ||
                                          static_cast<unsigned char>(*p) > static_cast<unsigned char>(entry[shared])));
        entry.resize(static_cast<std::size_t>(shared));
        entry.append(p, static_cast<std::size_t>(rest));
        p += rest;
        if (!ascends || entry.size() < 8) {  // an entry is a deadline and a key
            damaged = true;
            return false;
        }
        key = entry;
        payload = {};
        ++loaded;
        return true;
    });
    if (!damaged && p == end) return true;
    index.clear();
    return false;
}

/// The path of the deadlines file (or its .tmp) in the store directory `directory`.
[[nodiscard]] inline std::string deadline_file_path(const std::string& directory, bool temporary = false) {
    const store_file_name name = store_file_name::deadlines();
    return directory + "/" + (temporary ? name.temporary() : name).str();
}

/// Reads the whole deadlines file of the store in directory into bytes; false when there
/// is none or it cannot be read, which only means the index is rebuilt another way.
template <class IO>
bool read_deadline_file(IO& io, const std::string& directory, std::string& bytes) {
    data_file<IO> file;
    std::error_code ec;
    std::uint64_t size = 0;
    if (!file.open(io, deadline_file_path(directory), O_RDONLY, ec) || !file.size(size, ec)) return false;
    bytes.resize(static_cast<std::size_t>(size));
    return file.read(0, bytes.data(), bytes.size(), ec);
}

/// Writes the deadlines file as the store's other files are written: to its .tmp name,
/// synced, renamed into place, and the directory synced. On failure the .tmp is removed.
template <class IO>
bool write_deadline_file(IO& io, const std::string& directory, std::string_view bytes, std::error_code& ec) {
    const std::string temporary = deadline_file_path(directory, true);
    const std::string final_path = deadline_file_path(directory);
    bool written = false;
    {
        data_file<IO> file;
        written =
            file.open(io, temporary, O_WRONLY | O_CREAT | O_TRUNC, ec) && file.write(0, bytes, ec) && file.sync(ec);
    }
    if (written && retry_on_eintr([&] { return io.rename(temporary.c_str(), final_path.c_str()); }) != 0) {
        fail_errno(ec, errno, "rename " + temporary + " to " + final_path);
        written = false;
    }
    if (!written) {
        io.unlink(temporary.c_str());
        return false;
    }
    return sync_directory(io, directory, ec);
}

/// Removes the deadlines file, when there is one, and syncs the directory, so that no
/// crash can bring the file back once the store has changed.
template <class IO>
bool remove_deadline_file(IO& io, const std::string& directory, std::error_code& ec) {
    const std::string path = deadline_file_path(directory);
    if (retry_on_eintr([&] { return io.unlink(path.c_str()); }) != 0) {
        if (errno == ENOENT) return true;
        fail_errno(ec, errno, "remove " + path);
        return false;
    }
    return sync_directory(io, directory, ec);
}

/// The deadlines file of an open writable store, reached through the store's I/O policy,
/// which this holds behind functions so that its owner need not be a template of it.
class deadline_file_access {
public:
    deadline_file_access() = default;
    template <class IO>
    deadline_file_access(IO io, std::string directory)
        : write_([io, directory](std::string_view bytes) mutable {
              std::error_code ignored;
              return write_deadline_file(io, directory, bytes, ignored);
          }),
          remove_([io, directory]() mutable {
              std::error_code ignored;
              try {
                  remove_deadline_file(io, directory, ignored);
              } catch (const std::bad_alloc&) {
                  // Left in place, a file that does not fit the data files is not used.
              }
          }),
          describe_(
              [io, directory](std::string& out) mutable { return detail::describe_data_files(io, directory, out); }) {}

    /// Whether there is a file to write (the store is open for writing).
    explicit operator bool() const noexcept { return static_cast<bool>(write_); }
    /// Writes the file; false when it could not be written (then there is none).
    bool write(std::string_view bytes) const { return write_(bytes); }
    /// Removes the file, if it can.
    void remove() const noexcept { remove_(); }
    /// describe_data_files() of the store's directory.
    bool describe_data_files(std::string& out) const { return describe_(out); }

private:
    std::function<bool(std::string_view)> write_;
    std::function<void()> remove_;
    std::function<bool(std::string&)> describe_;
};

}  // namespace kvforge::detail
