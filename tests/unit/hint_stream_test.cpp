// The active segment's hint goes to its .tmp a block at a time as its entries fill them,
// and is finished (last blocks, counts, CRC, sync, rename) when the segment closes. The
// file it leaves is byte for byte the one a hint built whole in memory would be; a crash
// while its .tmp is half written loses nothing; a failure writing it drops that hint only.

#include <catch2/catch.hpp>

#include <kvforge/kvforge.hpp>
#include <kvforge/stores/log/hint.hpp>

#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <csignal>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "../support/file_bytes.hpp"
#include "../support/temp_dir.hpp"

namespace fs = std::filesystem;
using kvforge::detail::file_header;
using kvforge::detail::hint_builder;
using kvforge::detail::hint_entry;
using kvforge::detail::hint_identity;
using kvforge::detail::record_type;
using kvforge_test::read_file;
using kvforge_test::temp_dir;

namespace {

constexpr const char* first_data = "data-0000000001.kvlog";
constexpr const char* first_hint = "data-0000000001.kvhint";
constexpr const char* first_hint_tmp = "data-0000000001.kvhint.tmp";
constexpr const char* second_hint = "data-0000000002.kvhint";

std::string stream_key(int i) { return "key" + std::to_string(i); }
std::string stream_value(int i) { return std::to_string(i) + std::string(100, 'v'); }

kvforge::options segments_of(std::uint64_t mib) {
    kvforge::options opts;
    opts.segment_bytes = mib << 20;
    opts.compact_dead_ratio = 0;  // the segments stay as written
    return opts;
}

std::string concatenated(const std::vector<std::string_view>& pieces) {
    std::string bytes;
    for (const std::string_view piece : pieces) bytes.append(piece);
    return bytes;
}

/// The hint a builder that keeps every block in memory makes of the entries `hint` lists,
/// the hint of the data file at data_path; empty when `hint` fails its checks.
std::string rebuilt_whole(const std::string& hint, const fs::path& data_path, std::uint64_t& entries) {
    const std::string data = read_file(data_path);
    file_header header;
    REQUIRE(file_header::decode(data, kvforge::detail::file_kind::data, header) == file_header::problem::none);
    const hint_identity identity{header.generation, header.codec_fingerprint, header.file_id,
                                 file_header::size_of(header.version)};
    hint_builder whole(identity);
    entries = 0;
    const std::uint64_t covered = kvforge::detail::read_hint(
        hint, identity, data.size(), [](std::uint64_t, std::uint64_t) {},
        [&](const hint_entry& entry) {
            whole.add(entry);
            ++entries;
        });
    if (covered == 0) return {};
    return concatenated(whole.finish(covered));
}

/// Reads the hint of the first segment back and checks that it is the one a builder
/// holding every block would make, listing `expected` entries.
void check_first_hint(const fs::path& path, std::uint64_t expected) {
    const std::string on_disk = read_file(path / first_hint);
    REQUIRE(on_disk.size() > 2 * hint_builder::block_size);
    std::uint64_t entries = 0;
    const std::string whole = rebuilt_whole(on_disk, path / first_data, entries);
    CHECK(entries == expected);
    CHECK(whole == on_disk);
}

/// An I/O policy whose writes, or syncs, to the .tmp of one hint fail with EIO.
struct hint_failing_io : kvforge::posix_io {
    struct state {
        std::string target;  // the file name whose .tmp fails
        bool fail_sync = false;
        std::atomic<int> fd{-1};
        std::atomic<int> failures{0};
    };
    std::shared_ptr<state> shared = std::make_shared<state>();

    int open(const char* path, int flags, mode_t mode) noexcept {
        const int fd = posix_io::open(path, flags, mode);
        if (std::string_view(path).ends_with(shared->target + ".tmp")) shared->fd = fd;
        return fd;
    }
    int close(int fd) noexcept {
        if (fd == shared->fd) shared->fd = -1;  // the number may be reused by another file
        return posix_io::close(fd);
    }
    ssize_t pwrite(int fd, const void* buffer, std::size_t size, off_t offset) noexcept {
        if (!shared->fail_sync && fd == shared->fd) return fail();
        return posix_io::pwrite(fd, buffer, size, offset);
    }
    int fdatasync(int fd) noexcept {
        if (shared->fail_sync && fd == shared->fd) return fail();
        return posix_io::fdatasync(fd);
    }

private:
    int fail() noexcept {
        ++shared->failures;
        errno = EIO;
        return -1;
    }
};

}  // namespace

TEST_CASE("crc32c_combine gives the CRC of two runs of bytes one after the other", "[hint][crc]") {
    std::string bytes(70000, '\0');
    for (std::size_t i = 0; i < bytes.size(); ++i) bytes[i] = static_cast<char>(i * 131 + (i >> 8));
    for (const std::size_t split : {std::size_t{0}, std::size_t{1}, std::size_t{16}, std::size_t{4097}, bytes.size()}) {
        const std::string_view first = std::string_view(bytes).substr(0, split);
        const std::string_view second = std::string_view(bytes).substr(split);
        CHECK(kvforge::detail::crc32c_combine(kvforge::detail::crc32c(first), kvforge::detail::crc32c(second),
                                              second.size()) == kvforge::detail::crc32c(bytes));
    }
}

TEST_CASE("a hint handed out a block at a time is byte for byte the one built whole", "[hint]") {
    const hint_identity identity{7, 0x1234abcd, 99, file_header::size};
    hint_builder streamed(identity);
    hint_builder whole(identity);
    std::string written;  // what went to the file as blocks filled
    std::uint64_t offset = identity.records_start;
    int blocks_handed_out = 0;
    const int count = 60000;
    for (int i = 0; i < count; ++i) {
        const std::string key = stream_key(i);
        hint_entry entry;
        entry.type = i % 7 == 3 ? record_type::erase : record_type::put;
        entry.key = key;
        entry.value_size = static_cast<std::uint32_t>(i % 300);
        offset += static_cast<std::uint64_t>(i % 5);  // a gap now and then
        entry.offset = offset;
        offset += entry.record_size();
        streamed.add(entry);
        whole.add(entry);
        while (streamed.has_full_block()) {
            REQUIRE(streamed.handed_out() == written.size());
            written.append(streamed.full_block());
            streamed.release_full_block();
            ++blocks_handed_out;
        }
    }
    REQUIRE(blocks_handed_out >= 3);
    const std::vector<std::string_view> rest = streamed.finish(offset);
    REQUIRE(streamed.handed_out() == written.size());
    written += concatenated(rest);
    written.replace(file_header::size, streamed.counts().size(), streamed.counts());

    const std::string expected = concatenated(whole.finish(offset));
    CHECK(written == expected);
    const kvforge::detail::hint_check checked = kvforge::detail::check_hint(written, identity, offset);
    CHECK(checked.passed());
    CHECK(checked.entries == static_cast<std::uint64_t>(count));
}

TEMPLATE_TEST_CASE("the active segment's hint is written as its blocks fill and finished at close", "[hint][segments]",
                   kvforge::single_thread, kvforge::thread_safe) {
    using store_type = kvforge::store<std::string, std::string, kvforge::file_log, TestType>;
    temp_dir dir;
    const fs::path path = dir / "db";
    const int count = 40000;  // about 4 blocks of entries, 5 MiB of records
    {
        store_type db(path.string(), segments_of(16));
        for (int i = 0; i < count; ++i) db.put(stream_key(i), stream_value(i));
        REQUIRE(db.stats().segments == 1);
        // The full blocks are on disk already, in the .tmp; the hint is not yet there.
        CHECK(fs::file_size(path / first_hint_tmp) >= 2 * hint_builder::block_size);
        CHECK(fs::file_size(path / first_hint_tmp) % hint_builder::block_size == 0);
        CHECK_FALSE(fs::exists(path / first_hint));
    }
    CHECK_FALSE(fs::exists(path / first_hint_tmp));
    check_first_hint(path, count);

    // Reopened onto the same segment, the hint gathered so far goes on, blocks and all.
    {
        store_type db(path.string(), segments_of(16));
        for (int i = count; i < 2 * count; ++i) db.put(stream_key(i), stream_value(i));
        REQUIRE(db.stats().segments == 1);
    }
    check_first_hint(path, 2 * count);
    store_type db(path.string(), segments_of(16));
    CHECK(db.size() == static_cast<std::size_t>(2 * count));
    CHECK(db.get(stream_key(0)) == stream_value(0));
    CHECK(db.get(stream_key(2 * count - 1)) == stream_value(2 * count - 1));
}

TEST_CASE("a store killed while its hint's .tmp is half written reopens with every record", "[hint][crash]") {
    using store_type = kvforge::store<std::string, std::string, kvforge::file_log>;
    temp_dir dir;
    const fs::path path = dir / "db";
    const int count = 20000;
    int ready[2];
    REQUIRE(::pipe(ready) == 0);
    const pid_t child = ::fork();
    REQUIRE(child >= 0);
    if (child == 0) {
        ::close(ready[0]);
        {
            store_type db(path.string(), segments_of(16));
            for (int i = 0; i < count; ++i) db.put(stream_key(i), stream_value(i));
            db.sync();
            const char done = 1;
            if (::write(ready[1], &done, 1) != 1) ::_exit(1);
            for (;;) ::pause();  // killed here, the store open
        }
    }
    ::close(ready[1]);
    char done = 0;
    const bool child_ready = ::read(ready[0], &done, 1) == 1;
    ::close(ready[0]);
    ::kill(child, SIGKILL);
    int status = 0;
    REQUIRE(::waitpid(child, &status, 0) == child);
    REQUIRE(child_ready);
    REQUIRE(WIFSIGNALED(status));
    // Blocks of entries, without their counts or CRC.
    REQUIRE(fs::file_size(path / first_hint_tmp) >= hint_builder::block_size);
    REQUIRE_FALSE(fs::exists(path / first_hint));

    store_type db(path.string(), segments_of(16));
    CHECK_FALSE(fs::exists(path / first_hint_tmp));
    REQUIRE(db.size() == static_cast<std::size_t>(count));
    for (int i = 0; i < count; i += 97) CHECK(db.get(stream_key(i)) == stream_value(i));
    CHECK(db.get(stream_key(count - 1)) == stream_value(count - 1));
    CHECK(db.verify().ok());
}

TEST_CASE("a failure writing a segment's hint drops that hint only", "[hint][errors]") {
    using store_type = kvforge::store<std::string, std::string, kvforge::file_log, hint_failing_io>;
    temp_dir dir;
    const fs::path path = dir / "db";
    hint_failing_io io;
    io.shared->target = first_hint;
    SECTION("a block's write") { io.shared->fail_sync = false; }
    SECTION("the sync when it is finished") { io.shared->fail_sync = true; }
    int count = 0;
    {
        store_type db(path.string(), segments_of(4), io);
        while (db.stats().segments < 3) {
            REQUIRE(count < 200000);
            std::error_code ec;
            db.put(stream_key(count), stream_value(count), ec);
            REQUIRE_FALSE(ec);
            ++count;
        }
        CHECK(io.shared->failures > 0);
        CHECK(db.get(stream_key(0)) == stream_value(0));
        CHECK(db.get(stream_key(count - 1)) == stream_value(count - 1));
        // Finished or given up: the first segment's .tmp is gone, the second's hint is in place.
        CHECK_FALSE(fs::exists(path / first_hint_tmp));
        CHECK_FALSE(fs::exists(path / first_hint));
        std::error_code ec;
        db.close(ec);
        CHECK_FALSE(ec);
    }
    CHECK_FALSE(fs::exists(path / first_hint));
    CHECK(fs::exists(path / second_hint));
    store_type db(path.string(), segments_of(4), io);
    CHECK(db.size() == static_cast<std::size_t>(count));
    for (int i = 0; i < count; i += 101) CHECK(db.get(stream_key(i)) == stream_value(i));
    CHECK(db.verify().ok());
}
