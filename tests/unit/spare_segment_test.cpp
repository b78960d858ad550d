// Once the active segment is half full, the next segment is prepared ahead of need as a
// .tmp holding its header (the spare segment): by a later write (single_thread) or on the
// compaction thread (thread_safe). The next rollover only renames it into place. close()
// removes an unused spare, a crash leaves one that the next open removes, and neither
// backup(), compact() nor clear() takes it for a segment of the store.

#include <catch2/catch.hpp>

#include <kvforge/kvforge.hpp>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <thread>
#include <type_traits>
#include <vector>

#include "../support/file_bytes.hpp"
#include "../support/temp_dir.hpp"

namespace fs = std::filesystem;
using kvforge_test::read_file;
using kvforge_test::temp_dir;

namespace {

constexpr std::uint64_t segment_bytes = std::uint64_t{64} << 10;
constexpr std::uint64_t half_segment = segment_bytes / 2;

kvforge::options uncompacted_segments() {
    kvforge::options opts;
    opts.segment_bytes = segment_bytes;
    opts.compact_dead_ratio = 0;  // no automatic compaction: the segments stay as written
    return opts;
}

std::string segment_key(int i) { return "key" + std::to_string(i); }
std::string segment_value(int i) { return "value" + std::to_string(i) + std::string(100, 'v'); }

/// The names of path's files that end with suffix.
std::vector<std::string> files_ending(const fs::path& path, std::string_view suffix) {
    std::vector<std::string> names;
    for (const auto& entry : fs::directory_iterator(path)) {
        const std::string name = entry.path().filename().string();
        if (name.ends_with(suffix)) names.push_back(name);
    }
    return names;
}

std::vector<std::string> tmp_files(const fs::path& path) { return files_ending(path, ".tmp"); }

/// Spare segments: a hint's .tmp may also show while the hint is written.
std::vector<std::string> spare_segments(const fs::path& path) { return files_ending(path, ".kvlog.tmp"); }

/// Puts keys count, count + 1, ... until the store holds `segments` segments.
template <class Store>
void put_until_segments(Store& db, int& count, std::uint64_t segments) {
    const int limit = count + 10000;
    while (db.stats().segments < segments) {
        REQUIRE(count < limit);
        db.put(segment_key(count), segment_value(count));
        ++count;
    }
}

/// The bytes of the active segment, the segment file with the highest id, once the
/// writer's buffer is flushed.
template <class Store>
std::uintmax_t active_segment_bytes(Store& db, const fs::path& path) {
    db.flush();
    std::vector<std::string> segments = files_ending(path, ".kvlog");
    REQUIRE_FALSE(segments.empty());
    return fs::file_size(path / *std::max_element(segments.begin(), segments.end()));
}

constexpr bool single_threaded(const auto& db) {
    return std::is_same_v<typename std::remove_cvref_t<decltype(db)>::threading_policy, kvforge::single_thread>;
}

/// Puts until the active segment is half full, then waits until the spare segment is on
/// disk and returns its name: with single_thread the put that fills half of it runs the
/// step that prepares the spare, with thread_safe the compaction thread does. Fails after
/// ten seconds.
template <class Store>
std::string wait_for_spare(Store& db, const fs::path& path, int& count) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    for (;;) {
        const std::vector<std::string> spare = spare_segments(path);
        if (!spare.empty()) {
            REQUIRE(spare.size() == 1);
            // Only once made and synced, and newer than every segment: one seen while the
            // compaction thread still makes it may yet go, when a rollover made its own
            // segment meanwhile (names hold ten-digit generations, so they compare as such).
            std::error_code ec;
            const std::string& name = spare.front();
            if (fs::file_size(path / name, ec) == kvforge::detail::file_header::size &&
                std::ranges::none_of(files_ending(path, ".kvlog"),
                                     [&](const std::string& placed) { return placed > name; })) {
                return name;
            }
            REQUIRE(std::chrono::steady_clock::now() < deadline);
            std::this_thread::yield();
            continue;
        }
        REQUIRE(std::chrono::steady_clock::now() < deadline);
        if (single_threaded(db) || active_segment_bytes(db, path) < half_segment) {
            db.put(segment_key(count), segment_value(count));
            ++count;
        } else {
            std::this_thread::yield();
        }
    }
}

/// The segment's name a spare's .tmp is renamed to.
std::string placed_name(const std::string& spare) { return spare.substr(0, spare.size() - 4); }

template <class Store>
void check_records(Store& db, int count) {
    CHECK(db.size() == static_cast<std::size_t>(count));
    for (int i = 0; i < count; i += 97) CHECK(db.get(segment_key(i)) == std::optional<std::string>(segment_value(i)));
    CHECK(db.get(segment_key(count - 1)) == std::optional<std::string>(segment_value(count - 1)));
}

}  // namespace

TEMPLATE_TEST_CASE("the next segment waits as a .tmp, and the next rollover takes it", "[segments][spare]",
                   kvforge::single_thread, kvforge::thread_safe) {
    using store_type = kvforge::store<std::string, std::string, kvforge::file_log, TestType>;
    temp_dir dir;
    const fs::path path = dir / "db";
    int count = 0;
    {
        store_type db(path.string(), uncompacted_segments());
        // No spare in a small store: its active segment is not half full.
        db.put(segment_key(count), segment_value(count));
        ++count;
        CHECK(tmp_files(path).empty());
        put_until_segments(db, count, 2);
        const std::string spare = wait_for_spare(db, path, count);
        CHECK(spare.starts_with("data-"));
        CHECK(fs::file_size(path / spare) == kvforge::detail::file_header::size);
        CHECK_FALSE(fs::exists(path / placed_name(spare)));

        put_until_segments(db, count, 3);
        // The spare is the new active segment, under its own name; its header is the one
        // written as it was prepared.
        CHECK_FALSE(fs::exists(path / spare));
        REQUIRE(fs::exists(path / placed_name(spare)));
        db.sync();
        const std::string bytes = read_file(path / placed_name(spare));
        CHECK(bytes.find(segment_value(count - 1)) != std::string::npos);

        // A spare for the segment after it, removed by close().
        const std::string next = wait_for_spare(db, path, count);
        CHECK(next != spare);
        db.close();
        CHECK(tmp_files(path).empty());
        CHECK_FALSE(fs::exists(path / next));
    }
    store_type db(path.string(), uncompacted_segments());
    check_records(db, count);
}

TEMPLATE_TEST_CASE("the spare segment is made once the active segment is half full, not before", "[segments][spare]",
                   kvforge::single_thread, kvforge::thread_safe) {
    using store_type = kvforge::store<std::string, std::string, kvforge::file_log, TestType>;
    temp_dir dir;
    const fs::path path = dir / "db";
    int count = 0;
    store_type db(path.string(), uncompacted_segments());
    // In the first segment, as in every later one: none while it is under half full (a
    // single_thread store runs its steps within each put, so none was prepared).
    for (std::uint64_t segments = 1; segments <= 2; ++segments) {
        put_until_segments(db, count, segments);
        while (active_segment_bytes(db, path) < half_segment) {
            CHECK(spare_segments(path).empty());
            db.put(segment_key(count), segment_value(count));
            ++count;
        }
        // The put that filled half of it asked for the spare.
        if (single_threaded(db)) {
            CHECK(spare_segments(path).size() == 1);
        }
        const std::string spare = wait_for_spare(db, path, count);
        CHECK(fs::file_size(path / spare) == kvforge::detail::file_header::size);
        // The rollover takes it.
        put_until_segments(db, count, segments + 1);
        CHECK(spare_segments(path).empty());
        CHECK(fs::exists(path / placed_name(spare)));
    }
    db.close();
    store_type reopened(path.string(), uncompacted_segments());
    check_records(reopened, count);
    // The segment an open goes on appending to gets one too.
    const std::string spare = wait_for_spare(reopened, path, count);
    put_until_segments(reopened, count, reopened.stats().segments + 1);
    CHECK(fs::exists(path / placed_name(spare)));
    check_records(reopened, count);
}

TEMPLATE_TEST_CASE("a crash that leaves a spare segment reopens with every record and no .tmp",
                   "[segments][spare][crash]", kvforge::single_thread, kvforge::thread_safe) {
    using store_type = kvforge::store<std::string, std::string, kvforge::file_log, TestType>;
    temp_dir dir;
    const fs::path path = dir / "db";
    const fs::path crashed = dir / "crashed";
    int count = 0;
    {
        store_type db(path.string(), uncompacted_segments());
        put_until_segments(db, count, 2);
        wait_for_spare(db, path, count);
        db.sync();
        // The files as a crash would leave them now: the store is still open.
        fs::copy(path, crashed, fs::copy_options::recursive);
    }
    REQUIRE(spare_segments(crashed).size() == 1);
    store_type db(crashed.string(), uncompacted_segments());
    CHECK(tmp_files(crashed).empty());
    check_records(db, count);
    // The writes go on after the crash, across rollovers.
    put_until_segments(db, count, db.stats().segments + 2);
    db.close();
    store_type again(crashed.string(), uncompacted_segments());
    check_records(again, count);
}

TEMPLATE_TEST_CASE("a spare made before compact() or clear() never replays before their segments", "[segments][spare]",
                   kvforge::single_thread, kvforge::thread_safe) {
    using store_type = kvforge::store<std::string, std::string, kvforge::file_log, TestType>;
    temp_dir dir;
    const fs::path path = dir / "db";
    int count = 0;
    const bool clear = GENERATE(false, true);
    {
        store_type db(path.string(), uncompacted_segments());
        put_until_segments(db, count, 2);
        const std::string spare = wait_for_spare(db, path, count);
        // clear() drops keys 0 to count - 1; compact() keeps them.
        const int first = clear ? count : 0;
        if (clear) {
            db.clear();
        } else {
            db.compact();
        }
        // Overwrites of records the compaction kept, or new records after clear(), and
        // more across a rollover.
        for (int i = first; i < first + 10; ++i) db.put(segment_key(i), "newer");
        if (clear) count += 10;
        put_until_segments(db, count, db.stats().segments + 1);
        if (clear) {
            // The old spare was not taken: its id is below the segment clear() made.
            CHECK_FALSE(fs::exists(path / placed_name(spare)));
        }
        // compact() closes the active segment as a rollover does, taking the spare for the
        // writes after it: the spare's order is above that of compact()'s outputs, which
        // take the highest of the segments they replace, so it replays after them (the
        // overwrites below win at the reopen).
        db.close();
        CHECK(tmp_files(path).empty());
        store_type reopened(path.string(), uncompacted_segments());
        CHECK(reopened.size() == static_cast<std::size_t>(count - first));
        for (int i = first; i < first + 10; ++i)
            CHECK(reopened.get(segment_key(i)) == std::optional<std::string>("newer"));
        CHECK(reopened.get(segment_key(count - 1)) == std::optional<std::string>(segment_value(count - 1)));
        if (clear) CHECK_FALSE(reopened.get(segment_key(0)));
    }
}

TEMPLATE_TEST_CASE("a backup taken while a spare segment waits holds no .tmp", "[segments][spare][backup]",
                   kvforge::single_thread, kvforge::thread_safe) {
    using store_type = kvforge::store<std::string, std::string, kvforge::file_log, TestType>;
    temp_dir dir;
    const fs::path path = dir / "db";
    const fs::path copy = dir / "backup";
    int count = 0;
    store_type db(path.string(), uncompacted_segments());
    put_until_segments(db, count, 2);
    wait_for_spare(db, path, count);
    db.backup(copy.string());
    CHECK(tmp_files(copy).empty());
    CHECK(spare_segments(path).size() == 1);
    store_type restored(copy.string(), uncompacted_segments());
    check_records(restored, count);
}
