// What every persistent configuration keeps across close and reopen, and how it
// recovers from a torn tail. Configurations that keep nothing skip these; those with no
// files (redis_cluster) run the reopen only.

#include <catch2/catch.hpp>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "store_configs.hpp"

using namespace kvforge_test;
namespace fs = std::filesystem;

namespace {

/// The path of the store's data file (there is exactly one at rest). Unused where no
/// configuration has files.
[[maybe_unused]] std::string data_file_of(const std::string& directory) {
    for (const auto& entry : fs::directory_iterator(directory)) {
        if (entry.path().extension() == ".kvlog") return entry.path().string();
    }
    FAIL("no data file in " << directory);
    return {};
}

}  // namespace

TEMPLATE_LIST_TEST_CASE("writes survive close and reopen", "[conformance][persistence]", all_configs) {
    if constexpr (test_store<TestType>::persistent) {
        test_store<TestType> db;
        std::map<std::string, std::string> expected;
        for (int i = 0; i < 500; ++i) {
            const std::string key = "key" + std::to_string(i % 300);
            expected[key] = std::string(i % 50, 'a' + i % 26);
            db->put(key, expected[key]);
        }
        for (int i = 0; i < 300; i += 7) {
            db->erase("key" + std::to_string(i));
            expected.erase("key" + std::to_string(i));
        }
        if constexpr (takes_any_batch<TestType>) {
            typename TestType::batch_type batch;
            batch.put("batched", "yes");
            batch.erase("key1");
            expected["batched"] = "yes";
            expected.erase("key1");
            db->write(batch);
        }

        db.reopen();
        CHECK(db->size() == expected.size());
        for (const auto& [key, value] : expected) REQUIRE(db->get(key) == std::optional<std::string>(value));
        CHECK_FALSE(db->contains("key0"));
        if constexpr (has_files<TestType>) CHECK(db->stats().recovered_records > 0);

        // And once more, now that a hint file was written at close.
        db->put("after", "reopen");
        db.reopen();
        CHECK(db->get("after") == std::optional<std::string>("reopen"));
        CHECK(db->size() == expected.size() + 1);
    }
}

TEMPLATE_LIST_TEST_CASE("compaction reclaims the space of overwritten and erased records",
                        "[conformance][persistence][compaction]", all_configs) {
    if constexpr (has_files<TestType>) {
        options opts;
        opts.compact_dead_ratio = 0;  // compact only when asked
        test_store<TestType> db(opts);
        const std::string value(200, 'v');
        for (int round = 0; round < 20; ++round) {
            for (int i = 0; i < 100; ++i) db->put("key" + std::to_string(i), value + std::to_string(round));
        }
        for (int i = 50; i < 100; ++i) db->erase("key" + std::to_string(i));
        db->sync();
        const kvforge::stats before = db->stats();
        CHECK(before.dead_bytes > 19 * 100 * 200);

        db->compact();
        const kvforge::stats after = db->stats();
        CHECK(after.dead_bytes == 0);
        CHECK(after.compactions == before.compactions + 1);
        CHECK(after.live_keys == 50);
        // What is left on disk is the live records, their headers and the file header.
        CHECK(after.disk_bytes < before.disk_bytes / 10);
        CHECK(fs::file_size(data_file_of(db.path())) < 50 * (200 + 2 + 5 + 16) + 64);
        for (int i = 0; i < 50; ++i) REQUIRE(db->get("key" + std::to_string(i)) == value + "19");

        db.reopen();
        CHECK(db->size() == 50);
        CHECK(db->get("key7") == std::optional<std::string>(value + "19"));
    }
}

TEMPLATE_LIST_TEST_CASE("automatic compaction keeps the file near its live size", "[conformance][persistence][compaction]",
                        all_configs) {
    if constexpr (has_files<TestType>) {
        options opts;
        opts.compact_min_bytes = 256 << 10;
        opts.compact_dead_ratio = 0.5;
        test_store<TestType> db(opts);
        const std::string value(100, 'x');
        for (int round = 0; round < 40; ++round) {
            for (int i = 0; i < 500; ++i) db->put("key" + std::to_string(i), value);
        }
        db->sync();
        // Without compaction the files would hold 40 copies of every record.
        const auto compacted = [&] {
            const kvforge::stats s = db->stats();
            return s.compactions > 0 && s.disk_bytes < 500 * (100 + 16) * 6;
        };
        // With thread_safe, compaction runs on a thread of the store's own and goes on
        // after the last write: wait for it, failing after a minute.
        const auto limit = std::chrono::steady_clock::now() + std::chrono::minutes(1);
        while (!compacted() && std::chrono::steady_clock::now() < limit) std::this_thread::yield();
        const kvforge::stats s = db->stats();
        CHECK(s.compactions > 0);
        CHECK(s.disk_bytes < 500 * (100 + 16) * 6);
        CHECK(db->size() == 500);
        db.reopen();
        CHECK(fs::file_size(data_file_of(db.path())) < 500 * (100 + 16) * 6);
    }
}

TEMPLATE_LIST_TEST_CASE("a torn last record is cut at every byte offset, and writes go on after it",
                        "[conformance][persistence][recovery]", all_configs) {
    if constexpr (has_files<TestType>) {
        temp_dir scratch;
        std::string file;
        std::uintmax_t full_size = 0;
        std::uintmax_t before_last = 0;
        {
            test_store<TestType> db;
            db->put("first", "one");
            db->put("second", "two");
            db->sync();
            before_last = fs::file_size(data_file_of(db.path()));
            db->put("last", "a value of some length");
            db->close();
            file = data_file_of(db.path());
            full_size = fs::file_size(file);
            // Keep a pristine copy of the store's data file, and of the list of segments
            // that names it (a log store's).
            fs::copy_file(file, scratch / "pristine");
            const fs::path list = fs::path(db.path()) / "SEGMENTS";
            if (fs::exists(list)) fs::copy_file(list, scratch / "pristine-list");
            db.reopen();  // reopened so the test_store can close it cleanly at the end
        }
        REQUIRE(full_size > before_last);
        for (std::uintmax_t cut = before_last; cut < full_size; ++cut) {
            INFO("data file cut to " << cut << " of " << full_size << " bytes");
            test_store<TestType> db;
            db->close();
            const std::string target = data_file_of(db.path());
            fs::remove(fs::path(db.path()) / (fs::path(target).stem().string() + ".kvhint"));
            fs::copy_file(scratch / "pristine", target, fs::copy_options::overwrite_existing);
            if (fs::exists(scratch / "pristine-list")) {
                fs::copy_file(scratch / "pristine-list", fs::path(db.path()) / "SEGMENTS",
                              fs::copy_options::overwrite_existing);
            }
            fs::resize_file(target, cut);
            db.reopen();
            CHECK(db->get("first") == std::optional<std::string>("one"));
            CHECK(db->get("second") == std::optional<std::string>("two"));
            CHECK_FALSE(db->contains("last"));
            CHECK(db->size() == 2);
            CHECK(db->stats().recovered_bytes_cut == cut - before_last);
            db->put("later", "accepted");
            db.reopen();
            CHECK(db->get("later") == std::optional<std::string>("accepted"));
            CHECK(db->size() == 3);
            CHECK(db->verify().ok());
        }
    }
}

TEMPLATE_LIST_TEST_CASE("a zero-filled tail is cut like a torn one", "[conformance][persistence][recovery]",
                        all_configs) {
    if constexpr (has_files<TestType>) {
        test_store<TestType> db;
        db->put("kept", "yes");
        db->close();
        {
            std::ofstream out(data_file_of(db.path()), std::ios::binary | std::ios::app);
            out << std::string(4096, '\0');
        }
        db.reopen();
        CHECK(db->get("kept") == std::optional<std::string>("yes"));
        CHECK(db->stats().recovered_bytes_cut == 4096);
        CHECK(db->verify().ok());
    }
}
