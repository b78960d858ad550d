// The open of a log store with sorted_index: the index is built from the hints in one
// pass (hinted_entries, btree_table::assign_sorted) and must hold what inserting the
// hints' entries one by one would: the live keys in order, the same byte counts, and a
// tree that later inserts and erases keep working on.
//
// ThreadSanitizer: from 65,536 entries the open sorts on a second thread of its own.

#include <catch2/catch.hpp>

#include <kvforge/kvforge.hpp>
#include <kvforge/stores/log/hinted_entries.hpp>

#include <algorithm>
#include <cstdint>
#include <map>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "../support/temp_dir.hpp"

using kvforge_test::temp_dir;

namespace {

using model_type = std::map<std::string, std::string>;
using file_log_sorted = kvforge::store<std::string, std::string, kvforge::file_log, kvforge::sorted_index>;
using mmap_file_sorted = kvforge::store<std::string, std::string, kvforge::mmap_file, kvforge::sorted_index>;

std::vector<std::string> keys_of(auto&& range) {
    std::vector<std::string> keys;
    for (auto&& [key, value] : range) keys.emplace_back(key);
    return keys;
}

/// Checks db holds exactly model: point reads, and scans in both orders.
template <class Store>
void check_against_model(const Store& db, const model_type& model) {
    REQUIRE(db.size() == model.size());
    for (const auto& [key, value] : model) REQUIRE(db.get(key) == std::optional<std::string>(value));
    std::vector<std::string> ascending;
    for (const auto& entry : model) ascending.push_back(entry.first);
    CHECK(keys_of(db.scan()) == ascending);
    std::vector<std::string> descending(ascending.rbegin(), ascending.rend());
    CHECK(keys_of(db.scan(kvforge::descending)) == descending);
    model_type scanned;
    for (auto&& [key, value] : db.scan()) scanned.emplace(std::string(key), std::string(value));
    CHECK(scanned == model);
}

kvforge::options reopen_segments() {
    kvforge::options opts;
    opts.segment_bytes = std::uint64_t{64} << 10;
    opts.compact_dead_ratio = 0;  // the segments stay as written
    return opts;
}

/// Opens the store at path twice: from its hints, and as a salvage open, which trusts no
/// hint and reads every record. Both hold model, with the same live and dead bytes.
/// Leaves db closed.
template <class Store>
void check_hinted_open_matches_salvage(Store& db, const std::string& path, const model_type& model) {
    db.open(path, reopen_segments());
    check_against_model(db, model);
    const kvforge::stats reopened = db.stats();
    db.close();
    kvforge::options salvage = reopen_segments();
    salvage.salvage = true;
    db.open(path, salvage);
    check_against_model(db, model);
    CHECK(db.stats().live_bytes == reopened.live_bytes);
    CHECK(db.stats().dead_bytes == reopened.dead_bytes);
    db.close();
}

// Distinct keys for distinct i, scattered over the key order.
std::string scattered_key(std::uint32_t i) { return "key:" + std::to_string(i * 2654435761U); }

/// Puts over `keys` keys in scattered order with overwrites and erases, about a tenth
/// of the writes in batches.
template <class Store>
void write_scattered(Store& db, model_type& model, std::uint32_t writes, std::uint32_t keys, const std::string& tag) {
    std::mt19937 random(writes + keys);
    for (std::uint32_t i = 0; i < writes; ++i) {
        const std::string key = scattered_key(random() % keys);
        if (i % 7 == 6) {
            db.erase(key);
            model.erase(key);
        } else if (i % 10 == 3) {
            typename Store::batch_type batch;
            batch.put(key, tag + std::to_string(i));
            const std::string erased = scattered_key(random() % keys);
            batch.erase(erased);
            db.write(batch);
            model[key] = tag + std::to_string(i);
            model.erase(erased);  // after the put: a batch applies in order
        } else {
            const std::string value = tag + std::to_string(i) + std::string(i % 90, 'v');
            db.put(key, value);
            model[key] = value;
        }
    }
}

}  // namespace

TEST_CASE("hinted_entries builds the table that upserts and erases one by one would", "[btree][reopen]") {
    using kvforge::detail::btree_table;
    using kvforge::detail::record_location;
    // 20,000 entries over 8,000 keys: leaves and two levels of inner nodes; 100,000 are
    // sorted beside the build, on a thread of their own.
    for (const std::uint32_t entries : {0U, 1U, 100U, 20000U, 100000U}) {
        INFO(entries << " entries");
        std::mt19937 random(entries);
        kvforge::detail::hinted_entries gathered;
        btree_table one_by_one;
        std::multiset<std::pair<std::string, std::string>> retired_one_by_one;
        // What a replaced or erased record of key leaves behind, in retired.
        const auto retire_into = [](auto& retired, const std::string& key) {
            return [&retired, &key](std::string_view old) { retired.emplace(key, old); };
        };
        for (std::uint32_t i = 0; i < entries; ++i) {
            // Keys of varied lengths sharing a prefix, with some that differ only past 8
            // bytes after it and some that end in zero bytes.
            std::string key = "user:" + std::to_string(random() % 4000);
            if (i % 3 == 0) key += std::string("\0\0", 1 + i % 2) + std::string(i % 11, 'z');
            if (i == entries / 2) {
                gathered.clear();
                one_by_one.clear();
                retired_one_by_one.clear();  // a clear makes every record before it dead at once
            } else if (i % 5 == 4) {
                gathered.erase(key);
                one_by_one.erase(key, retire_into(retired_one_by_one, key));
            } else {
                const record_location where{1 + i % 7, i * 40, i % 300, 0};
                gathered.put(key, where);
                char payload[record_location::max_encoded_size];
                one_by_one.upsert(key, std::string_view(payload, where.encode(payload)),
                                  retire_into(retired_one_by_one, key));
            }
        }
        btree_table built;
        std::multiset<std::pair<std::string, std::string>> retired_built;
        gathered.build(built, [&](std::string_view key, std::string_view old) { retired_built.emplace(key, old); });
        CHECK(gathered.empty());
        CHECK(retired_built == retired_one_by_one);
        REQUIRE(built.size() == one_by_one.size());
        std::vector<std::pair<std::string, std::string>> expected;
        one_by_one.for_each(
            [&](std::string_view key, std::string_view payload) { expected.emplace_back(key, payload); });
        std::vector<std::pair<std::string, std::string>> seen;
        built.for_each([&](std::string_view key, std::string_view payload) { seen.emplace_back(key, payload); });
        CHECK(seen == expected);

        // Inserts, overwrites and erases on the built tree, against the other.
        for (std::uint32_t i = 0; i < entries; ++i) {
            const std::string key = "user:" + std::to_string(random() % 6000);
            const std::string payload = std::to_string(i);
            if (i % 3 == 0) {
                CHECK(built.erase(key, [](std::string_view) {}) == one_by_one.erase(key, [](std::string_view) {}));
            } else {
                CHECK(built.upsert(key, payload, [](std::string_view) {}) ==
                      one_by_one.upsert(key, payload, [](std::string_view) {}));
            }
        }
        expected.clear();
        one_by_one.for_each(
            [&](std::string_view key, std::string_view payload) { expected.emplace_back(key, payload); });
        seen.clear();
        built.for_each([&](std::string_view key, std::string_view payload) { seen.emplace_back(key, payload); });
        CHECK(seen == expected);
    }
}

TEST_CASE("hinted_entries sorts keys whose bytes after the shared ones fit its ranks", "[btree][reopen]") {
    using kvforge::detail::btree_table;
    using kvforge::detail::record_location;
    // Zero-padded decimal numbers, as many stores name keys: after "item:0" the keys
    // differ in 4 bits of each byte, sorted in buckets of their top bits.
    for (const std::uint32_t entries : {30U, 5000U, 150000U}) {
        INFO(entries << " entries");
        std::mt19937 random(entries);
        kvforge::detail::hinted_entries gathered;
        btree_table one_by_one;
        std::size_t retired_one_by_one = 0;
        for (std::uint32_t i = 0; i < entries; ++i) {
            std::string key = std::to_string(random() % (2 * entries));
            key = "item:0" + std::string(9 - key.size(), '0') + key;
            if (i % 9 == 8) {
                gathered.erase(key);
                one_by_one.erase(key, [&](std::string_view) { ++retired_one_by_one; });
            } else {
                const record_location where{2, i * 30, i % 500, 0};
                gathered.put(key, where);
                char payload[record_location::max_encoded_size];
                one_by_one.upsert(key, std::string_view(payload, where.encode(payload)),
                                  [&](std::string_view) { ++retired_one_by_one; });
            }
        }
        btree_table built;
        std::size_t retired_built = 0;
        gathered.build(built, [&](std::string_view, std::string_view) { ++retired_built; });
        CHECK(retired_built == retired_one_by_one);
        REQUIRE(built.size() == one_by_one.size());
        std::vector<std::pair<std::string, std::string>> expected;
        one_by_one.for_each(
            [&](std::string_view key, std::string_view payload) { expected.emplace_back(key, payload); });
        std::vector<std::pair<std::string, std::string>> seen;
        built.for_each([&](std::string_view key, std::string_view payload) { seen.emplace_back(key, payload); });
        CHECK(seen == expected);
    }
}

TEMPLATE_TEST_CASE(
    "a sorted store reopened from its hints holds the live keys of overwrites, erases and a clear "
    "across segments",
    "[reopen][segments][hint]", file_log_sorted, mmap_file_sorted) {
    temp_dir dir;
    const std::string path = dir / "store";
    model_type model;
    {
        TestType db;
        db.open(path, reopen_segments());
        write_scattered(db, model, 3000, 500, "before");
        db.clear();
        model.clear();
        write_scattered(db, model, 6000, 1500, "after");
        CHECK(db.stats().segments >= 5);
    }
    TestType db;
    // The salvage open's byte counts are those of entries inserted one by one.
    check_hinted_open_matches_salvage(db, path, model);

    // Writes after a reopen built from hints, read back before and after the next reopen.
    db.open(path, reopen_segments());
    write_scattered(db, model, 4000, 3000, "later");
    check_against_model(db, model);
    db.close();
    db.open(path, reopen_segments());
    check_against_model(db, model);
}

TEST_CASE("a large sorted store filled in random order reopens whole and takes inserts and erases after",
          "[reopen][scan]") {
    temp_dir dir;
    const std::string path = dir / "store";
    model_type model;
    std::vector<std::uint32_t> order(40000);
    for (std::uint32_t i = 0; i < order.size(); ++i) order[i] = i;
    std::shuffle(order.begin(), order.end(), std::mt19937(7));
    {
        file_log_sorted db;
        db.open(path);
        for (const std::uint32_t i : order) {
            db.put(scattered_key(i), std::to_string(i));
            model[scattered_key(i)] = std::to_string(i);
        }
    }
    file_log_sorted db;
    db.open(path);
    check_against_model(db, model);
    // New keys between the old ones, and every third old key erased.
    for (std::uint32_t i = 0; i < order.size(); ++i) {
        const std::string key = scattered_key(order[i]) + "+";
        db.put(key, "new");
        model[key] = "new";
        if (i % 3 == 0) {
            CHECK(db.erase(scattered_key(order[i])));
            model.erase(scattered_key(order[i]));
        }
    }
    check_against_model(db, model);
    db.close();
    db.open(path);
    check_against_model(db, model);
}

TEMPLATE_TEST_CASE("a sorted store of zero-padded decimal keys reopens from its hints as a salvage open reads it",
                   "[reopen][segments][hint]", file_log_sorted, mmap_file_sorted) {
    // 80,000 entries over 60,000 keys such as "order:000012345": enough for the sort's
    // buckets to be sorted on a thread of their own, and keys that the ranks hold whole.
    temp_dir dir;
    const std::string path = dir / "store";
    const auto decimal_key = [](std::uint32_t i) {
        const std::string digits = std::to_string(i);
        return "order:" + std::string(9 - digits.size(), '0') + digits;
    };
    model_type model;
    {
        TestType db;
        db.open(path, reopen_segments());
        std::mt19937 random(11);
        for (std::uint32_t i = 0; i < 80000; ++i) {
            const std::string key = decimal_key(random() % 60000);
            if (i % 13 == 12) {
                db.erase(key);
                model.erase(key);
            } else {
                const std::string value = std::to_string(i) + std::string(i % 40, 'v');
                db.put(key, value);
                model[key] = value;
            }
        }
        CHECK(db.stats().segments >= 5);
    }
    TestType db;
    check_hinted_open_matches_salvage(db, path, model);
}

TEMPLATE_TEST_CASE("the empty key's hint entries keep their replay order", "[reopen][segments][hint]", file_log_sorted,
                   mmap_file_sorted) {
    // Entries of one key keep their replay order by where their keys lie among the
    // gathered keys, where the empty key takes no bytes of its own.
    temp_dir dir;
    const std::string path = dir / "store";
    {
        TestType db;
        db.open(path);
        db.put("bb1", "xyz");
        db.put("b9", "pq");
        db.close();
        db.open(path);
        db.put("", std::string(1, '\0'));
        db.put("", "");
        db.put("k", "1");
        db.put("k", "");
    }
    TestType db;
    db.open(path);
    CHECK(db.get("") == std::optional<std::string>(""));
    CHECK(db.get("k") == std::optional<std::string>(""));
    CHECK(db.size() == 4);
}
