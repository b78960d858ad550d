// Segments on every configuration with files, with the smallest segment size so that a
// few hundred writes close several (a table store flushes its write buffer, of that size,
// into tables): the records read back (point reads and scans in key order) before and
// after reopen and compaction, stats().segments counts the data files (log segments and
// tables), disk_bytes their bytes and their hints', and a hint that does not belong to
// its segment is not used.

#include <catch2/catch.hpp>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "../support/file_bytes.hpp"
#include "../support/numbered_keys.hpp"
#include "store_configs.hpp"

using namespace kvforge_test;
namespace fs = std::filesystem;

namespace {

using model_type = std::map<std::string, std::string>;

kvforge::options small_segments(const kvforge::options& base) {
    kvforge::options opts = base;
    opts.segment_bytes = std::uint64_t{64} << 10;
    opts.compact_dead_ratio = 0;  // compaction only when asked, so that the segments stay as written
    return opts;
}

/// The data files (log segments, and a table store's tables) and hint files of a store's
/// directory, and their bytes.
struct files_on_disk {
    std::uint64_t data_files = 0;
    std::uint64_t bytes = 0;
};

files_on_disk files_of(const std::string& directory) {
    files_on_disk found;
    for (const auto& entry : fs::directory_iterator(directory)) {
        const std::string extension = entry.path().extension().string();
        const bool data = extension == ".kvlog" || extension == ".kvtable";
        if (data) ++found.data_files;
        if (data || extension == ".kvhint") found.bytes += entry.file_size();
    }
    return found;
}

/// Checks that stats() counts the data files on disk and their bytes. A thread_safe table
/// store flushes and merges tables on a thread of its own after the last write: the check
/// waits for the two to agree, failing after a minute.
template <class Store>
kvforge::stats check_counts_files(const Store& db, const std::string& path) {
    const auto agree = [&] {
        const kvforge::stats s = db.stats();
        const files_on_disk files = files_of(path);
        return s.segments == files.data_files && s.disk_bytes == files.bytes;
    };
    const auto limit = std::chrono::steady_clock::now() + std::chrono::minutes(1);
    while (!agree() && std::chrono::steady_clock::now() < limit) std::this_thread::yield();
    const kvforge::stats s = db.stats();
    const files_on_disk files = files_of(path);
    CHECK(s.segments == files.data_files);
    CHECK(s.disk_bytes == files.bytes);
    return s;
}

/// Puts, erases and batches over 1000 keys, 120-byte values: about 400 KB of records.
template <class Store>
void write_workload(Store& db, model_type& model, const std::string& tag) {
    for (int i = 0; i < 3000; ++i) {
        const std::string key = key_of(i * 7919 % 1000);
        if (i % 10 == 9) {
            db.erase(key);
            model.erase(key);
        } else if (i % 250 == 0) {
            typename Store::batch_type batch;
            batch.put(key, tag + std::to_string(i) + std::string(110, 'b'));
            batch.erase(key_of(i * 13 % 1000));
            db.write(batch);
            model[key] = tag + std::to_string(i) + std::string(110, 'b');
            model.erase(key_of(i * 13 % 1000));
        } else {
            db.put(key, tag + std::to_string(i) + std::string(110, 'v'));
            model[key] = tag + std::to_string(i) + std::string(110, 'v');
        }
    }
}

template <class Store>
void check_contents(const Store& db, const model_type& model) {
    REQUIRE(db.size() == model.size());
    for (const auto& [key, value] : model) REQUIRE(db.get(key) == std::optional<std::string>(value));
    if constexpr (is_ordered<Store>) {
        model_type scanned;
        std::vector<std::string> order;
        for (auto&& [key, value] : db.scan()) {
            order.push_back(std::string(key));
            scanned.emplace(std::string(key), std::string(value));
        }
        CHECK(scanned == model);
        CHECK(std::is_sorted(order.begin(), order.end()));
        CHECK(order.size() == model.size());
    }
}

}  // namespace

TEMPLATE_LIST_TEST_CASE("records across several segments read back after reopen and compaction",
                        "[conformance][segments]", all_configs) {
    if constexpr (has_files<TestType>) {
        test_store<TestType> db(small_segments(test_store<TestType>::small_compaction()));
        model_type model;
        write_workload(*db, model, "first");
        db->sync();
        const kvforge::stats written = check_counts_files(*db, db.path());
        // A table store merges its level-0 tables as they come, so keeps fewer files: at
        // least a table and the log.
        CHECK(written.segments >= (keeps_tables<TestType> ? 2 : 5));
        check_contents(*db, model);

        db.reopen();
        if constexpr (keeps_tables<TestType>) {
            check_counts_files(*db, db.path());  // the open flushed the log it replayed
        } else {
            CHECK(db->stats().segments == written.segments);
        }
        check_contents(*db, model);
        CHECK(db->verify().ok());

        db->compact();
        const kvforge::stats compacted = check_counts_files(*db, db.path());
        CHECK(compacted.dead_bytes == 0);
        if constexpr (keeps_tables<TestType>) {
            CHECK(compacted.segments == 2);  // one table of the deepest level, and the log
        } else {
            CHECK(compacted.segments < written.segments);
        }
        check_contents(*db, model);

        // Writes after the compaction land after its output in replay order.
        write_workload(*db, model, "second");
        db.reopen();
        check_contents(*db, model);
        CHECK(db->verify().ok());

        db->clear();
        CHECK(db->stats().segments == 1);
        db->put("after", "clear");
        db.reopen();
        CHECK(db->size() == 1);
        CHECK(db->get("after") == std::optional<std::string>("clear"));
    }
}

TEMPLATE_LIST_TEST_CASE("a hint that belongs to another segment is not used, and is written anew",
                        "[conformance][segments][hint]", all_configs) {
    if constexpr (has_files<TestType> && !keeps_tables<TestType>) {  // tables have no hints
        const kvforge::options opts = small_segments(test_store<TestType>::small_compaction());
        // Another store with a segment of the same name, other keys and another file id.
        test_store<TestType> other(opts);
        model_type ignored;
        write_workload(*other, ignored, "other");
        other->close();

        test_store<TestType> db(opts);
        model_type model;
        write_workload(*db, model, "mine");
        db->close();
        // A segment of db that has its hint, and whose name other has a hint of too (a
        // hint left without its segment is a lost segment, not this case).
        std::string name;
        for (const auto& entry : fs::directory_iterator(db.path())) {
            const std::string file = entry.path().filename().string();
            if (!file.ends_with(".kvhint") || !fs::exists(other.path() + "/" + file)) continue;
            const std::string data = file.substr(0, file.size() - 7) + ".kvlog";
            if (fs::exists(db.path() + "/" + data) && (name.empty() || file < name)) name = file;
        }
        REQUIRE_FALSE(name.empty());
        const std::string foreign = read_file(other.path() + "/" + name);
        const std::string hint = db.path() + "/" + name;
        const std::string own = read_file(hint);
        REQUIRE(own != foreign);
        write_file(hint, foreign);
        db.reopen();
        check_contents(*db, model);
        // The segment was read instead, and its hint written again for it.
        CHECK(read_file(hint) == own);
    }
}
