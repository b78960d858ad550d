// Expiry on every expiring configuration: deadlines hide keys from every read once they
// come, size() and stats() agree with get(), a plain put clears a deadline, and
// purge_expired() removes exactly the expired keys. On file stores, deadlines survive a
// reopen, compaction drops what expired, and the MANIFEST binds the clock. Time moves by
// test_clock, by hand; it is the process's, so a reopened store sees the same time.

#include <catch2/catch.hpp>

#include <chrono>
#include <filesystem>
#include <system_error>
#include <optional>
#include <string>
#include <vector>

#include "../support/file_bytes.hpp"
#include "../support/sample_values.hpp"
#include "../support/test_clock.hpp"
#include "store_configs.hpp"

using namespace kvforge_test;
using namespace std::chrono_literals;

namespace {

/// Every expiring store: the memory ones and the file ones.
using all_expiring_configs = concat<expiring_configs, expiring_persistent_configs>;

template <class Store>
std::vector<std::string> keys_of(const Store& db) {
    std::vector<std::string> keys;
    db.for_each([&](const std::string& k, const std::string&) { keys.push_back(k); });
    std::sort(keys.begin(), keys.end());
    return keys;
}

}  // namespace

TEMPLATE_LIST_TEST_CASE("a key is there until its deadline and absent from then on", "[expiry]", all_expiring_configs) {
    test_store<TestType> db;
    db->put("short", "1", 10s);
    db->put("long", "2", test_clock::now() + 1h);
    db->put("forever", "3");
    REQUIRE(db->expiry("short") == test_clock::now() + 10s);
    REQUIRE_FALSE(db->expiry("forever").has_value());
    REQUIRE(db->size() == 3);

    test_clock::advance(9999ms);
    REQUIRE(db->get("short") == "1");
    test_clock::advance(1ms);  // at the deadline itself the key is gone
    CHECK_FALSE(db->get("short").has_value());
    CHECK_FALSE(db->contains("short"));
    CHECK_FALSE(db->visit("short", [](std::string_view) {}));
    CHECK_FALSE(db->expiry("short").has_value());
    std::string out = "unchanged";
    CHECK_FALSE(db->get("short", out));
    CHECK(db->size() == 2);
    CHECK(db->stats().live_keys == 2);
    CHECK(db->stats().live_bytes == std::string("long2forever3").size());
    CHECK(keys_of(*db) == std::vector<std::string>{"forever", "long"});
    CHECK(db->get("long") == "2");
    CHECK_FALSE(db->erase("short"));  // it was not there to erase
}

TEMPLATE_LIST_TEST_CASE("scans in both directions skip expired keys", "[expiry]", expiring_ordered_configs) {
    test_store<TestType> db;
    for (char c = 'a'; c <= 'j'; ++c) {
        const std::string key(1, c);
        if ((c - 'a') % 2 == 0) {
            db->put("p" + key, key, 5s);
        } else {
            db->put("p" + key, key);
        }
    }
    test_clock::advance(5s);
    const std::vector<std::string> odd = {"pb", "pd", "pf", "ph", "pj"};
    std::vector<std::string> seen;
    for (const auto& [k, v] : db->scan("pa", "pz")) seen.push_back(k);
    CHECK(seen == odd);
    seen.clear();
    for (const auto& [k, v] : db->scan_prefix("p", kvforge::descending)) seen.push_back(k);
    CHECK(seen == std::vector<std::string>(odd.rbegin(), odd.rend()));
    seen.clear();
    for (const auto& [k, v] : db->scan_from("pc")) seen.push_back(k);
    CHECK(seen == std::vector<std::string>{"pd", "pf", "ph", "pj"});
    seen.clear();
    for (const auto& [k, v] : db->scan(kvforge::descending)) seen.push_back(k);
    CHECK(seen.size() == 5);
}

TEMPLATE_LIST_TEST_CASE("a plain put clears a deadline, a put with another moves it", "[expiry]", all_expiring_configs) {
    test_store<TestType> db;
    db->put("k", "v1", 1s);
    db->put("k", "v2");
    REQUIRE_FALSE(db->expiry("k").has_value());
    test_clock::advance(2s);
    CHECK(db->get("k") == "v2");

    db->put("k", "v3", 1s);
    db->put("k", "v4", 1h);
    test_clock::advance(2s);
    CHECK(db->get("k") == "v4");
    CHECK(db->purge_expired() == 0);
    CHECK(db->get("k") == "v4");

    kvforge::batch<std::string, std::string> b;
    db->put("j", "w", 1s);
    b.put("j", "w2");
    db->write(b);
    test_clock::advance(2s);
    CHECK(db->get("j") == "w2");
    CHECK(db->purge_expired() == 0);
}

TEMPLATE_LIST_TEST_CASE("a deadline in the past stores nothing and removes the key", "[expiry]", all_expiring_configs) {
    test_store<TestType> db;
    db->put("k", "old");
    db->put("k", "new", test_clock::now() - 1s);
    CHECK_FALSE(db->get("k").has_value());
    CHECK(db->size() == 0);
    db->put("z", "zero", 0s);
    CHECK_FALSE(db->contains("z"));
    CHECK(db->purge_expired() == 0);
    CHECK(db->stats().live_bytes == 0);
}

TEMPLATE_LIST_TEST_CASE("a batch's puts carry deadlines, applied with the rest of the batch", "[expiry][batch]",
                        all_expiring_configs) {
    test_store<TestType> db;
    db->put("plain", "0", 5s);
    db->put("gone", "0");
    typename TestType::batch_type b;
    b.put("ttl", "1", 10s);
    b.put("until", "2", test_clock::now() + 1h);
    b.put("past", "3", test_clock::now() - 1s);
    b.put("plain", "4");  // a plain put clears the deadline plain had
    b.put("twice", "5", 1s);
    b.put("twice", "6", 20s);  // the last put of a key sets its deadline
    b.put("gone", "7", 0s);    // a deadline that has come removes the key
    b.erase("never");
    db->write(b);

    CHECK(db->expiry("ttl") == test_clock::now() + 10s);
    CHECK(db->expiry("until") == test_clock::now() + 1h);
    CHECK(db->expiry("twice") == test_clock::now() + 20s);
    CHECK_FALSE(db->expiry("plain").has_value());
    CHECK_FALSE(db->contains("past"));
    CHECK_FALSE(db->contains("gone"));
    CHECK(keys_of(*db) == std::vector<std::string>{"plain", "ttl", "twice", "until"});
    CHECK(db->get("twice") == "6");

    test_clock::advance(10s);
    CHECK_FALSE(db->get("ttl").has_value());
    CHECK(db->get("plain") == "4");  // its old deadline (5s) has passed, but the batch cleared it
    CHECK(db->size() == 3);
    CHECK(db->purge_expired() == 1);  // ttl; plain's and twice's old index entries are gone
    test_clock::advance(10s);
    CHECK(db->purge_expired() == 1);  // twice
    CHECK(keys_of(*db) == std::vector<std::string>{"plain", "until"});
}

TEMPLATE_LIST_TEST_CASE("a batch of deadlines that does not fit leaves the store unchanged", "[expiry][batch]",
                        all_expiring_configs) {
    test_store<TestType> db;
    db->put("k", "old", 5s);
    typename TestType::batch_type b;
    b.put("k", "new", 1h);
    b.put("big", std::string(TestType::max_value_size + 1, 'x'), 1h);  // refused by the store, not the batch
    std::error_code ec;
    db->write(b, ec);
    CHECK(ec == kvforge::errc::value_too_large);
    CHECK(db->get("k") == "old");
    CHECK(db->expiry("k") == test_clock::now() + 5s);
    CHECK_FALSE(db->contains("big"));
}

TEMPLATE_LIST_TEST_CASE("a batch's deadlines survive a reopen and expire after it", "[expiry][batch][persistence]",
                        expiring_persistent_configs) {
    test_store<TestType> db;
    typename TestType::batch_type b;
    b.put("short", "1", 10s);
    b.put("long", "2", 1h);
    b.put("forever", "3");
    db->write(b);
    const auto short_deadline = test_clock::now() + 10s;
    const auto long_deadline = test_clock::now() + 1h;
    db.reopen();
    CHECK(db->expiry("short") == short_deadline);
    CHECK(db->expiry("long") == long_deadline);
    CHECK_FALSE(db->expiry("forever").has_value());

    db->close();
    test_clock::advance(10s);
    db.reopen();
    CHECK_FALSE(db->contains("short"));
    CHECK(db->purge_expired() == 1);
    test_clock::advance(1h);
    db.reopen();
    CHECK(keys_of(*db) == std::vector<std::string>{"forever"});
    CHECK(db->purge_expired() == 1);
    CHECK(db->size() == 1);
}

TEMPLATE_LIST_TEST_CASE("purge_expired removes exactly the expired keys", "[expiry]", all_expiring_configs) {
    test_store<TestType> db;
    for (int i = 0; i < 1000; ++i) {
        const std::string key = "k" + std::to_string(i);
        if (i % 3 == 0) {
            db->put(key, "v", std::chrono::seconds(1 + i % 2));
        } else {
            db->put(key, "v");
        }
    }
    const std::size_t with_deadline = 334;
    test_clock::advance(1s);  // the even multiples of 3 (deadline 1s) expire
    const std::size_t first = db->purge_expired();
    CHECK(first == 167);
    CHECK(db->size() == 1000 - first);
    test_clock::advance(1s);
    CHECK(db->purge_expired() == with_deadline - first);
    CHECK(db->size() == 1000 - with_deadline);
    CHECK(db->purge_expired() == 0);
    CHECK(db->stats().erases == with_deadline);
    for (int i = 0; i < 1000; ++i) CHECK(db->contains("k" + std::to_string(i)) == (i % 3 != 0));
}

TEMPLATE_LIST_TEST_CASE("get_many does not hand out expired values", "[expiry]", all_expiring_configs) {
    test_store<TestType> db;
    db->put("a", "1", 1s);
    db->put("b", "2");
    test_clock::advance(1s);
    const std::vector<std::string> keys = {"a", "b"};
    std::vector<std::optional<std::string>> out(2);
    CHECK(db->get_many(keys, std::span<std::optional<std::string>>(out)) == 1);
    CHECK_FALSE(out[0].has_value());
    CHECK(out[1] == "2");
}

TEST_CASE("a bounded expiring store never serves an expired value from its cache", "[expiry]") {
    using cache_t = kvforge::store<std::string, std::string, kvforge::memory, kvforge::bounded<>,
                                   kvforge::expiring<test_clock>>;
    cache_t cache{kvforge::options{.memory_budget = 1 << 20}};
    cache.put("k", "v", 1s);
    REQUIRE(cache.get("k") == "v");
    test_clock::advance(1s);
    CHECK_FALSE(cache.get("k").has_value());
    CHECK(cache.size() == 0);
    CHECK(cache.purge_expired() == 1);
}

TEMPLATE_LIST_TEST_CASE("deadlines survive a reopen, and keys that expired while closed are absent",
                        "[expiry][persistence]", expiring_persistent_configs) {
    test_store<TestType> db;
    db->put("short", "1", 10s);
    db->put("long", "2", 1h);
    db->put("forever", "3");
    const auto short_deadline = test_clock::now() + 10s;
    const auto long_deadline = test_clock::now() + 1h;
    db.reopen();
    CHECK(db->expiry("short") == short_deadline);
    CHECK(db->expiry("long") == long_deadline);
    CHECK_FALSE(db->expiry("forever").has_value());
    CHECK(db->get("short") == "1");
    CHECK(db->size() == 3);

    db->close();
    test_clock::advance(10s);  // the deadline passes while the store is closed
    db.reopen();
    CHECK_FALSE(db->get("short").has_value());
    CHECK_FALSE(db->contains("short"));
    CHECK_FALSE(db->visit("short", [](std::string_view) {}));
    CHECK_FALSE(db->expiry("short").has_value());
    CHECK(db->expiry("long") == long_deadline);
    CHECK(keys_of(*db) == std::vector<std::string>{"forever", "long"});
    CHECK(db->size() == 2);
    CHECK(db->stats().live_keys == 2);
    CHECK(db->stats().live_bytes == std::string("long2forever3").size());
    if constexpr (is_ordered<TestType>) {
        std::vector<std::string> seen;
        for (const auto& [k, v] : db->scan_prefix("")) seen.push_back(k);
        CHECK(seen == std::vector<std::string>{"forever", "long"});
        seen.clear();
        for (const auto& [k, v] : db->scan("a", "z", kvforge::descending)) seen.push_back(k);
        CHECK(seen == std::vector<std::string>{"long", "forever"});
    }
    // The rebuilt deadline index finds the key that expired while closed.
    CHECK(db->purge_expired() == 1);
    db.reopen();
    CHECK(db->size() == 2);
    CHECK(db->purge_expired() == 0);
    test_clock::advance(1h);
    CHECK(db->purge_expired() == 1);
    CHECK(keys_of(*db) == std::vector<std::string>{"forever"});
}

TEMPLATE_LIST_TEST_CASE("purge then compact gives back the disk space of expired keys", "[expiry][persistence]",
                        expiring_persistent_configs) {
    for (const bool explicit_purge : {true, false}) {
        INFO("purge_expired() before compact(): " << explicit_purge);
        test_store<TestType> db(kvforge::options{});  // no automatic compaction before the explicit one
        const std::string value = random_value(1, 1000);  // no codec shrinks it, so compressed stores count alike
        for (int i = 0; i < 1000; ++i) db->put("e" + std::to_string(i), value, 1s);
        for (int i = 0; i < 50; ++i) db->put("p" + std::to_string(i), value);
        db->compact();
        const std::uint64_t before = db->stats().disk_bytes;
        REQUIRE(before > 1000 * value.size());
        test_clock::advance(1s);
        if (explicit_purge) CHECK(db->purge_expired() == 1000);
        db->compact();  // purges first when nothing did
        const kvforge::stats after = db->stats();
        CHECK(after.disk_bytes < before / 10);
        CHECK(after.live_keys == 50);
        CHECK(db->purge_expired() == 0);
        db.reopen();
        CHECK(db->size() == 50);
        CHECK_FALSE(db->contains("e7"));
        CHECK(db->get("p7") == value);
    }
}

TEMPLATE_LIST_TEST_CASE("stored values carry the deadline header the format describes", "[expiry][persistence]",
                        expiring_file_configs) {
    test_store<TestType> db;
    db->put("k", "value", test_clock::time_point(test_clock::duration(0x0102030405060708)));
    db->put("plain", "value");
    db->close();
    // Format: a put record holds the key, then the stored value: tag 1 and the deadline
    // as a little-endian i64 of clock ticks, or tag 0, then the value's own bytes.
    std::string data;
    for (const auto& entry : std::filesystem::directory_iterator(db.path())) {
        if (entry.path().extension() == ".kvlog") data = read_file(entry.path());
    }
    CHECK(data.find(std::string("k\x01\x08\x07\x06\x05\x04\x03\x02\x01value", 15)) != std::string::npos);
    CHECK(data.find(std::string("plain\x00value", 11)) != std::string::npos);
}

TEST_CASE("get_view of an expiring mmap_file store shows the value without its header", "[expiry][persistence]") {
    using mapped = kvforge::store<std::string, std::string, kvforge::mmap_file, kvforge::expiring<test_clock>>;
    temp_dir dir;
    mapped db(dir / "store");
    db.put("k", "value", 1s);
    db.put("plain", "bytes");
    db.sync();
    CHECK(db.get_view("k")->bytes() == "value");
    CHECK(db.get_view("plain")->bytes() == "bytes");
    test_clock::advance(1s);
    CHECK_FALSE(db.get_view("k").has_value());
}

namespace {

/// Opens path as Store and returns the error it fails with, and its message.
template <class Store>
std::error_code open_error(const std::string& path, std::string& message) {
    Store db;
    std::error_code ec;
    db.open(path, kvforge::options{}, {}, ec);
    message = kvforge::last_error_message();
    CHECK_FALSE(db.is_open());
    return ec;
}

}  // namespace

TEST_CASE("the MANIFEST binds expiry: a store opens only with the clock it was written with",
          "[expiry][persistence][manifest]") {
    using plain = kvforge::store<std::string, std::string, kvforge::file_log>;
    using expiring = kvforge::store<std::string, std::string, kvforge::file_log, kvforge::expiring<test_clock>>;
    using system = kvforge::store<std::string, std::string, kvforge::mmap_file, kvforge::expiring<>>;
    temp_dir dir;
    std::string message;
    {
        expiring db(dir / "expiring");
        db.put("k", "v", 1h);
    }
    CHECK(open_error<plain>(dir / "expiring", message) == kvforge::errc::codec_mismatch);
    CHECK_THAT(message, Catch::Contains("expiry: written with 'test_clock:1/1000', opened with 'none'"));
    CHECK(open_error<system>(dir / "expiring", message) == kvforge::errc::codec_mismatch);
    CHECK_THAT(message, Catch::Contains("written with 'test_clock:1/1000'") &&
                            Catch::Contains("opened with 'system_clock:"));
    {
        plain db(dir / "plain");
        db.put("k", "v");
    }
    CHECK(open_error<expiring>(dir / "plain", message) == kvforge::errc::codec_mismatch);
    CHECK_THAT(message, Catch::Contains("expiry: written with 'none', opened with 'test_clock:1/1000'"));
    // Both still open as they were written.
    CHECK(expiring(dir / "expiring").get("k") == "v");
    CHECK(plain(dir / "plain").get("k") == "v");
}

TEST_CASE("a value with its expiry header must fit max_value_size, so that recovery reads it back",
          "[expiry][persistence]") {
    using expiring = kvforge::store<std::string, std::string, kvforge::file_log, kvforge::expiring<test_clock>>;
    static_assert(expiring::max_value_size == kvforge::max_value_size - 9);
    temp_dir dir;
    const std::string largest_with_deadline(expiring::max_value_size, 'd');
    const std::string largest_without(expiring::max_value_size, 'p');
    {
        expiring db(dir / "store");
        std::error_code ec;
        db.put("d", largest_with_deadline + "x", 1h, ec);
        CHECK(ec == kvforge::errc::value_too_large);
        db.put("p", largest_without + "x", ec);
        CHECK(ec == kvforge::errc::value_too_large);
        kvforge::batch<std::string, std::string> b;
        b.put("p", largest_without + "x");
        db.write(b, ec);
        CHECK(ec == kvforge::errc::value_too_large);
        CHECK(db.size() == 0);
        db.put("d", largest_with_deadline, 1h);
        db.put("p", largest_without);
    }
    expiring db(dir / "store");
    CHECK(db.get("d") == largest_with_deadline);
    CHECK(db.get("p") == largest_without);
    CHECK(db.verify().ok());
}

TEMPLATE_LIST_TEST_CASE("reopen rebuilds the deadlines of the newest values across many segments",
                        "[expiry][persistence][segments]", expiring_persistent_configs) {
    // open() reads the values in the order they lie in the segments, not the index's:
    // every key must still get the deadline of its newest record, wherever that lies.
    auto opts = test_store<TestType>::small_compaction();
    opts.segment_bytes = std::uint64_t{64} << 10;
    test_store<TestType> db(opts);
    const std::string filler = random_value(2, 900);  // no codec shrinks it: the segments fill alike
    constexpr int keys = 400;
    for (int round = 0; round < 3; ++round) {
        for (int i = 0; i < keys; ++i) {
            const std::string key = "k" + std::to_string(i);
            if (round == 2 && i % 3 == 0) {
                db->put(key, filler + "final");  // no deadline any more
            } else {
                db->put(key, filler, std::chrono::seconds(1 + (i + round) % 50));
            }
        }
    }
    db->sync();
    // A store over tables merges its level 0 tables as they come: a table and the log.
    REQUIRE(db->stats().segments >= (keeps_tables<TestType> ? 2 : 4));
    const auto now = test_clock::now();
    db.reopen();
    for (int i = 0; i < keys; ++i) {
        const std::string key = "k" + std::to_string(i);
        INFO(key);
        if (i % 3 == 0) {
            CHECK_FALSE(db->expiry(key).has_value());
            CHECK(db->get(key) == filler + "final");
        } else {
            CHECK(db->expiry(key) == now + std::chrono::seconds(1 + (i + 2) % 50));
        }
    }
    test_clock::advance(std::chrono::seconds(25));
    std::size_t due = 0;
    for (int i = 0; i < keys; ++i) due += (i % 3 != 0 && 1 + (i + 2) % 50 <= 25) ? 1 : 0;
    CHECK(db->purge_expired() == due);
    CHECK(db->size() == keys - due);
}
