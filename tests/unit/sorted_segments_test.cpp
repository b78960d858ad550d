// options::sort_closed_segments: automatic compaction rewrites each closed segment of a
// sorted store in key order, so that a scan reads a few sorted runs. Checked on the
// files' bytes: every closed segment holds its records in key order, the store reads
// back whole in both directions, and a reopen and a salvage open agree.

#include <catch2/catch.hpp>

#include <kvforge/kvforge.hpp>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <iterator>
#include <map>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "../support/data_file_records.hpp"
#include "../support/file_bytes.hpp"
#include "../support/segmented_store.hpp"
#include "../support/temp_dir.hpp"

using kvforge_test::temp_dir;

namespace {

namespace kd = kvforge::detail;
using model_type = std::map<std::string, std::string>;

kvforge::options sorting_segments() {
    kvforge::options opts;
    opts.segment_bytes = std::uint64_t{64} << 10;
    opts.compact_min_bytes = 0;
    opts.sort_closed_segments = true;
    return opts;
}

/// The keys of a data file's records, in file order.
std::vector<std::string> record_keys(const std::filesystem::path& file) {
    std::vector<std::string> keys;
    for (kvforge_test::data_file_record& record : kvforge_test::data_file_records(file)) {
        REQUIRE(record.type != kd::record_type::batch);  // the tests here write none
        keys.push_back(std::move(record.key));
    }
    return keys;
}

struct segment_orders {
    std::size_t in_order = 0;      ///< data files whose records are in key order
    std::size_t out_of_order = 0;  ///< the others
};

segment_orders orders_of(const std::filesystem::path& store) {
    segment_orders found;
    for (const auto& entry : std::filesystem::directory_iterator(store)) {
        if (entry.path().extension() != ".kvlog") continue;
        const std::vector<std::string> keys = record_keys(entry.path());
        const bool ascending = std::adjacent_find(keys.begin(), keys.end(), std::greater_equal<>()) == keys.end();
        ++(ascending ? found.in_order : found.out_of_order);
    }
    return found;
}

template <class Store>
void check_sorted(const Store& db, const model_type& model) {
    REQUIRE(db.size() == model.size());
    for (const auto& [key, value] : model) REQUIRE(db.get(key) == std::optional<std::string>(value));
    model_type ascending;
    std::string previous;
    for (auto&& [key, value] : db.scan()) {
        REQUIRE((ascending.empty() || previous < key));
        previous = key;
        ascending.emplace(std::string(key), std::string(value));
    }
    CHECK(ascending == model);
    std::vector<std::string> descending;
    for (auto&& [key, value] : db.scan(kvforge::descending)) descending.emplace_back(key);
    std::vector<std::string> expected;
    for (auto at = model.rbegin(); at != model.rend(); ++at) expected.push_back(at->first);
    CHECK(descending == expected);
}

/// Puts `count` keys in scattered order, with some overwrites and erases.
template <class Store>
void fill_scattered(Store& db, model_type& model, std::uint32_t count) {
    std::mt19937 random(count);
    const std::string padding(120, 'v');
    for (std::uint32_t i = 0; i < count; ++i) {
        const std::string key = "key:" + std::to_string(random() % (count * 4));
        if (i % 13 == 12) {
            db.erase(key);
            model.erase(key);
        } else {
            db.put(key, padding + std::to_string(i));
            model[key] = padding + std::to_string(i);
        }
    }
}

}  // namespace

TEMPLATE_TEST_CASE("a sorted store filled in random order has its closed segments rewritten in key order",
                   "[compaction][sorted_segments]", kvforge::single_thread, kvforge::thread_safe) {
    using store_type = kvforge::store<std::string, std::string, kvforge::mmap_file, kvforge::sorted_index, TestType>;
    temp_dir dir;
    const std::string path = dir / "db";
    model_type model;
    {
        store_type db(path, sorting_segments());
        // Some 60 segments: the jobs on the first walk the index for their records, and
        // those on the last, which hold too small a share of the store, scan themselves.
        fill_scattered(db, model, 30000);
        CHECK(db.stats().segments >= 40);
        CHECK(db.stats().compaction_failures == 0);
        if constexpr (std::is_same_v<TestType, kvforge::single_thread>) {
            // Each closed segment was written twice: once by the writer, once sorted.
            CHECK(db.stats().bytes_written > db.stats().disk_bytes * 3 / 2);
        }
        check_sorted(db, model);
        // thread_safe: close() lets the sorting requested so far finish; single_thread:
        // each job took one step (compaction_step_bytes is more than a segment) after the
        // write that closed its segment. close() then closes the active segment, appended
        // to in random order, and sorts it too.
        db.close();
    }
    const segment_orders orders = orders_of(path);
    CHECK(orders.out_of_order == 0);
    CHECK(orders.in_order >= 40);

    kvforge::stats reopened;
    {
        store_type db(path, sorting_segments());
        check_sorted(db, model);
        reopened = db.stats();
        CHECK(reopened.compactions == 0);  // found in key order from their hints: none rewritten again
        db.put("key:after", "reopened");
        model["key:after"] = "reopened";
        db.close();
    }
    // No hint trusted: every record read, the same contents and counts.
    kvforge::options salvage = sorting_segments();
    salvage.salvage = true;
    {
        store_type db(path, salvage);
        check_sorted(db, model);
        CHECK(db.stats().live_bytes == reopened.live_bytes + std::string("key:afterreopened").size());
        CHECK(db.stats().compactions == 0);
    }
    CHECK(orders_of(path).out_of_order == 0);  // the one record put after the reopen is in order
}

TEST_CASE("a segment filled in key order is left as written, and sort_closed_segments off leaves segments as written",
          "[compaction][sorted_segments]") {
    using store_type = kvforge::store<std::string, std::string, kvforge::mmap_file, kvforge::sorted_index>;
    temp_dir dir;
    const std::string padding(120, 'v');
    {
        store_type db(dir / "ascending", sorting_segments());
        model_type model;
        for (std::uint32_t i = 0; i < 6000; ++i) {
            char key[16];
            std::snprintf(key, sizeof key, "key:%08u", i);
            db.put(key, padding);
            model[key] = padding;
        }
        CHECK(db.stats().segments >= 10);
        CHECK(db.stats().compactions == 0);
        // Written once: the hints and headers aside, no segment was copied.
        CHECK(db.stats().bytes_written < db.stats().disk_bytes * 5 / 4);
        check_sorted(db, model);
    }
    CHECK(orders_of(dir / "ascending").out_of_order == 0);

    kvforge::options off = sorting_segments();
    off.sort_closed_segments = false;
    model_type model;
    {
        store_type db(dir / "off", off);
        fill_scattered(db, model, 12000);
        CHECK(db.stats().compactions == 0);
    }
    const segment_orders as_written = orders_of(dir / "off");
    CHECK(as_written.out_of_order >= 10);

    // A copy opened with sorting on and closed with nothing written: close() sorts no more
    // segments than this open closed, here only the active one (it holds more than a
    // sixteenth of a segment), and leaves the others an earlier open left unsorted.
    std::filesystem::copy(dir / "off", dir / "copy", std::filesystem::copy_options::recursive);
    {
        const store_type db(dir / "copy", sorting_segments());
        check_sorted(db, model);
    }
    CHECK(orders_of(dir / "copy").out_of_order == as_written.out_of_order - 1);
    CHECK(orders_of(dir / "copy").in_order == as_written.in_order + 2);  // its sorted copy, the new active one

    // Opened with sorting on, the closed segments are sorted in steps after the next writes.
    {
        store_type db(dir / "off", sorting_segments());
        for (int i = 0; orders_of(dir / "off").out_of_order > 1; ++i) {
            REQUIRE(i < 10000);  // a job takes a few writes' steps: far fewer are needed
            for (int j = 0; j < 10; ++j) db.put("key:more", std::to_string(i));
        }
        model["key:more"] = db.get("key:more").value();
        check_sorted(db, model);
    }
    CHECK(orders_of(dir / "off").out_of_order == 0);
}

TEMPLATE_TEST_CASE("a sorted store loaded in key order rewrites none of its segments, across reopens too",
                   "[compaction][sorted_segments]", kvforge::file_log, kvforge::mmap_file) {
    // The first segment of a new store, and the one a reopen appends to, are followed like
    // every other. A sorting job rewrites a segment as a new data file, so one written in
    // order leaves none missing, and one whose order a write broke leaves one missing.
    using store_type = kvforge::store<std::string, std::string, TestType, kvforge::sorted_index>;
    temp_dir dir;
    const std::string path = dir / "db";
    const std::string padding(120, 'v');
    model_type model;
    // Opens the store and puts `first` (unless empty), then keys from to to in order.
    const auto put_in_order = [&](std::uint32_t from, std::uint32_t to, const std::string& first = "") {
        store_type db(path, sorting_segments());
        if (!first.empty()) {
            db.put(first, padding);
            model[first] = padding;
        }
        for (std::uint32_t i = from; i < to; ++i) {
            char key[16];
            std::snprintf(key, sizeof key, "key:%08u", i);
            db.put(key, padding);
            model[key] = padding;
        }
        CHECK(db.stats().compaction_failures == 0);
    };
    const auto data_files = [&] {
        std::vector<std::string> files;
        for (const auto& entry : std::filesystem::directory_iterator(path)) {
            if (entry.path().extension() == ".kvlog") files.push_back(entry.path().string());
        }
        std::sort(files.begin(), files.end());
        return files;
    };
    // The data files of segments 1 to count: none retired.
    const auto written_once = [&](std::size_t count) {
        std::vector<std::string> files;
        for (std::uint32_t id = 1; id <= count; ++id) files.push_back(kvforge_test::segment_file(path, id));
        return files;
    };

    put_in_order(0, 3000);
    const std::vector<std::string> loaded = data_files();
    CHECK(loaded.size() >= 5);
    CHECK(loaded == written_once(loaded.size()));
    // Ten records go into the segment the close started, and the next close leaves it
    // open, holding less than a sixteenth of a segment; the next open appends to it.
    put_in_order(3000, 3010);
    CHECK(data_files() == loaded);
    put_in_order(3010, 6000);
    const std::vector<std::string> reloaded = data_files();
    CHECK(reloaded.size() > loaded.size());
    CHECK(reloaded == written_once(reloaded.size()));
    CHECK(orders_of(path).out_of_order == 0);

    put_in_order(6000, 6010);
    CHECK(data_files() == reloaded);
    // The first write of this open sorts below the last one before it. The writes after
    // it come in order, but the segment is not: close() sorts it.
    put_in_order(6010, 6100, "key:00000000b");
    CHECK(data_files() != written_once(data_files().size()));
    CHECK(orders_of(path).out_of_order == 0);
    const store_type reopened(path, sorting_segments());
    check_sorted(reopened, model);
}

TEST_CASE("a segment whose keys stop coming in order, by a put or an erase, is still sorted",
          "[compaction][sorted_segments]") {
    // The writes tell a segment in key order from the others as it is written, so that
    // sorting jobs pass it by; one key out of order anywhere in a segment must not be missed.
    using store_type = kvforge::store<std::string, std::string, kvforge::file_log, kvforge::sorted_index>;
    temp_dir dir;
    const std::string path = dir / "db";
    const std::string padding(120, 'v');
    model_type model;
    const auto key_of = [](std::uint32_t i) {
        char key[16];
        std::snprintf(key, sizeof key, "key:%08u", i);
        return std::string(key);
    };
    {
        store_type db(path, sorting_segments());
        for (std::uint32_t i = 0; i < 9000; ++i) {
            if (i % 1500 == 700) {  // an erase of a key written before
                db.erase(key_of(i - 300));
                model.erase(key_of(i - 300));
            } else if (i % 1500 == 1200) {  // a put of a key that sorts before the last
                db.put(key_of(i - 600) + "b", padding);
                model[key_of(i - 600) + "b"] = padding;
            }
            db.put(key_of(i), padding);
            model[key_of(i)] = padding;
        }
        CHECK(db.stats().compaction_failures == 0);
        check_sorted(db, model);
    }
    CHECK(orders_of(path).out_of_order == 0);
    const store_type reopened(path, sorting_segments());
    check_sorted(reopened, model);
}

TEMPLATE_TEST_CASE("overwrites and erases during a sorting job's steps win over its copies",
                   "[compaction][sorted_segments]", kvforge::single_thread, kvforge::thread_safe) {
    using store_type = kvforge::store<std::string, std::string, kvforge::mmap_file, kvforge::sorted_index, TestType>;
    temp_dir dir;
    const std::string path = dir / "db";
    // Segments of some 8,000 records, sorted a few KiB a step: each job, from its walk of
    // the index to the moves of its entries (4,096 a step), spans many of the writes
    // below, which overwrite and erase keys of the segment it sorts.
    kvforge::options opts = sorting_segments();
    opts.segment_bytes = std::uint64_t{1} << 20;
    opts.compaction_step_bytes = std::uint64_t{4} << 10;
    const std::string padding(100, 'v');
    model_type model;
    std::vector<std::string> written;
    {
        store_type db(path, opts);
        std::mt19937 random(11);
        for (std::uint32_t i = 0; i < 60000; ++i) {
            const std::string key = "key:" + std::to_string(random() % 1000000);
            db.put(key, padding + std::to_string(i));
            model[key] = padding + std::to_string(i);
            written.push_back(key);
            // Few enough that dead bytes stay under what holds sorting back, and mostly
            // of the last two segments' keys: the one the job sorts, and the next.
            if (i % 8 != 7) continue;
            const std::size_t recent = std::min<std::size_t>(written.size(), 16000);
            const std::string& older = written[written.size() - 1 - random() % recent];
            if (i % 16 == 7) {
                db.erase(older);
                model.erase(older);
            } else {
                db.put(older, "newer" + std::to_string(i));
                model[older] = "newer" + std::to_string(i);
            }
        }
        if constexpr (std::is_same_v<TestType, kvforge::single_thread>) CHECK(db.stats().compactions >= 4);
        CHECK(db.stats().compaction_failures == 0);
        check_sorted(db, model);
        std::uint64_t live = 0;
        for (const auto& [key, value] : model) live += key.size() + value.size();
        CHECK(db.stats().live_bytes == live);
    }
    // close() ended the job under way and sorted every segment, the active one too.
    CHECK(orders_of(path).out_of_order == 0);
    {
        store_type db(path, opts);
        check_sorted(db, model);
    }
    kvforge::options salvage = opts;
    salvage.salvage = true;
    store_type db(path, salvage);
    check_sorted(db, model);
}

namespace {

/// The data files of the store at path.
std::vector<std::filesystem::path> data_files_of(const std::filesystem::path& store) {
    std::vector<std::filesystem::path> files;
    for (const auto& entry : std::filesystem::directory_iterator(store)) {
        if (entry.path().extension() == ".kvlog") files.push_back(entry.path());
    }
    return files;
}

}  // namespace

TEMPLATE_TEST_CASE("close() sorts an active segment holding a sixteenth of a segment or more, and leaves a smaller one",
                   "[compaction][sorted_segments]", kvforge::single_thread, kvforge::thread_safe) {
    using store_type = kvforge::store<std::string, std::string, kvforge::mmap_file, kvforge::sorted_index, TestType>;
    temp_dir dir;
    const std::string path = dir / "db";
    model_type model;
    {
        store_type db(path, sorting_segments());
        fill_scattered(db, model, 2000);
        // Up to a rollover, then about 14 KiB of records in descending key order: more
        // than a sixteenth of the 64 KiB segments, none of them in key order.
        const std::uint64_t segments = db.stats().segments;
        for (std::uint32_t i = 0; db.stats().segments == segments; ++i) {
            REQUIRE(i < 1000);
            db.put("key:fill" + std::to_string(i), std::string(120, 'f'));
            model["key:fill" + std::to_string(i)] = std::string(120, 'f');
        }
        for (int i = 99; i >= 0; --i) {
            const std::string key = "key:late" + std::to_string(1000 + i);
            db.put(key, std::string(120, 'l'));
            model[key] = std::string(120, 'l');
        }
        db.close();
    }
    const segment_orders sorted = orders_of(path);
    CHECK(sorted.out_of_order == 0);
    const std::size_t files = data_files_of(path).size();
    {
        store_type db(path, sorting_segments());
        check_sorted(db, model);  // every segment in key order: read with no prefetch
        // Three records out of order, far less than a sixteenth of a segment.
        for (const std::string key : {"key:small3", "key:small2", "key:small1"}) {
            db.put(key, "small");
            model[key] = "small";
        }
        check_sorted(db, model);  // the active segment is not in key order: read with prefetches
        CHECK(db.stats().compaction_failures == 0);
    }
    // The active segment stayed as it was written, and no segment was made.
    CHECK(orders_of(path).out_of_order == 1);
    CHECK(data_files_of(path).size() == files);
    store_type db(path, sorting_segments());
    check_sorted(db, model);
}

TEMPLATE_TEST_CASE("a scan of sorted segments reports a record whose bytes changed, as it did with prefetches",
                   "[compaction][sorted_segments]", kvforge::mmap_file, kvforge::file_log) {
    using store_type = kvforge::store<std::string, std::string, TestType, kvforge::sorted_index>;
    temp_dir dir;
    const std::string path = dir / "db";
    model_type model;
    {
        store_type db(path, sorting_segments());
        fill_scattered(db, model, 3000);
    }
    REQUIRE(orders_of(path).out_of_order == 0);
    // The last byte of the value of a put record in the middle of the largest segment.
    std::filesystem::path damaged;
    for (const std::filesystem::path& file : data_files_of(path)) {
        if (damaged.empty() || std::filesystem::file_size(file) > std::filesystem::file_size(damaged)) damaged = file;
    }
    std::string bytes = kvforge_test::read_file(damaged);
    const std::vector<kvforge_test::data_file_record> records = kvforge_test::data_file_records(damaged);
    const auto middle = std::find_if(records.begin(), records.end(), [&](const kvforge_test::data_file_record& r) {
        return r.type == kd::record_type::put && r.offset >= bytes.size() / 2;
    });
    REQUIRE(middle != records.end());
    const std::string key = middle->key;
    REQUIRE(model.count(key) == 1);
    bytes[middle->offset + middle->size - 1] ^= 0x20;
    kvforge_test::write_file(damaged, bytes);

    store_type db(path, sorting_segments());
    // The scan ends at the damaged record's chunk with its error: what came before, true.
    std::error_code ec;
    for (const auto& [k, value] : db.scan("", "\xff", ec)) {
        REQUIRE(k < key);
        CHECK(model.at(k) == value);
    }
    CHECK(ec == kvforge::errc::corrupt_record);
    CHECK(kvforge::last_error_message().find("offset " + std::to_string(middle->offset) + " ") != std::string::npos);
    CHECK_THROWS_AS(db.get(key), kvforge::error);
    CHECK(db.get(std::prev(model.find(key))->first) == std::prev(model.find(key))->second);
}
