// A thread's read buffers give back the memory of a large value once it is read.

#include <catch2/catch.hpp>

#include <kvforge/kvforge.hpp>

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#if defined(__GLIBC__)
#include <malloc.h>
#endif

#include "../support/temp_dir.hpp"

namespace {

constexpr std::size_t large = std::size_t{8} << 20;

/// Heap bytes in use (mapped blocks included), where the C library says; 0 elsewhere.
std::size_t heap_in_use() {
#if defined(__GLIBC__)
    const struct mallinfo2 info = mallinfo2();
    return info.uordblks + info.hblkhd;
#else
    return 0;
#endif
}

/// Reads key through visit() (the path that copies the record into a buffer) and get();
/// checks the bytes, then what the heap and the thread's buffers kept beyond what the
/// store counts in its memory_bytes (a read cache's copy).
template <class Store>
void check_reads_keep_little(const Store& db, const std::string& key, const std::string& value) {
    const std::size_t counted_before = db.stats().memory_bytes;
    const std::size_t heap_before = heap_in_use();
    std::size_t seen = 0;
    bool same = false;
    REQUIRE(db.visit(key, [&](std::string_view bytes) {
        seen = bytes.size();
        same = bytes == value;
    }));
    CHECK(seen == value.size());
    CHECK(same);
    CHECK(db.get(key) == std::optional<std::string>(value));
    const std::size_t heap_after = heap_in_use();
    const std::size_t counted_after = db.stats().memory_bytes;
    INFO("heap in use before " << heap_before << ", after " << heap_after << "; counted before " << counted_before
                               << ", after " << counted_after);
    CHECK(heap_after < heap_before + (counted_after - counted_before) + large / 4);
    CHECK(kvforge::detail::thread_buffers_capacity() <= 3 * kvforge::detail::thread_buffer_keep);
}

}  // namespace

TEST_CASE("reading a large value leaves the thread's read buffers small", "[file_log][read_cache][memory]") {
    kvforge_test::temp_dir dir;
    const std::string value(large, 'x');
    SECTION("a file_log store, the record read with pread") {
        kvforge::store<std::string, std::string, kvforge::file_log> db(dir / "db");
        db.put("big", value);
        db.flush();
        check_reads_keep_little(db, "big", value);
    }
    SECTION("a file_log store, the record still in the writer's buffer") {
        kvforge::store<std::string, std::string, kvforge::file_log, kvforge::buffered<(std::size_t{32} << 20), 60000>>
            db(dir / "db");
        db.put("big", value);
        check_reads_keep_little(db, "big", value);
    }
    SECTION("a file_log store with a read cache that keeps the value") {
        kvforge::store<std::string, std::string, kvforge::file_log, kvforge::read_cache<>> db(
            dir / "db", kvforge::options{.cache_budget = std::uint64_t{64} << 20});
        db.put("big", value);
        db.flush();
        check_reads_keep_little(db, "big", value);
        CHECK(db.stats().hits == 1);
    }
}
