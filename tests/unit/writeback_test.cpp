// A store whose I/O policy has sync_file_range (io_policy_with_writeback) asks the kernel
// to start writing each megabyte back as it writes it, so that a sync, such as the one
// that closes a segment, waits only for the last bytes; a buffering writer is flushed
// ahead of the rollover, so that the write closing a segment writes and syncs only the
// segment's last stretch. The request is advice: one that fails changes nothing, and a
// policy without the call writes and syncs as before.

#include <catch2/catch.hpp>

#include <fcntl.h>
#include <sys/stat.h>

#include <kvforge/io/fault_injection.hpp>
#include <kvforge/io/simulated.hpp>
#include <kvforge/kvforge.hpp>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <iterator>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "../support/temp_dir.hpp"

using kvforge_test::temp_dir;

namespace {

/// One sync_file_range call: the file's name, the range asked for, the flags, and the
/// file's size then.
struct writeback_request {
    std::string path;
    std::uint64_t offset = 0;
    std::uint64_t length = 0;
    unsigned flags = 0;
    std::uint64_t file_size = 0;
};

/// One write, writeback request or sync of a file, in the order they were made.
struct file_event {
    enum kind { write, writeback, sync };
    kind what = write;
    std::string path;
    std::uint64_t offset = 0;
    std::uint64_t length = 0;
};

/// posix_io that records its sync_file_range calls, and fails them (EIO) when told to,
/// and every pwrite, sync_file_range and fdatasync as a file_event. Copies share what
/// they record, as the store keeps a copy of its policy.
struct recording_io : kvforge::posix_io {
    struct state {
        std::mutex mutex;
        std::map<int, std::string> open_paths;
        std::vector<writeback_request> requests;
        std::vector<file_event> events;
        bool fail_requests = false;
    };
    std::shared_ptr<state> shared = std::make_shared<state>();

    int open(const char* path, int flags, mode_t mode) noexcept {
        const int fd = kvforge::posix_io::open(path, flags, mode);
        if (fd >= 0) {
            const std::lock_guard lock(shared->mutex);
            shared->open_paths[fd] = path;
        }
        return fd;
    }

    int sync_file_range(int fd, off_t offset, off_t length, unsigned flags) noexcept {
        struct stat info {};
        ::fstat(fd, &info);
        const std::lock_guard lock(shared->mutex);
        shared->requests.push_back({shared->open_paths[fd], static_cast<std::uint64_t>(offset),
                                    static_cast<std::uint64_t>(length), flags,
                                    static_cast<std::uint64_t>(info.st_size)});
        shared->events.push_back({file_event::writeback, shared->open_paths[fd], static_cast<std::uint64_t>(offset),
                                  static_cast<std::uint64_t>(length)});
        if (shared->fail_requests) {
            errno = EIO;
            return -1;
        }
        return kvforge::posix_io::sync_file_range(fd, offset, length, flags);
    }

    ssize_t pwrite(int fd, const void* buffer, std::size_t size, off_t offset) noexcept {
        const ssize_t written = kvforge::posix_io::pwrite(fd, buffer, size, offset);
        if (written > 0) {
            const std::lock_guard lock(shared->mutex);
            shared->events.push_back({file_event::write, shared->open_paths[fd], static_cast<std::uint64_t>(offset),
                                      static_cast<std::uint64_t>(written)});
        }
        return written;
    }

    int fdatasync(int fd) noexcept {
        {
            const std::lock_guard lock(shared->mutex);
            shared->events.push_back({file_event::sync, shared->open_paths[fd], 0, 0});
        }
        return kvforge::posix_io::fdatasync(fd);
    }

    [[nodiscard]] std::vector<writeback_request> requests() const {
        const std::lock_guard lock(shared->mutex);
        return shared->requests;
    }

    [[nodiscard]] std::vector<file_event> events() const {
        const std::lock_guard lock(shared->mutex);
        return shared->events;
    }
};

static_assert(kvforge::io_policy_with_writeback<recording_io>);
static_assert(!kvforge::io_policy_with_writeback<kvforge::simulated_io>);
static_assert(!kvforge::io_policy_with_writeback<kvforge::fault_injecting_io<>>);

template <class IO, class Threading = kvforge::single_thread>
using store_on = kvforge::store<std::string, std::string, kvforge::file_log, kvforge::buffered<std::size_t{256} << 10>,
                                kvforge::hash_index, Threading, IO>;

kvforge::options four_megabyte_segments() {
    kvforge::options opts;
    opts.segment_bytes = std::uint64_t{4} << 20;
    opts.compact_dead_ratio = 0;  // no automatic compaction: the test runs one itself
    return opts;
}

constexpr int writeback_record_count = 80000;  // about 10 MiB of records: three segments
std::string writeback_key(int i) { return "key" + std::to_string(i); }
std::string writeback_value(int i, char fill) { return std::to_string(i) + std::string(120, fill); }

template <class Store>
void put_all(Store& db, char fill) {
    for (int i = 0; i < writeback_record_count; ++i) db.put(writeback_key(i), writeback_value(i, fill));
}

template <class Store>
void check_all(Store& db, char fill) {
    for (int i = 0; i < writeback_record_count; i += 997) REQUIRE(db.get(writeback_key(i)) == writeback_value(i, fill));
    REQUIRE(db.get(writeback_key(writeback_record_count - 1)) == writeback_value(writeback_record_count - 1, fill));
}

bool ends_with(const std::string& text, const std::string& suffix) {
    return text.size() >= suffix.size() && text.compare(text.size() - suffix.size(), suffix.size(), suffix) == 0;
}

}  // namespace

TEST_CASE("writes ask for the writeback of each megabyte of a segment, bytes already written", "[writeback]") {
    temp_dir dir;
    const std::string path = dir / "db";
    recording_io io;
    {
        store_on<recording_io> db(path, four_megabyte_segments(), io);
        put_all(db, 'a');
        REQUIRE(db.stats().segments >= 3);
    }
    const std::vector<writeback_request> requests = io.requests();
    std::map<std::string, std::uint64_t> asked_per_segment;
    for (const writeback_request& request : requests) {
        INFO(request.path << " at " << request.offset << ", " << request.length << " bytes");
        CHECK(request.flags == SYNC_FILE_RANGE_WRITE);
        // A megabyte at least, but for the request of the flush ahead of a rollover, in
        // the segment's last stretch (at most half a megabyte of its four).
        CHECK((request.length >= kvforge::detail::data_file<recording_io>::writeback_piece ||
               request.offset + request.length >= (std::uint64_t{7} << 19)));
        CHECK(request.offset + request.length <= request.file_size);
        // A segment is written under the name it was opened with: a spare's ends with .tmp.
        if (ends_with(request.path, ".kvlog") || ends_with(request.path, ".kvlog.tmp")) {
            asked_per_segment[request.path] += request.length;
        }
    }
    // Of each closed segment (all but the last, by name), three of its four megabytes at
    // least: all but what the writer wrote after its last request, less than a megabyte.
    REQUIRE(asked_per_segment.size() >= 3);
    asked_per_segment.erase(std::prev(asked_per_segment.end()));
    for (const auto& [segment, bytes] : asked_per_segment) {
        INFO(segment);
        CHECK(bytes >= std::uint64_t{3} << 20);
    }
    store_on<recording_io> reopened(path, four_megabyte_segments(), io);
    check_all(reopened, 'a');
}

TEST_CASE("a compaction's output asks for writeback as it is written", "[writeback]") {
    temp_dir dir;
    const std::string path = dir / "db";
    recording_io io;
    store_on<recording_io, kvforge::thread_safe> db(path, four_megabyte_segments(), io);
    put_all(db, 'a');
    const std::size_t before = io.requests().size();
    db.compact();
    const std::vector<writeback_request> requests = io.requests();
    REQUIRE(requests.size() > before);
    for (std::size_t i = before; i < requests.size(); ++i) {
        CHECK(requests[i].offset + requests[i].length <= requests[i].file_size);
    }
    check_all(db, 'a');
}

TEST_CASE("a writeback request that fails changes nothing", "[writeback]") {
    temp_dir dir;
    const std::string path = dir / "db";
    recording_io io;
    io.shared->fail_requests = true;
    {
        store_on<recording_io> db(path, four_megabyte_segments(), io);
        put_all(db, 'a');
        std::error_code ec;
        db.sync(ec);
        REQUIRE_FALSE(ec);
        put_all(db, 'b');
        check_all(db, 'b');
    }
    REQUIRE_FALSE(io.requests().empty());
    store_on<recording_io> reopened(path, four_megabyte_segments(), io);
    check_all(reopened, 'b');
}

TEST_CASE("a store on an I/O policy without sync_file_range writes and syncs as before", "[writeback]") {
    const auto file_system = std::make_shared<kvforge::simulated_file_system>();
    kvforge::simulated_io io(file_system);
    const std::string path = "/db";
    {
        store_on<kvforge::simulated_io> db(path, four_megabyte_segments(), io);
        put_all(db, 'a');
        REQUIRE(db.stats().segments >= 3);
    }
    file_system->crash();  // what was synced stays: every segment, closed at close()
    store_on<kvforge::simulated_io> reopened(path, four_megabyte_segments(), io);
    check_all(reopened, 'a');
}

TEST_CASE("sync_each's commits sync while other threads write and ask for writeback", "[writeback]") {
    using store_type = kvforge::store<std::string, std::string, kvforge::file_log, kvforge::sync_each,
                                      kvforge::hash_index, kvforge::thread_safe, recording_io>;
    temp_dir dir;
    const std::string path = dir / "db";
    recording_io io;
    constexpr int threads = 4;
    constexpr int per_thread = 2500;  // 10,000 records of about 1 KiB: writeback is asked for
    const std::string value(1000, 'x');
    {
        store_type db(path, four_megabyte_segments(), io);
        std::vector<std::thread> writers;
        for (int t = 0; t < threads; ++t) {
            writers.emplace_back([&, t] {
                for (int i = 0; i < per_thread; ++i) db.put(writeback_key(t * per_thread + i), value);
            });
        }
        for (std::thread& writer : writers) writer.join();
    }
    REQUIRE_FALSE(io.requests().empty());
    store_type reopened(path, four_megabyte_segments(), io);
    REQUIRE(reopened.size() == std::size_t{threads * per_thread});
    for (int i = 0; i < threads * per_thread; i += 101) REQUIRE(reopened.get(writeback_key(i)) == value);
}

TEMPLATE_TEST_CASE("a rollover writes and syncs only the last stretch of the segment it closes",
                   "[writeback][rollover]", kvforge::file_log, kvforge::mmap_file) {
    // Two megabytes buffered: without the flush ahead, the write that closes a segment
    // would write about that much and wait for all of it to reach the disk.
    using store_type = kvforge::store<std::string, std::string, TestType, kvforge::buffered<std::size_t{2} << 20>,
                                      kvforge::hash_index, kvforge::single_thread, recording_io>;
    constexpr std::uint64_t segment_bytes = std::uint64_t{4} << 20;  // four_megabyte_segments()
    constexpr std::uint64_t last_stretch = std::uint64_t{512} << 10;
    constexpr std::uint64_t largest_record = 256;  // a key, a value of some 125 bytes, and the record's framing
    temp_dir dir;
    const std::string path = dir / "db";
    recording_io io;
    {
        store_type db(path, four_megabyte_segments(), io);
        put_all(db, 'a');
        REQUIRE(db.stats().segments >= 3);
    }
    // Each segment's events, in order. The writer appends to segments made as a .tmp.
    std::map<std::string, std::vector<file_event>> per_segment;
    for (const file_event& event : io.events()) {
        if (ends_with(event.path, ".kvlog.tmp")) per_segment[event.path].push_back(event);
    }
    // The segments filled and closed by a rollover (not the active one, synced at close,
    // nor a spare never used).
    int closed = 0;
    for (const auto& [segment, events] : per_segment) {
        INFO(segment);
        std::uint64_t written_end = 0;
        for (const file_event& e : events) {
            if (e.what == file_event::write) written_end = std::max(written_end, e.offset + e.length);
        }
        if (written_end < segment_bytes) continue;
        ++closed;
        // The rollover's sync is the segment's last; the write before it is the rollover's.
        const auto closing_sync = std::find_if(events.rbegin(), events.rend(),
                                               [](const file_event& e) { return e.what == file_event::sync; });
        REQUIRE(closing_sync != events.rend());
        const auto closing_write =
            std::find_if(closing_sync, events.rend(), [](const file_event& e) { return e.what == file_event::write; });
        REQUIRE(closing_write != events.rend());
        // The stretch, and the record that crossed into it.
        CHECK(closing_write->length <= last_stretch + largest_record);
        CHECK(closing_write->offset + closing_write->length >= segment_bytes);
        // Every byte before it was asked for writeback before the rollover's write.
        std::uint64_t asked = 0;
        std::uint64_t asked_end = 0;
        for (auto e = closing_write; e != events.rend(); ++e) {
            if (e->what != file_event::writeback) continue;
            asked += e->length;
            asked_end = std::max(asked_end, e->offset + e->length);
        }
        CHECK(asked_end == closing_write->offset);
        CHECK(asked == closing_write->offset);
    }
    CHECK(closed >= 2);
    store_type reopened(path, four_megabyte_segments(), io);
    check_all(reopened, 'a');
}
