// The deadlines file of an expiring store: a clean close writes the deadline index, the
// next open loads it without reading a value and a writable open removes it; a file that
// is missing, damaged, truncated or not the store's own is not used, and the open reads
// the deadlines from the values instead. Either way the reopened store reads, expires and
// purges exactly as before the close.

#include <catch2/catch.hpp>

#include <chrono>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <kvforge/io/simulated.hpp>
#include <kvforge/kvforge.hpp>

#include "../support/file_bytes.hpp"
#include "../support/temp_dir.hpp"
#include "../support/test_clock.hpp"

using namespace std::chrono_literals;
using kvforge_test::read_file;
using kvforge_test::temp_dir;
using kvforge_test::test_clock;
using kvforge_test::write_file;
namespace fs = std::filesystem;

namespace {

using expiring_log =
    kvforge::store<std::string, std::string, kvforge::file_log, kvforge::sorted_index, kvforge::expiring<test_clock>>;

/// Keys with deadlines 10 s to 60 s away, and keys without one.
struct deadline_sample {
    std::vector<std::pair<std::string, test_clock::time_point>> with_deadline;
    std::vector<std::string> without_deadline;
};

template <class Store>
deadline_sample fill_sample(Store& db) {
    deadline_sample s;
    for (int i = 0; i < 60; ++i) {
        const std::string key = "key" + std::to_string(i);
        if (i % 3 == 0) {
            db.put(key, "value" + std::to_string(i));
            s.without_deadline.push_back(key);
        } else {
            const auto deadline = test_clock::now() + std::chrono::seconds(10 * (1 + i % 6));
            db.put(key, "value" + std::to_string(i), deadline);
            s.with_deadline.emplace_back(key, deadline);
        }
    }
    return s;
}

/// Checks that db holds sample s as it was written: every value, every deadline, then
/// that the keys expire, and purge, at their deadlines. Moves test_clock past them all.
template <class Store>
void check_holds(Store& db, const deadline_sample& s) {
    CHECK(db.size() == s.with_deadline.size() + s.without_deadline.size());
    std::map<test_clock::time_point, std::size_t> due;  // keys by deadline
    for (const auto& [key, deadline] : s.with_deadline) {
        CHECK(db.get(key) == "value" + key.substr(3));
        CHECK(db.expiry(key) == deadline);
        ++due[deadline];
    }
    for (const std::string& key : s.without_deadline) {
        CHECK(db.get(key) == "value" + key.substr(3));
        CHECK_FALSE(db.expiry(key).has_value());
    }
    // Purged right after the open, one deadline at a time.
    REQUIRE(due.size() > 1);
    for (const auto& [deadline, keys] : due) {
        test_clock::set(deadline - 1ms);
        CHECK(db.purge_expired() == 0);
        test_clock::set(deadline);
        CHECK(db.purge_expired() == keys);
    }
    CHECK(db.size() == s.without_deadline.size());
    for (const auto& [key, deadline] : s.with_deadline) CHECK_FALSE(db.contains(key));
}

std::string deadlines_path(const std::string& store) { return store + "/deadlines"; }

}  // namespace

TEST_CASE("a clean close writes the deadlines file, and the next open loads and removes it", "[expiry][reopen]") {
    temp_dir dir;
    const std::string path = dir / "store";
    deadline_sample s;
    {
        expiring_log db(path);
        s = fill_sample(db);
        db.close();
    }
    REQUIRE(fs::exists(deadlines_path(path)));
    const std::string bytes = read_file(deadlines_path(path));
    CHECK(bytes.substr(0, 8) == "KVFDLINE");
    CHECK(bytes.find("key1") != std::string::npos);  // keys with a deadline are listed,
    CHECK(bytes.find("key0") == std::string::npos);  // keys without one are not
    CHECK_FALSE(fs::exists(deadlines_path(path) + ".tmp"));

    expiring_log db(path);
    CHECK_FALSE(fs::exists(deadlines_path(path)));  // gone before anything can be written
    check_holds(db, s);
    db.close();
    CHECK(fs::exists(deadlines_path(path)));
}

TEST_CASE("a store closed by its destructor writes the deadlines file too", "[expiry][reopen]") {
    temp_dir dir;
    const std::string path = dir / "store";
    deadline_sample s;
    {
        expiring_log db(path);
        s = fill_sample(db);
    }
    CHECK(fs::exists(deadlines_path(path)));
    {
        expiring_log db(path);  // loads it, and writes it again on the way out
        CHECK_FALSE(fs::exists(deadlines_path(path)));
    }
    CHECK(fs::exists(deadlines_path(path)));
    expiring_log db(path);
    check_holds(db, s);
}

TEST_CASE("the open trusts a deadlines file that fits the store, and reads no value", "[expiry][reopen]") {
    // A file made by hand that lists no key, though key0 has a deadline, and fits this
    // store: the open takes its index from it, so purge_expired() does not find key0
    // (which reads still hide once its deadline comes), as it would had the open read
    // the values.
    temp_dir dir;
    const std::string path = dir / "store";
    {
        expiring_log db(path);
        db.put("key0", "value0", test_clock::now() + 5s);
        db.close();
    }
    kvforge::detail::btree_table index;
    kvforge::posix_io io;
    std::string data_files;
    REQUIRE(kvforge::detail::describe_data_files(io, path, data_files));
    write_file(deadlines_path(path), kvforge::detail::encode_deadline_file(index, 1, data_files));

    expiring_log db(path);
    CHECK(db.get("key0") == "value0");
    test_clock::advance(5s);
    CHECK_FALSE(db.contains("key0"));
    CHECK(db.purge_expired() == 0);
}

TEST_CASE("a deadlines file that is missing, damaged or not the store's own is not used", "[expiry][reopen]") {
    temp_dir dir;
    const std::string other = dir / "other";
    {
        // Another store of as many keys: its file must not stand in for the store's.
        expiring_log db(other);
        for (int i = 0; i < 60; ++i) db.put("key" + std::to_string(i), "x", 1s);
        db.close();
    }
    const std::string foreign = read_file(deadlines_path(other));
    const auto flipped = [](std::string b) {
        b[b.size() / 2] = static_cast<char>(b[b.size() / 2] ^ 0x20);
        return b;
    };
    const std::vector<std::pair<std::string, std::function<std::optional<std::string>(const std::string&)>>> cases = {
        {"missing", [](const std::string&) { return std::optional<std::string>(); }},
        {"a flipped byte", [&](const std::string& good) { return std::optional<std::string>(flipped(good)); }},
        {"truncated",
         [](const std::string& good) { return std::optional<std::string>(good.substr(0, good.size() - 9)); }},
        {"empty", [](const std::string&) { return std::optional<std::string>(""); }},
        {"another store's", [&](const std::string&) { return std::optional<std::string>(foreign); }},
        {"not a deadlines file",
         [](const std::string& good) { return std::optional<std::string>(std::string(good.size(), 'x')); }},
    };
    int n = 0;
    for (const auto& [what, damage] : cases) {
        INFO("deadlines file: " << what);
        const std::string path = dir / ("store" + std::to_string(n++));
        deadline_sample s;
        {
            expiring_log db(path);
            s = fill_sample(db);
            db.close();
        }
        const std::optional<std::string> bytes = damage(read_file(deadlines_path(path)));
        if (bytes) {
            write_file(deadlines_path(path), *bytes);
        } else {
            fs::remove(deadlines_path(path));
        }
        expiring_log db(path);
        CHECK_FALSE(fs::exists(deadlines_path(path)));
        check_holds(db, s);
    }
}

TEST_CASE("a crash after an open and writes leaves no deadlines file: the next open reads the values",
          "[expiry][reopen]") {
    using simulated_log = kvforge::store<std::string, std::string, kvforge::file_log, kvforge::hash_index,
                                         kvforge::expiring<test_clock>, kvforge::simulated_io>;
    auto disk = std::make_shared<kvforge::simulated_file_system>();
    kvforge::simulated_io io(disk);
    deadline_sample s;
    {
        simulated_log db("/store", {}, io);
        s = fill_sample(db);
        db.close();
    }
    struct stat info {};
    REQUIRE(io.stat("/store/deadlines", &info) == 0);
    auto db = std::make_unique<simulated_log>("/store", kvforge::options{}, io);
    CHECK(io.stat("/store/deadlines", &info) != 0);
    // A key's deadline moves and a new one comes; then the power goes, without a close.
    const auto moved = test_clock::now() + 60s;
    db->put("key1", "value1", moved);
    db->put("late", "value", test_clock::now() + 60s);
    db->sync();
    const std::shared_ptr<kvforge::simulated_file_system> after = disk->after_crash(kvforge::crash_tail::dropped);
    db.reset();

    kvforge::simulated_io crashed_io(after);
    CHECK(crashed_io.stat("/store/deadlines", &info) != 0);
    simulated_log reopened("/store", {}, crashed_io);
    CHECK(reopened.expiry("key1") == moved);
    CHECK(reopened.expiry("late") == moved);
    test_clock::advance(60s);
    CHECK(reopened.purge_expired() == s.with_deadline.size() + 1);
    CHECK(reopened.size() == s.without_deadline.size());
}

TEST_CASE("a read-only open loads the deadlines file and leaves it", "[expiry][reopen]") {
    temp_dir dir;
    const std::string path = dir / "store";
    deadline_sample s;
    {
        expiring_log db(path);
        s = fill_sample(db);
        db.close();
    }
    const std::string bytes = read_file(deadlines_path(path));
    kvforge::options read_only;
    read_only.read_only = true;
    {
        expiring_log db(path, read_only);
        CHECK(read_file(deadlines_path(path)) == bytes);
        CHECK(db.size() == s.with_deadline.size() + s.without_deadline.size());
        for (const auto& [key, deadline] : s.with_deadline) CHECK(db.expiry(key) == deadline);
        db.close();
    }
    CHECK(read_file(deadlines_path(path)) == bytes);
    expiring_log db(path);
    check_holds(db, s);
}

TEST_CASE("a backup leaves the deadlines file out, and the restored store builds its own", "[expiry][reopen]") {
    temp_dir dir;
    const std::string path = dir / "store";
    const std::string copy = dir / "backup";
    deadline_sample s;
    {
        expiring_log db(path);
        s = fill_sample(db);
        db.backup(copy);
        db.close();
    }
    CHECK_FALSE(fs::exists(deadlines_path(copy)));
    {
        expiring_log restored(copy);
        restored.close();
    }
    CHECK(fs::exists(deadlines_path(copy)));
    expiring_log restored(copy);
    check_holds(restored, s);
}

TEST_CASE("destroy removes the deadlines file with the store", "[expiry][reopen]") {
    temp_dir dir;
    const std::string path = dir / "store";
    {
        expiring_log db(path);
        db.put("a", "1", 1h);
        db.close();
    }
    REQUIRE(fs::exists(deadlines_path(path)));
    write_file(deadlines_path(path) + ".tmp", "left by a close cut short");
    kvforge::destroy(path);
    CHECK_FALSE(fs::exists(path));
}

TEST_CASE("clear and purge_expired leave a deadlines file that fits the store", "[expiry][reopen]") {
    temp_dir dir;
    const std::string path = dir / "store";
    {
        expiring_log db(path);
        fill_sample(db);
        db.clear();
        db.put("kept", "1", 30s);
        db.put("gone", "2", 10s);
        test_clock::advance(10s);
        CHECK(db.purge_expired() == 1);
        db.close();
    }
    expiring_log db(path);
    CHECK(db.size() == 1);
    CHECK(db.get("kept") == "1");
    test_clock::advance(20s);
    CHECK(db.purge_expired() == 1);
    CHECK(db.size() == 0);
}

TEST_CASE("btree_table::assign_sorted builds the table upserts would", "[expiry][reopen][btree]") {
    using kvforge::detail::btree_table;
    // Leaves made by the build, or prepared before it (prepare_leaves) for none, half or
    // all of the records, or for more than there are.
    const auto cases = {std::pair{-1, 63U}, std::pair{0, btree_table::leaf_entries_with_room},
                        std::pair{1, btree_table::leaf_entries_with_room}, std::pair{2, 63U},
                        std::pair{4, btree_table::leaf_entries_with_room}};
    for (const auto& [prepared_halves, leaf_entries] : cases)
        for (const int n : {0, 1, 63, 64, 78, 4000, 4033, 4096 + 63 * 64 + 1, 300000}) {
            INFO(n << " records, leaves prepared for " << prepared_halves << " halves of them, " << leaf_entries
                   << " entries a leaf");
            std::vector<std::string> keys;
            for (int i = 0; i < n; ++i) {
                char key[24];
                std::snprintf(key, sizeof key, "user:%09d", i * 7);
                keys.emplace_back(key);
            }
            btree_table table;
            table.upsert("replaced", "x", [](std::string_view) {});
            if (prepared_halves >= 0)
                table.prepare_leaves(static_cast<std::size_t>(n * prepared_halves / 2), leaf_entries);
            std::size_t next = 0;
            table.assign_sorted(
                [&](std::string_view& key, std::string_view& payload) {
                    if (next == keys.size()) return false;
                    key = keys[next];
                    payload = std::string_view(keys[next]).substr(5);
                    ++next;
                    return true;
                },
                leaf_entries);
            REQUIRE(table.size() == keys.size());
            CHECK_FALSE(table.find("replaced").has_value());
            std::vector<std::string> seen;
            table.for_each([&](std::string_view key, std::string_view payload) {
                CHECK(payload == key.substr(5));
                seen.emplace_back(key);
            });
            CHECK(seen == keys);
            for (const std::string& key : keys) CHECK(table.find(key) == std::string_view(key).substr(5));
            CHECK_FALSE(table.find("user:000000001").has_value());
            std::vector<std::string> down;
            table.visit_down_from(std::nullopt, true, [&](std::string_view key, std::string_view) {
                down.emplace_back(key);
                return true;
            });
            CHECK(std::equal(down.rbegin(), down.rend(), keys.begin(), keys.end()));
            // It stays a table like any other: inserts between its keys, then erasing every key.
            for (int i = 0; i < n; i += 3) {
                char key[24];
                std::snprintf(key, sizeof key, "user:%09d", i * 7 + 1);
                CHECK(table.upsert(key, "new", [](std::string_view) {}));
            }
            for (int i = 0; i < n; i += 3) {
                char key[24];
                std::snprintf(key, sizeof key, "user:%09d", i * 7 + 1);
                CHECK(table.erase(key, [](std::string_view) {}));
            }
            for (std::size_t i = 0; i < keys.size(); i += 2) CHECK(table.erase(keys[i], [](std::string_view) {}));
            for (std::size_t i = 0; i < keys.size(); ++i) CHECK(table.find(keys[i]).has_value() == (i % 2 == 1));
            for (std::size_t i = 1; i < keys.size(); i += 2) CHECK(table.erase(keys[i], [](std::string_view) {}));
            CHECK(table.empty());
        }
}
