// any_store through open_store: every composition of the default list serves the calls
// of store, and the calls a composition cannot serve fail at run time, naming the fix.

#include <catch2/catch.hpp>

#include <kvforge/kvforge.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

#include "../support/behind_system_clock.hpp"
#include "../support/open_store_once.hpp"
#include "../support/temp_dir.hpp"

using kvforge_test::temp_dir;
using any_strings = kvforge::any_store<std::string, std::string>;

namespace {

/// A composition of the default list, as the spec word of each kind.
struct composition_words {
    std::string store, index, durability, threading;

    [[nodiscard]] bool persistent() const { return store != "memory"; }
    /// The spec that opens it, with short words where a policy has one.
    [[nodiscard]] std::string spec(const std::string& path) const {
        const std::string words = store + "," + index + (persistent() ? "," + durability : "") + "," + threading;
        return persistent() ? words + ":" + path : words;
    }
    /// The spec any_store::spec() reports: every name in full.
    [[nodiscard]] std::string canonical(const std::string& path) const {
        auto full = [](const std::string& word) -> std::string {
            if (word == "hash") return "hash_index";
            if (word == "sorted") return "sorted_index";
            if (word == "sync") return "sync_each";
            if (word == "async") return "async_worker";
            if (word == "st") return "single_thread";
            if (word == "mt") return "thread_safe";
            if (word == "mmap") return "mmap_file";
            return word;
        };
        const std::string words = full(store) + "," + full(index) + (persistent() ? "," + full(durability) : "") +
                                  "," + full(threading);
        return persistent() ? words + ":" + path : words;
    }
};

std::vector<composition_words> every_default_composition() {
    std::vector<composition_words> all;
    for (const char* index : {"hash", "sorted_index"}) {
        for (const char* threading : {"st", "thread_safe"}) all.push_back({"memory", index, "", threading});
    }
    for (const char* store : {"file_log", "mmap"}) {
        for (const char* index : {"hash_index", "sorted"}) {
            for (const char* durability : {"buffered", "sync", "async_worker"}) {
                for (const char* threading : {"single_thread", "mt"}) {
                    all.push_back({store, index, durability, threading});
                }
            }
        }
    }
    return all;
}

/// The error a throwing call raises, with its message.
template <class F>
kvforge::error error_of(F&& f) {
    try {
        f();
    } catch (const kvforge::error& e) {
        return e;
    }
    FAIL("the call did not throw");
    return kvforge::error({}, "");
}

std::map<std::string, std::string> any_contents(const any_strings& db) {
    std::map<std::string, std::string> contents;
    db.for_each([&](const std::string& key, const std::string& value) { contents[key] = value; });
    return contents;
}

}  // namespace

TEST_CASE("every composition of the default list opens from its spec and serves the calls of store", "[any_store]") {
    const std::vector<composition_words> all = every_default_composition();
    REQUIRE(all.size() == 28);
    for (const composition_words& words : all) {
        temp_dir dir;
        const std::string path = dir / "store";
        const std::string spec = words.spec(path);
        INFO("spec " << spec);
        any_strings db = kvforge::open_store<std::string, std::string>(spec);
        REQUIRE(db.is_open());
        CHECK(db.spec() == words.canonical(path));
        CHECK(db.persistent() == words.persistent());
        const bool ordered = words.index.rfind("sorted", 0) == 0;
        const bool sequenced = words.durability.rfind("async", 0) == 0;
        CHECK(db.ordered() == ordered);
        CHECK(db.sequenced() == sequenced);
        CHECK(db.composition().key_codec == "bytes");

        db.put("alice", "admin");
        db.put("bob", "dev");
        kvforge::batch<std::string, std::string> b;
        b.put("carol", "ops");
        b.erase("bob");
        const std::uint64_t batch_sequence = db.write(b);
        CHECK(db.get("alice") == std::optional<std::string>("admin"));
        CHECK_FALSE(db.get("bob").has_value());
        std::string buffer = "reused";
        CHECK(db.get("carol", buffer));
        CHECK(buffer == "ops");
        std::string seen;
        CHECK(db.visit("alice", [&](std::string_view bytes) { seen = bytes; }));
        CHECK(seen == "admin");
        CHECK(db.contains("carol"));
        CHECK_FALSE(db.contains("bob"));
        CHECK(db.size() == 2);
        CHECK_FALSE(db.empty());
        CHECK(db.stats().live_keys == 2);
        CHECK(any_contents(db) == std::map<std::string, std::string>{{"alice", "admin"}, {"carol", "ops"}});

        if (ordered) {
            std::vector<std::string> keys;
            for (const auto& [key, value] : db.scan("a", "c")) keys.push_back(key);
            CHECK(keys == std::vector<std::string>{"alice"});
            keys.clear();
            for (const auto& [key, value] : db.scan_from("b")) keys.push_back(key);
            CHECK(keys == std::vector<std::string>{"carol"});
            keys.clear();
            for (const auto& [key, value] : db.scan_prefix("car")) keys.push_back(key + "=" + value);
            CHECK(keys == std::vector<std::string>{"carol=ops"});
            keys.clear();
            for (const auto& [key, value] : db.scan()) keys.push_back(key);
            CHECK(keys == std::vector<std::string>{"alice", "carol"});
            keys.clear();
            for (const auto& [key, value] : db.scan(kvforge::descending)) keys.push_back(key);
            CHECK(keys == std::vector<std::string>{"carol", "alice"});
            keys.clear();
            for (const auto& [key, value] : db.scan("alice", "carol", kvforge::descending)) keys.push_back(key);
            CHECK(keys == std::vector<std::string>{"alice"});
            keys.clear();
            for (const auto& [key, value] : db.scan_from("b", kvforge::descending)) keys.push_back(key);
            CHECK(keys == std::vector<std::string>{"alice"});
            keys.clear();
            for (const auto& [key, value] : db.scan_prefix("", kvforge::descending)) keys.push_back(key);
            CHECK(keys == std::vector<std::string>{"carol", "alice"});
        } else {
            const kvforge::error e = error_of([&] { (void)db.scan("a", "c"); });
            CHECK(e.code() == kvforge::errc::not_supported);
            CHECK_THAT(e.what(), Catch::Contains("scan() needs an ordered index") && Catch::Contains("'sorted'"));
            CHECK(error_of([&] { (void)db.scan_prefix("a"); }).code() == kvforge::errc::not_supported);
            CHECK(error_of([&] { (void)db.scan_from("a"); }).code() == kvforge::errc::not_supported);
            CHECK(error_of([&] { (void)db.scan(kvforge::descending); }).code() == kvforge::errc::not_supported);
            // The error_code form reports it when the range is read, as other scan errors.
            std::error_code ec;
            auto range = db.scan("a", "c", ec);
            CHECK(range.begin() == range.end());
            CHECK(ec == kvforge::errc::not_supported);
            auto descending = db.scan("a", "c", kvforge::descending, ec);
            CHECK(descending.begin() == descending.end());
            CHECK(ec == kvforge::errc::not_supported);
        }

        if (sequenced) {
            CHECK(batch_sequence > 0);
            const std::uint64_t sequence = db.put("dave", "qa");
            db.wait_durable(sequence);
            CHECK(db.durable_seq() >= sequence);
            CHECK(db.erase("dave"));
        } else {
            CHECK(batch_sequence == 0);
            const kvforge::error e = error_of([&] { db.wait_durable(1); });
            CHECK(e.code() == kvforge::errc::not_supported);
            CHECK_THAT(e.what(), Catch::Contains("wait_durable() needs async_worker"));
            std::error_code ec;
            CHECK(db.durable_seq(ec) == 0);
            CHECK(ec == kvforge::errc::not_supported);
        }

        if (words.store == "mmap") {
            const std::optional<kvforge::pinned_value> view = db.get_view("alice");
            REQUIRE(view.has_value());
            CHECK(view->bytes() == "admin");
        } else {
            const kvforge::error e = error_of([&] { (void)db.get_view("alice"); });
            CHECK(e.code() == kvforge::errc::not_supported);
            CHECK_THAT(e.what(), Catch::Contains("get_view() needs mmap_file"));
        }

        db.flush();
        db.sync();
        db.compact();
        CHECK(db.verify().ok());
        CHECK(db.verify().records_checked >= 2);

        if (words.persistent()) {
            db.close();
            CHECK_FALSE(db.is_open());
            std::error_code ec;
            CHECK_FALSE(db.get("alice", ec).has_value());
            CHECK(ec == kvforge::errc::store_closed);
            // Reopened from the bare path: as the MANIFEST says, with the default threading
            // policy, which a manifest does not record.
            const kvforge::composition& made = db.composition();
            any_strings again = kvforge::open_store<std::string, std::string>(path);
            CHECK(again.spec() == made.store + "," + made.index + "," + made.durability + ",single_thread:" + path);
            CHECK(any_contents(again) == std::map<std::string, std::string>{{"alice", "admin"}, {"carol", "ops"}});
        } else {
            db.clear();
            CHECK(db.empty());
        }
    }
}

TEST_CASE("an any_store's snapshot reads the store as of its cut and takes no writes", "[any_store][snapshot]") {
    for (const composition_words& words : every_default_composition()) {
        temp_dir dir;
        const std::string spec = words.spec(dir / "store");
        INFO("spec " << spec);
        any_strings db = kvforge::open_store<std::string, std::string>(spec);
        db.put("alice", "admin");
        db.put("bob", "dev");
        const any_strings snap = db.snapshot();
        db.put("alice", "former admin");
        db.erase("bob");
        db.put("carol", "ops");
        db.compact();

        CHECK(snap.is_open());
        CHECK(snap.ordered() == db.ordered());
        CHECK(snap.get("alice") == std::optional<std::string>("admin"));
        std::string buffer;
        CHECK(snap.get("bob", buffer));
        CHECK(buffer == "dev");
        CHECK_FALSE(snap.contains("carol"));
        CHECK(snap.size() == 2);
        const std::map<std::string, std::string> at_cut{{"alice", "admin"}, {"bob", "dev"}};
        CHECK(any_contents(snap) == at_cut);
        if (snap.ordered()) {
            std::vector<std::string> keys;
            for (const auto& [key, value] : snap.scan(kvforge::descending)) keys.push_back(key);
            CHECK(keys == std::vector<std::string>{"bob", "alice"});
        } else {
            CHECK(error_of([&] { (void)snap.scan(); }).code() == kvforge::errc::not_supported);
        }

        std::error_code ec;
        any_strings copy = snap.snapshot(ec);  // a snapshot's snapshot is the same view
        CHECK_FALSE(ec);
        CHECK(any_contents(copy) == at_cut);
        CHECK(error_of([&] { copy.put("dave", "qa"); }).code() == kvforge::errc::read_only);
        CHECK_THAT(kvforge::last_error_message(), Catch::Contains("snapshot"));
        CHECK(error_of([&] { copy.clear(); }).code() == kvforge::errc::read_only);
        CHECK(db.get("alice") == std::optional<std::string>("former admin"));
    }
}

TEST_CASE("a read-only any_store beside a writer catches up with refresh()", "[any_store][readers]") {
    for (const composition_words& words : every_default_composition()) {
        temp_dir dir;
        const std::string spec = words.spec(dir / "store");
        INFO("spec " << spec);
        any_strings writer = kvforge::open_store<std::string, std::string>(spec);
        writer.put("alice", "admin");
        writer.sync();
        if (!words.persistent()) {
            CHECK(error_of([&] { (void)writer.refresh(); }).code() == kvforge::errc::not_supported);
            continue;
        }
        kvforge::options read_only;
        read_only.read_only = true;
        any_strings reader = kvforge::open_store<std::string, std::string>(spec, read_only);
        CHECK(reader.get("alice") == std::optional<std::string>("admin"));
        writer.put("bob", "dev");
        writer.erase("alice");
        writer.sync();
        CHECK(reader.refresh() == 2);
        CHECK(any_contents(reader) == std::map<std::string, std::string>{{"bob", "dev"}});
        CHECK(error_of([&] { (void)writer.refresh(); }).code() == kvforge::errc::invalid_argument);
        any_strings snap = reader.snapshot();
        CHECK(error_of([&] { (void)snap.refresh(); }).code() == kvforge::errc::not_supported);
    }
}

TEST_CASE("the error_code forms report what the throwing forms throw", "[any_store]") {
    any_strings empty;
    std::error_code ec;
    CHECK_FALSE(empty.is_open());
    CHECK(empty.put("k", "v", ec) == 0);
    CHECK(ec == kvforge::errc::store_closed);
    CHECK_THAT(kvforge::last_error_message(), Catch::Contains("open_store"));
    CHECK_FALSE(empty.get("k", ec).has_value());
    CHECK(ec == kvforge::errc::store_closed);
    CHECK(error_of([&] { empty.put("k", "v"); }).code() == kvforge::errc::store_closed);
    CHECK(empty.size() == 0);
    empty.close(ec);
    CHECK_FALSE(ec);

    any_strings opened = kvforge::open_store<std::string, std::string>("memory");
    opened.put("k", "v", ec);
    CHECK_FALSE(ec);
    CHECK(opened.get("k", ec) == std::optional<std::string>("v"));
    CHECK_FALSE(ec);
    any_strings moved = std::move(opened);
    CHECK(moved.get("k") == std::optional<std::string>("v"));
}

TEST_CASE("'expiring' in a spec opens a file store whose keys carry deadlines", "[any_store][expiry]") {
    using namespace std::chrono_literals;
    temp_dir dir;
    const std::string path = dir / "sessions";
    any_strings db = kvforge::open_store<std::string, std::string>("file_log,hash,expiring:" + path);
    CHECK(db.spec() == "file_log,hash_index,buffered,single_thread,expiring:" + path);
    CHECK(db.composition().expiry == "system_clock:" + std::to_string(std::chrono::system_clock::period::num) + "/" +
                                         std::to_string(std::chrono::system_clock::period::den));
    const auto deadline = std::chrono::system_clock::now() + 1h;
    db.put("token", "alice", deadline);
    db.put("day", "bob", 24h);
    db.put("forever", "carol");
    db.put("gone", "dave", std::chrono::system_clock::now() - 1s);
    CHECK(db.expiry("token") == deadline);
    CHECK(db.expiry("day").has_value());
    CHECK_FALSE(db.expiry("forever").has_value());
    CHECK_FALSE(db.contains("gone"));
    CHECK(db.size() == 3);
    CHECK(db.purge_expired() == 0);
    db.close();

    // A bare path opens it as its MANIFEST says, deadlines and all.
    any_strings again = kvforge::open_store<std::string, std::string>(path);
    CHECK(again.spec() == "file_log,hash_index,buffered,single_thread,expiring:" + path);
    CHECK(again.expiry("token") == deadline);
    CHECK(again.get("token") == std::optional<std::string>("alice"));
}

TEST_CASE("a bare path opens any store written with expiring<>, and its expired keys are absent",
          "[any_store][expiry]") {
    using namespace std::chrono_literals;
    using kvforge_test::behind_system_clock;
    temp_dir dir;
    const std::string path = dir / "sessions";
    {
        // A composition not in the default list: mmap_file, sync_each and thread_safe bind nothing on disk.
        kvforge::store<std::string, std::string, kvforge::mmap_file, kvforge::sorted_index, kvforge::sync_each,
                       kvforge::thread_safe, kvforge::expiring<behind_system_clock>>
            written(path);
        written.put("expired", "1", behind_system_clock::now() + 1min);  // an hour behind: already past
        written.put("live", "2", behind_system_clock::now() + 2h);
        written.put("forever", "3");
    }
    any_strings db = kvforge::open_store<std::string, std::string>(path);
    CHECK(db.spec() == "file_log,sorted_index,buffered,single_thread,expiring:" + path);
    CHECK_FALSE(db.get("expired").has_value());
    CHECK(db.get("live") == std::optional<std::string>("2"));
    CHECK(db.size() == 2);
    CHECK(db.stats().live_keys == 2);
    CHECK(any_contents(db) == std::map<std::string, std::string>{{"forever", "3"}, {"live", "2"}});
    std::vector<std::string> keys;
    for (const auto& [key, value] : db.scan()) keys.push_back(key);
    CHECK(keys == std::vector<std::string>{"forever", "live"});
    CHECK(db.purge_expired() == 1);
    db.close();

    // A spec that leaves expiry out takes it from the MANIFEST; one that names a
    // composition without it (the default list has no expiring mmap_file) is refused.
    CHECK(kvforge::open_store<std::string, std::string>("hash:" + path).spec() ==
          "file_log,hash_index,buffered,single_thread,expiring:" + path);
    std::error_code ec;
    any_strings plain = kvforge::open_store<std::string, std::string>("mmap_file:" + path, ec);
    CHECK(ec == kvforge::errc::codec_mismatch);
    CHECK_THAT(kvforge::last_error_message(), Catch::Contains("expiry"));
}

TEST_CASE("deadlines on a store opened without 'expiring' fail with not_supported", "[any_store][expiry]") {
    using namespace std::chrono_literals;
    temp_dir dir;
    any_strings db = kvforge::open_store<std::string, std::string>("file_log,hash:" + (dir / "plain"));
    std::error_code ec;
    db.put("k", "v", 1h, ec);
    CHECK(ec == kvforge::errc::not_supported);
    CHECK_THAT(kvforge::last_error_message(), Catch::Contains("'expiring' in its spec"));
    CHECK_FALSE(db.contains("k"));
    CHECK_FALSE(db.expiry("k", ec).has_value());
    CHECK(ec == kvforge::errc::not_supported);
    CHECK(error_of([&] { db.purge_expired(); }).code() == kvforge::errc::not_supported);
}

TEST_CASE("an expiring any_store's batch takes puts with a time to live or a deadline", "[any_store][expiry][batch]") {
    using namespace std::chrono_literals;
    for (const char* index : {"hash", "sorted"}) {
        temp_dir dir;
        const std::string path = dir / "sessions";
        INFO("index " << index);
        any_strings db =
            kvforge::open_store<std::string, std::string>(std::string("file_log,") + index + ",expiring:" + path);
        db.put("stale", "old");
        db.put("renewed", "v1", 1min);
        const auto deadline = std::chrono::system_clock::now() + 1h;
        any_strings::batch_type b;
        b.put("token", "alice", deadline);
        b.put("day", "bob", 24h);
        b.put("forever", "carol");
        b.put("stale", "new", std::chrono::system_clock::now() - 1s);  // past: removes the key
        b.put("renewed", "v2");                                        // a plain put clears the deadline
        db.write(b);

        CHECK(db.expiry("token") == deadline);
        CHECK(db.get("token") == std::optional<std::string>("alice"));
        const std::optional<any_strings::time_point> day = db.expiry("day");
        REQUIRE(day.has_value());
        CHECK(*day > std::chrono::system_clock::now() + 23h);
        CHECK(*day <= std::chrono::system_clock::now() + 24h);
        CHECK_FALSE(db.expiry("forever").has_value());
        CHECK(db.get("forever") == std::optional<std::string>("carol"));
        CHECK_FALSE(db.contains("stale"));
        CHECK_FALSE(db.expiry("renewed").has_value());
        CHECK(db.get("renewed") == std::optional<std::string>("v2"));
        CHECK(db.size() == 4);
        db.close();

        // The deadlines are in the store's files: a reopened store has them.
        any_strings again = kvforge::open_store<std::string, std::string>(path);
        CHECK(again.expiry("token") == deadline);
        CHECK(again.expiry("day") == day);
        CHECK_FALSE(again.expiry("forever").has_value());
        CHECK_FALSE(again.contains("stale"));
    }
}

TEST_CASE("a batch with a deadline fails with not_supported on a store without 'expiring', writing nothing",
          "[any_store][expiry][batch]") {
    using namespace std::chrono_literals;
    for (const composition_words& words : every_default_composition()) {
        temp_dir dir;
        const std::string spec = words.spec(dir / "store");
        INFO("spec " << spec);
        any_strings db = kvforge::open_store<std::string, std::string>(spec);
        db.put("kept", "1");

        any_strings::batch_type with_deadline;
        with_deadline.put("a", "1");
        with_deadline.erase("kept");
        with_deadline.put("k", "v", 1h);
        std::error_code ec;
        CHECK(db.write(with_deadline, ec) == 0);
        CHECK(ec == kvforge::errc::not_supported);
        CHECK_THAT(kvforge::last_error_message(), Catch::Contains("a batch's put() with a deadline needs") &&
                                                      Catch::Contains("'expiring' in its spec"));
        const kvforge::error e = error_of([&] { db.write(with_deadline); });
        CHECK(e.code() == kvforge::errc::not_supported);
        CHECK_FALSE(db.contains("a"));
        CHECK_FALSE(db.contains("k"));
        CHECK(db.get("kept") == std::optional<std::string>("1"));
        CHECK(db.size() == 1);

        // The same batch type without deadlines is written as any batch is.
        any_strings::batch_type plain;
        plain.put("a", "1");
        plain.erase("kept");
        db.write(plain, ec);
        CHECK_FALSE(ec);
        CHECK(any_contents(db) == std::map<std::string, std::string>{{"a", "1"}});
    }
}

TEST_CASE("keys and values of other types go through their codecs", "[any_store]") {
    temp_dir dir;
    const std::string path = dir / "numbers";
    {
        // Only the composition the spec names: every composition again, for these types,
        // would double this file's build time.
        using numbers_stores = kvforge::composition_list<kvforge::policies<kvforge::file_log, kvforge::sorted_index>>;
        auto db = kvforge::open_store<std::uint64_t, double, numbers_stores>("file_log,sorted:" + path);
        for (std::uint64_t i = 0; i < 300; ++i) db.put(i, static_cast<double>(i) / 2);
        CHECK(db.composition().key_codec == "uint64.be");
        CHECK(db.composition().value_codec == "float64.be");
        std::vector<std::uint64_t> keys;
        for (const auto& [key, value] : db.scan(255, 260)) {
            keys.push_back(key);
            CHECK(value == static_cast<double>(key) / 2);
        }
        CHECK(keys == std::vector<std::uint64_t>{255, 256, 257, 258, 259});
    }
    std::error_code ec;
    auto wrong = kvforge::open_store<std::string, std::string>(path, ec);
    CHECK(ec == kvforge::errc::codec_mismatch);
    CHECK_FALSE(wrong.is_open());
}

TEST_CASE("one thread_safe any_store serves many threads at once", "[any_store]") {
    temp_dir dir;
    for (const std::string& spec : {std::string("memory,sorted,mt"), "file_log,hash,sync,mt:" + dir / "mt"}) {
        INFO("spec " << spec);
        any_strings db = kvforge::open_store<std::string, std::string>(spec);
        constexpr int writers = 4;
        constexpr int per_writer = 500;
        std::atomic<int> wrong_reads{0};
        std::vector<std::thread> threads;
        for (int w = 0; w < writers; ++w) {
            threads.emplace_back([&db, &wrong_reads, w] {
                for (int i = 0; i < per_writer; ++i) {
                    const std::string key = std::to_string(w) + "-" + std::to_string(i);
                    db.put(key, key);
                    if (db.get(key) != std::optional<std::string>(key)) ++wrong_reads;
                }
            });
        }
        for (std::thread& t : threads) t.join();
        CHECK(wrong_reads == 0);
        CHECK(db.size() == writers * per_writer);
        CHECK(db.verify().ok());
    }
}
