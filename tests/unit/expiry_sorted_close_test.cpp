// A sorted expiring file store rolls its active segment over and sorts it at close: the
// deadlines file is written after that, so it describes the data files as they are left,
// it is still there after the close, and the next open can load it instead of reading
// every value.

#include <catch2/catch.hpp>

#include <chrono>
#include <filesystem>
#include <string>

#include <kvforge/kvforge.hpp>

#include "../support/file_bytes.hpp"
#include "../support/temp_dir.hpp"
#include "../support/test_clock.hpp"

using namespace std::chrono_literals;
using kvforge_test::read_file;
using kvforge_test::temp_dir;
using kvforge_test::test_clock;
namespace fs = std::filesystem;

namespace {

using sorted_expiring_log =
    kvforge::store<std::string, std::string, kvforge::file_log, kvforge::sorted_index, kvforge::expiring<test_clock>>;

constexpr int close_key_count = 200;
constexpr std::size_t value_size = 1000;

/// Segments small enough that the keys fill three and the active one holds more than a
/// sixteenth at close, and sorting from the first byte on: the close rolls and sorts.
kvforge::options sorted_close_segments() {
    kvforge::options o;
    o.segment_bytes = 64 << 10;
    o.compact_min_bytes = 0;
    return o;
}

std::string close_key(int i) { return "key" + std::to_string(1000 + (i * 7919) % close_key_count); }

}  // namespace

TEST_CASE("a sorted expiring store's close leaves a deadlines file the next open loads", "[expiry][reopen][sorted]") {
    temp_dir dir;
    const std::string path = dir / "store";
    const std::string deadlines = path + "/deadlines";
    const test_clock::time_point deadline = test_clock::now() + 1h;
    {
        sorted_expiring_log db(path, sorted_close_segments());
        // In no key order, so that the segments are sorted.
        for (int i = 0; i < close_key_count; ++i) db.put(close_key(i), std::string(value_size, 'v'), deadline);
        db.close();
    }
    REQUIRE(fs::exists(deadlines));

    // The file fits the data files as the close left them, as an open checks.
    kvforge::posix_io io;
    std::string data_files;
    REQUIRE(kvforge::detail::describe_data_files(io, path, data_files));
    kvforge::detail::btree_table index;
    CHECK(kvforge::detail::load_deadline_file(read_file(deadlines), close_key_count, data_files, index));
    CHECK(index.size() == close_key_count);

    // The open loads it (and removes it before anything can change the store); the
    // store holds every key with its deadline, and its close writes the file again.
    {
        sorted_expiring_log db(path, sorted_close_segments());
        CHECK_FALSE(fs::exists(deadlines));
        CHECK(db.size() == close_key_count);
        CHECK(db.get(close_key(3)) == std::string(value_size, 'v'));
        CHECK(db.expiry(close_key(3)) == deadline);
        test_clock::advance(1h);
        CHECK(db.size() == 0);
        CHECK(db.purge_expired() == close_key_count);
    }
    CHECK(fs::exists(deadlines));
}
