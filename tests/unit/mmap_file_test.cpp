// mmap_file specifics: views that copy nothing and outlive growth, compaction and
// close; the same files as file_log; a full disk.

#include <catch2/catch.hpp>

#include <kvforge/kvforge.hpp>

#include <cerrno>
#include <memory>
#include <string>
#include <vector>

#include "../support/temp_dir.hpp"

using kvforge_test::temp_dir;
using mapped_store_mt = kvforge::store<std::string, std::string, kvforge::mmap_file, kvforge::thread_safe>;

TEST_CASE("get_view hands out the mapped bytes without copying them", "[mmap_file]") {
    temp_dir dir;
    mapped_store_mt db(dir / "db");
    db.put("key", "a value in the mapped file");
    db.sync();
    const auto first = db.get_view("key");
    const auto second = db.get_view("key");
    REQUIRE(first.has_value());
    CHECK(first->bytes() == "a value in the mapped file");
    CHECK(first->data() == second->data());  // both point into the one mapping
    CHECK_FALSE(db.get_view("missing").has_value());
}

TEST_CASE("a view stays valid while the file grows, is compacted and is closed", "[mmap_file]") {
    temp_dir dir;
    std::vector<kvforge::pinned_value> views;
    {
        mapped_store_mt db(dir / "db");
        for (int i = 0; i < 10; ++i) db.put("early" + std::to_string(i), "value" + std::to_string(i));
        db.sync();
        for (int i = 0; i < 10; ++i) views.push_back(*db.get_view("early" + std::to_string(i)));
        // Far past the first 1 MiB mapping: the store remaps, twice or more.
        const std::string big(1000, 'b');
        for (int i = 0; i < 5000; ++i) db.put("grow" + std::to_string(i), big);
        for (int i = 0; i < 10; ++i) db.put("early" + std::to_string(i), "replaced");
        db.compact();  // a new file; the old one is unlinked
        CHECK(db.get("early3") == std::optional<std::string>("replaced"));
        CHECK(db.stats().compactions == 1);
    }
    for (int i = 0; i < 10; ++i) CHECK(views[i].bytes() == "value" + std::to_string(i));
}

TEST_CASE("a view of a write still in the buffer is a copy that stays valid", "[mmap_file]") {
    temp_dir dir;
    kvforge::store<std::string, std::string, kvforge::mmap_file, kvforge::buffered<>> db(dir / "db");
    db.put("buffered", "not in the file yet");
    const auto view = db.get_view("buffered");
    db.put("buffered", "overwritten");
    db.flush();
    REQUIRE(view.has_value());
    CHECK(view->bytes() == "not in the file yet");
    CHECK(db.get_view("buffered")->bytes() == "overwritten");
}

TEST_CASE("file_log and mmap_file open each other's files", "[mmap_file]") {
    temp_dir dir;
    {
        kvforge::store<std::string, std::string, kvforge::file_log> db(dir / "db");
        db.put("written by", "file_log");
    }
    {
        mapped_store_mt db(dir / "db");
        CHECK(db.get("written by") == std::optional<std::string>("file_log"));
        db.put("and by", "mmap_file");
    }
    kvforge::store<std::string, std::string, kvforge::file_log, kvforge::sorted_index> db(dir / "db");
    CHECK(db.get("and by") == std::optional<std::string>("mmap_file"));
}

namespace {

/// POSIX I/O whose writes fail with ENOSPC once the shared countdown runs out.
struct full_disk_io : kvforge::posix_io {
    std::shared_ptr<int> writes_left = std::make_shared<int>(1000000);
    ssize_t pwrite(int fd, const void* data, std::size_t size, off_t offset) noexcept {
        if (--*writes_left < 0) {
            errno = ENOSPC;
            return -1;
        }
        return kvforge::posix_io::pwrite(fd, data, size, offset);
    }
};

}  // namespace

TEST_CASE("a full disk fails the write clearly and the store stays readable", "[mmap_file][failure]") {
    temp_dir dir;
    full_disk_io io;
    kvforge::store<std::string, std::string, kvforge::mmap_file, kvforge::sync_each, full_disk_io> db(dir / "db", {},
                                                                                                       io);
    for (int i = 0; i < 100; ++i) db.put("key" + std::to_string(i), std::string(100, 'v'));
    *io.writes_left = 0;
    std::error_code ec;
    db.put("one too many", "v", ec);
    CHECK(ec == std::errc::no_space_on_device);
    CHECK_THAT(kvforge::last_error_message(), Catch::Contains("write"));
    CHECK_FALSE(db.contains("one too many"));
    for (int i = 0; i < 100; ++i) REQUIRE(db.get("key" + std::to_string(i)) == std::string(100, 'v'));
    CHECK(db.get_view("key7")->bytes() == std::string(100, 'v'));
}
