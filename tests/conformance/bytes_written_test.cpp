// stats().bytes_written and stats().segments on every configuration: the bytes a store
// writes are those its files grow by, compaction's output included (a log store's output
// segment and hint, a table store's tables and their list); stores without files
// (memory, redis_cluster) write none.

#include <catch2/catch.hpp>

#include <kvforge/kvforge.hpp>

#include <sys/stat.h>

#include <cstdint>
#include <filesystem>
#include <map>
#include <string>

#include "store_configs.hpp"

using namespace kvforge_test;

namespace {

/// A file of a store's directory as one moment saw it.
struct file_state {
    ino_t inode = 0;
    std::uint64_t size = 0;
};

/// Every file of directory by name. (This and the next are unused where no configuration
/// has files.)
[[maybe_unused]] std::map<std::string, file_state> files_in(const std::string& directory) {
    std::map<std::string, file_state> files;
    for (const auto& entry : std::filesystem::directory_iterator(directory)) {
        struct stat info {};
        REQUIRE(::stat(entry.path().c_str(), &info) == 0);
        if (S_ISREG(info.st_mode)) {
            files[entry.path().filename().string()] = {info.st_ino, static_cast<std::uint64_t>(info.st_size)};
        }
    }
    return files;
}

/// The bytes written to the directory between two moments: what a file kept since the
/// first grew by, and the whole of a file made since (a new file, or one replaced by a
/// rename).
[[maybe_unused]] std::uint64_t bytes_grown(const std::map<std::string, file_state>& before,
                                           const std::map<std::string, file_state>& after) {
    std::uint64_t grown = 0;
    for (const auto& [name, now] : after) {
        const auto then = before.find(name);
        const bool kept = then != before.end() && then->second.inode == now.inode;
        REQUIRE((!kept || now.size >= then->second.size));
        grown += kept ? now.size - then->second.size : now.size;
    }
    return grown;
}

}  // namespace

TEMPLATE_LIST_TEST_CASE("bytes_written counts every byte written to the store's files", "[conformance][stats]",
                        all_configs) {
    test_store<TestType> db;
    if constexpr (!has_files<TestType>) {
        for (int i = 0; i < 100; ++i) db->put("key" + std::to_string(i), std::string(50, 'v'));
        const kvforge::stats s = db->stats();
        CHECK(s.bytes_written == 0);
        CHECK(s.segments == 0);
        CHECK(s.disk_bytes == 0);
    } else {
        const std::string path = db.path();
        // Closes and opens the store again; gives what the open wrote (the close may write
        // too, a hint for instance, counted before it).
        const auto reopen_writes = [&] {
            db->close();
            const auto closed = files_in(path);
            db.reopen();
            return bytes_grown(closed, files_in(path));
        };
        const kvforge::stats opened = db->stats();
        CHECK(opened.segments == 1);
        // A new store wrote its files' headers and its MANIFEST.
        const auto files_opened = files_in(path);
        CHECK(opened.bytes_written == bytes_grown({}, files_opened));

        typename TestType::batch_type batch;
        for (int i = 0; i < 100; ++i) {
            db->put("key" + std::to_string(i), std::string(50, 'v'));
            if (i % 10 == 0) batch.put("batch" + std::to_string(i), "b");
            if (i % 20 == 0) db->erase("key" + std::to_string(i));
        }
        db->write(batch);
        db->sync();
        kvforge::stats written = db->stats();
        REQUIRE(written.compactions == 0);  // too few bytes for the suite's automatic compaction
        auto files_written = files_in(path);
        CHECK(written.bytes_written - opened.bytes_written == bytes_grown(files_opened, files_written));
        CHECK(written.segments == 1);

        if constexpr (keeps_tables<TestType>) {
            // compact() would flush the write buffer into a table and then merge that table
            // away, writing bytes no file keeps. The open flushes the log it replays, and
            // counts that table and its new log.
            const std::uint64_t open_wrote = reopen_writes();
            written = db->stats();
            CHECK(written.bytes_written == open_wrote);
            files_written = files_in(path);
        }
        db->compact();
        const kvforge::stats compacted = db->stats();
        REQUIRE(compacted.compactions == 1);
        // The output (a segment and its hint, or a table and the list of tables) and the new
        // active segment: two segments, or a table and the log.
        CHECK(compacted.bytes_written - written.bytes_written == bytes_grown(files_written, files_in(path)));
        CHECK(compacted.segments == 2);

        // Counted from the open on: a log store's open writes nothing, a table store's its
        // new log.
        const std::uint64_t open_wrote = reopen_writes();
        CHECK(db->stats().bytes_written == open_wrote);
        CHECK(db->stats().segments == 2);
    }
}
