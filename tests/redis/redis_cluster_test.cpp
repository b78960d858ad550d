// kvforge::redis_cluster against a running cluster (tools/redis_cluster.sh): every call's
// behaviour, read back through the store and behind its back.

#include <catch2/catch.hpp>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

#include <kvforge/kvforge.hpp>
#include <kvforge/stores/redis_cluster.hpp>

#include "cluster.hpp"

namespace {

using synced_store = kvforge::store<std::string, std::string, kvforge::redis_cluster, kvforge::sync_each>;
using buffered_store = kvforge::store<std::string, std::string, kvforge::redis_cluster>;
using shared_store =
    kvforge::store<std::string, std::string, kvforge::redis_cluster, kvforge::sync_each, kvforge::thread_safe>;

/// The name part of a location: what the store's keys start with, before the '/'.
std::string name_of(const std::string& location) { return location.substr(location.rfind('/') + 1); }

/// The reply of verb (GET, PTTL) on a store's key, from its slot's master behind the store's back.
std::string raw(const std::string& location, const std::string& verb, const std::string& key) {
    const std::string full = name_of(location) + "/" + key;
    kvforge_test::node master(kvforge_test::master_port_of(kvforge::detail::redis::hash_slot(full)));
    return master.run({verb, full});
}

/// A connection, reading (READONLY), to the replica of the master that serves a cluster key.
kvforge_test::node replica_of(const std::string& full_key) {
    kvforge_test::node replica(
        kvforge_test::replica_port_of(kvforge_test::master_port_of(kvforge::detail::redis::hash_slot(full_key))));
    REQUIRE(replica.run({"READONLY"}) == "OK");
    return replica;
}

}  // namespace

TEST_CASE("redis_cluster: hash slots are the server's, hash tags included", "[redis]") {
    CHECK(kvforge::detail::redis::crc16("123456789") == 0x31C3);
    kvforge_test::node any(kvforge_test::first_port());
    for (const std::string key : {"", "a", "blocks/abc", "{user1}.name", "x/{user1}.name", "{}x", "{x", "a{b}c{d}"}) {
        CAPTURE(key);
        CHECK(std::to_string(kvforge::detail::redis::hash_slot(key)) == any.run({"CLUSTER", "KEYSLOT", key}));
    }
    CHECK(kvforge::detail::redis::hash_slot("blocks/{user1}.name") == kvforge::detail::redis::hash_slot("{user1}.mail"));
}

TEST_CASE("redis_cluster: values read back through every get, under the store's prefix", "[redis]") {
    const std::string location = kvforge_test::fresh_location("values");
    synced_store db(location);
    db.put("alice", "admin");
    db.put("bob", std::string(100000, 'b'));
    db.put("empty", "");
    CHECK(db.get("alice") == "admin");
    CHECK(db.get("bob")->size() == 100000);
    CHECK(db.get("empty") == "");
    CHECK_FALSE(db.get("carol").has_value());
    std::string out;
    CHECK(db.get("alice", out));
    CHECK(out == "admin");
    CHECK(db.contains("alice"));
    CHECK_FALSE(db.contains("carol"));
    std::size_t seen = 0;
    CHECK(db.visit("alice", [&](std::string_view v) { seen = v.size(); }));
    CHECK(seen == 5);
    const std::vector<std::string> keys{"alice", "carol", "bob", "empty"};
    std::vector<std::optional<std::string>> values(keys.size());
    CHECK(db.get_many(keys, std::span(values)) == 3);
    CHECK(values[0] == "admin");
    CHECK_FALSE(values[1].has_value());
    CHECK(values[3] == "");
    db.put("alice", "user");
    CHECK(db.get("alice") == "user");
    // Behind the store's back: the key is the store's name, '/', the key's bytes.
    CHECK(raw(location, "GET", "alice") == "user");
}

TEST_CASE("redis_cluster: keys and values go through kvforge's codecs", "[redis]") {
    kvforge::store<std::uint64_t, double, kvforge::redis_cluster, kvforge::sync_each> db(
        kvforge_test::fresh_location("codecs"));
    for (std::uint64_t k = 0; k < 50; ++k) db.put(k, static_cast<double>(k) / 4);
    for (std::uint64_t k = 0; k < 50; ++k) CHECK(db.get(k) == static_cast<double>(k) / 4);
    std::map<std::uint64_t, double> walked;
    db.for_each([&](std::uint64_t k, double v) { walked[k] = v; });
    CHECK(walked.size() == 50);
    CHECK(walked[49] == 49.0 / 4);
}

TEST_CASE("redis_cluster: erase says whether the key existed", "[redis]") {
    synced_store db(kvforge_test::fresh_location("erase"));
    db.put("k", "v");
    CHECK(db.erase("k"));
    CHECK_FALSE(db.erase("k"));
    CHECK_FALSE(db.get("k").has_value());
    CHECK(db.stats().erases == 1);
}

TEST_CASE("redis_cluster: a batch on one slot is applied whole; across slots, refused and not applied", "[redis]") {
    synced_store db(kvforge_test::fresh_location("batch"));
    db.put("{u1}.old", "x");
    kvforge::batch<std::string, std::string> same_slot;
    same_slot.put("{u1}.name", "Ann");
    same_slot.put("{u1}.mail", "ann@example.org");
    same_slot.erase("{u1}.old");
    db.write(same_slot);
    CHECK(db.get("{u1}.name") == "Ann");
    CHECK(db.get("{u1}.mail") == "ann@example.org");
    CHECK_FALSE(db.contains("{u1}.old"));
    CHECK(db.stats().batches == 1);

    kvforge::batch<std::string, std::string> across;
    across.put("{u2}.a", "1");
    across.put("{u3}.b", "2");
    REQUIRE(kvforge::detail::redis::hash_slot("{u2}") != kvforge::detail::redis::hash_slot("{u3}"));
    std::error_code ec;
    db.write(across, ec);
    CHECK(ec == kvforge::errc::invalid_argument);
    CHECK_THAT(kvforge::last_error_message(), Catch::Contains("share a hash slot") && Catch::Contains("hash tag"));
    CHECK_FALSE(db.contains("{u2}.a"));
    CHECK_FALSE(db.contains("{u3}.b"));
}

TEST_CASE("redis_cluster: for_each, size and clear touch the store's own keys only", "[redis]") {
    const std::string mine = kvforge_test::fresh_location("mine");
    const std::string theirs = kvforge_test::fresh_location("theirs");
    buffered_store a(mine);
    buffered_store b(theirs);
    for (int i = 0; i < 500; ++i) a.put("k" + std::to_string(i), "a" + std::to_string(i));
    for (int i = 0; i < 300; ++i) b.put("k" + std::to_string(i), "b" + std::to_string(i));
    a.flush();
    b.flush();
    std::map<std::string, std::string> walked;
    a.for_each([&](const std::string& k, const std::string& v) { CHECK(walked.emplace(k, v).second); });
    REQUIRE(walked.size() == 500);
    for (int i = 0; i < 500; ++i) CHECK(walked["k" + std::to_string(i)] == "a" + std::to_string(i));
    CHECK(a.size() == 500);
    CHECK(b.size() == 300);
    CHECK(a.stats().live_keys == 500);
    CHECK(a.verify().records_checked == 500);
    a.clear();
    CHECK(a.size() == 0);
    CHECK(a.empty());
    CHECK(b.size() == 300);
    CHECK(b.get("k7") == "b7");
}

TEST_CASE("redis_cluster: for_each's visitor may call the store, thread_safe too", "[redis]") {
    shared_store db(kvforge_test::fresh_location("visit"));
    for (int i = 0; i < 2500; ++i) db.put("k" + std::to_string(i), "v" + std::to_string(i));
    int visited = 0;
    int read_back = 0;
    db.for_each([&](const std::string& k, const std::string& v) {
        ++visited;
        read_back += db.get(k) == v && db.contains(k);  // the store's mutex is not held here
    });
    CHECK(visited == 2500);
    CHECK(read_back == 2500);
    db.clear();
}

TEST_CASE("redis_cluster: buffered writes reach the cluster at flush, and the writer reads its own", "[redis]") {
    const std::string location = kvforge_test::fresh_location("buffered");
    buffered_store writer(location);
    buffered_store reader(location);
    writer.put("k", "v");
    CHECK_FALSE(reader.get("k").has_value());  // still in the writer's buffer
    writer.flush();
    CHECK(reader.get("k") == "v");
    writer.put("k2", "v2");
    CHECK(writer.get("k2") == "v2");  // a read sends the buffer first
    CHECK(reader.get("k2") == "v2");
    writer.put("k3", "v3");
    writer.sync();  // sent, and on a replica
    CHECK(reader.get("k3") == "v3");
    writer.put("k4", "v4");
    writer.close();  // sends the rest
    CHECK(reader.get("k4") == "v4");
}

TEST_CASE("redis_cluster: a buffer that fills is sent without a flush", "[redis]") {
    const std::string location = kvforge_test::fresh_location("full");
    kvforge::store<std::string, std::string, kvforge::redis_cluster, kvforge::buffered<1024, 60000>> writer(location);
    buffered_store reader(location);
    for (int i = 0; i < 20; ++i) writer.put("k" + std::to_string(i), std::string(100, 'x'));
    CHECK(reader.size() >= 10);
}

TEST_CASE("redis_cluster: sync_each returns once a replica has the write", "[redis]") {
    const std::string location = kvforge_test::fresh_location("replica");
    synced_store db(location);
    const std::string full = name_of(location) + "/k";
    kvforge_test::node replica = replica_of(full);
    for (int i = 0; i < 20; ++i) {
        db.put("k", "v" + std::to_string(i));
        CHECK(replica.run({"GET", full}) == "v" + std::to_string(i));
    }
    CHECK(db.stats().syncs >= 20);
}

TEST_CASE("redis_cluster: MOVED and ASK redirects are followed while a slot migrates", "[redis]") {
    const std::string location = kvforge_test::fresh_location("moved");
    synced_store db(location);
    // A hash tag whose slot holds no other key, so that moving this test's keys empties it.
    std::string tag;
    for (int n = 0; tag.empty(); ++n) {
        const std::string candidate = "{m" + std::to_string(n) + "}";
        const std::uint16_t candidate_slot = kvforge::detail::redis::hash_slot(candidate);
        kvforge_test::node owner(kvforge_test::master_port_of(candidate_slot));
        if (owner.run({"CLUSTER", "COUNTKEYSINSLOT", std::to_string(candidate_slot)}) == "0") tag = candidate;
    }
    db.put(tag + ".a", "1");
    db.put(tag + ".b", "2");
    const std::string full_a = name_of(location) + "/" + tag + ".a";
    const std::string full_b = name_of(location) + "/" + tag + ".b";
    const std::uint16_t slot = kvforge::detail::redis::hash_slot(full_a);
    const std::string slot_text = std::to_string(slot);
    kvforge_test::node source(kvforge_test::master_port_of(slot));
    int target_port = 0;
    for (const std::uint16_t other : {0, 8000, 16000}) {
        const int port = kvforge_test::master_port_of(other);
        if (port != source.port()) target_port = port;
    }
    REQUIRE(target_port != 0);
    kvforge_test::node target(target_port);
    const std::string source_id = source.run({"CLUSTER", "MYID"});
    const std::string target_id = target.run({"CLUSTER", "MYID"});
    REQUIRE(target.run({"CLUSTER", "SETSLOT", slot_text, "IMPORTING", source_id}) == "OK");
    REQUIRE(source.run({"CLUSTER", "SETSLOT", slot_text, "MIGRATING", target_id}) == "OK");
    const std::string port_text = std::to_string(target_port);
    REQUIRE(source.run({"MIGRATE", "127.0.0.1", port_text, "", "0", "5000", "KEYS", full_a}) == "OK");

    // Mid-migration: {m}.a has moved (the source answers ASK), {m}.b has not.
    CHECK(db.get(tag + ".a") == "1");
    CHECK(db.get(tag + ".b") == "2");

    REQUIRE(source.run({"MIGRATE", "127.0.0.1", port_text, "", "0", "5000", "KEYS", full_b}) == "OK");
    for (const std::uint16_t other : {0, 8000, 16000}) {
        kvforge_test::node master(kvforge_test::master_port_of(other));
        REQUIRE(master.run({"CLUSTER", "SETSLOT", slot_text, "NODE", target_id}) == "OK");
    }
    // The store's map still says the source: MOVED sends it to the target, and it remembers.
    CHECK(db.get(tag + ".b") == "2");
    db.put(tag + ".c", "3");
    CHECK(target.run({"GET", name_of(location) + "/" + tag + ".c"}) == "3");
    kvforge::batch<std::string, std::string> b;
    b.put(tag + ".d", "4");
    db.write(b);
    CHECK(db.get(tag + ".d") == "4");

    // Give the slot back, so that the cluster is as it was.
    REQUIRE(source.run({"CLUSTER", "SETSLOT", slot_text, "IMPORTING", target_id}) == "OK");
    REQUIRE(target.run({"CLUSTER", "SETSLOT", slot_text, "MIGRATING", source_id}) == "OK");
    const std::string full_c = name_of(location) + "/" + tag + ".c";
    const std::string full_d = name_of(location) + "/" + tag + ".d";
    for (const std::string& key : {full_a, full_b, full_c, full_d}) {
        REQUIRE(target.run({"MIGRATE", "127.0.0.1", std::to_string(source.port()), "", "0", "5000", "KEYS", key}) ==
                "OK");
    }
    for (const std::uint16_t other : {0, 8000, 16000}) {
        kvforge_test::node master(kvforge_test::master_port_of(other));
        REQUIRE(master.run({"CLUSTER", "SETSLOT", slot_text, "NODE", source_id}) == "OK");
    }
    CHECK(db.get(tag + ".c") == "3");
    CHECK(db.size() == 4);
}

TEST_CASE("redis_cluster: thread_safe serves eight threads at once", "[redis]") {
    shared_store db(kvforge_test::fresh_location("threads"));
    std::vector<std::thread> threads;
    std::atomic<int> wrong{0};
    for (int t = 0; t < 8; ++t) {
        threads.emplace_back([&, t] {
            for (int i = 0; i < 100; ++i) {
                const std::string key = std::to_string(t) + ":" + std::to_string(i);
                db.put(key, key + "!");
                if (db.get(key) != key + "!") ++wrong;
            }
        });
    }
    for (std::thread& thread : threads) thread.join();
    CHECK(wrong == 0);
    CHECK(db.size() == 800);
    CHECK(db.stats().puts == 800);
}

TEST_CASE("redis_cluster: opening errors name what is wrong", "[redis]") {
    synced_store db;
    std::error_code ec;
    db.open("redis_cluster:127.0.0.1:7100", kvforge::options{}, kvforge::posix_io{}, ec);
    CHECK(ec == kvforge::errc::invalid_argument);
    CHECK_THAT(kvforge::last_error_message(), Catch::Contains("no store name"));
    db.open("redis_cluster:127.0.0.1:7100/{x}", kvforge::options{}, kvforge::posix_io{}, ec);
    CHECK(ec == kvforge::errc::invalid_argument);
    // A store "a" would hold the keys of a store "a/b", and clear() would remove them.
    db.open(kvforge_test::fresh_location("a/b"), kvforge::options{}, kvforge::posix_io{}, ec);
    CHECK(ec == kvforge::errc::invalid_argument);
    CHECK_THAT(kvforge::last_error_message(), Catch::Contains("may not hold '/'"));
    // Nothing listens on port 1: the error names the node.
    db.open("redis_cluster:127.0.0.1:1/x", kvforge::options{}, kvforge::posix_io{}, ec);
    CHECK(ec);
    CHECK_THAT(kvforge::last_error_message(), Catch::Contains("127.0.0.1:1"));
    CHECK_FALSE(db.is_open());
    CHECK_FALSE(db.get("k", ec).has_value());
    CHECK(ec == kvforge::errc::store_closed);
}

TEST_CASE("redis_cluster: the store's codec key refuses an open with other codecs", "[redis]") {
    const std::string location = kvforge_test::fresh_location("codecs");
    {
        buffered_store strings(location);
        strings.put("k", "v");
    }
    // The codec key is NAME, outside the records' NAME/ prefix.
    kvforge_test::node master(kvforge_test::master_port_of(kvforge::detail::redis::hash_slot(name_of(location))));
    CHECK_THAT(master.run({"GET", name_of(location)}), Catch::Contains("value codec bytes"));

    kvforge::store<std::uint64_t, double, kvforge::redis_cluster> numbers;
    std::error_code ec;
    numbers.open(location, kvforge::options{}, kvforge::posix_io{}, ec);
    CHECK(ec == kvforge::errc::codec_mismatch);
    CHECK_THAT(kvforge::last_error_message(), Catch::Contains("key codec bytes") &&
                                                  Catch::Contains(kvforge::codec<std::uint64_t>::name()));
    CHECK_FALSE(numbers.is_open());

    buffered_store again(location);  // the codecs that wrote it open it
    CHECK(again.get("k") == "v");
    CHECK(again.size() == 1);  // the codec key is no record
    again.clear();
    CHECK(master.run({"EXISTS", name_of(location)}) == "1");  // clear() keeps it
}

TEST_CASE("redis_cluster: a store written before stores had a codec key opens with every record", "[redis]") {
    // What the first release wrote: records under NAME/, and no key NAME.
    const std::string location = kvforge_test::fresh_location("first_release");
    for (int i = 0; i < 50; ++i) {
        const std::string full = name_of(location) + "/k" + std::to_string(i);
        kvforge_test::node master(kvforge_test::master_port_of(kvforge::detail::redis::hash_slot(full)));
        REQUIRE(master.run({"SET", full, "v" + std::to_string(i)}) == "OK");
    }
    kvforge_test::node master(kvforge_test::master_port_of(kvforge::detail::redis::hash_slot(name_of(location))));
    REQUIRE(master.run({"EXISTS", name_of(location)}) == "0");
    kvforge::options ro;
    ro.read_only = true;
    {
        synced_store reader(location, ro);
        CHECK(reader.size() == 50);
    }
    CHECK(master.run({"EXISTS", name_of(location)}) == "0");  // a read-only open writes nothing
    synced_store db(location);
    CHECK(db.size() == 50);
    for (int i = 0; i < 50; ++i) CHECK(db.get("k" + std::to_string(i)) == "v" + std::to_string(i));
    CHECK(master.run({"EXISTS", name_of(location)}) == "1");
    db.clear();
}

TEST_CASE("redis_cluster: a read-only store refuses writes and reads what others wrote", "[redis]") {
    const std::string location = kvforge_test::fresh_location("read_only");
    synced_store writer(location);
    writer.put("k", "v");
    kvforge::options ro;
    ro.read_only = true;
    synced_store reader(location, ro);
    CHECK(reader.get("k") == "v");
    std::error_code ec;
    reader.put("k", "w", ec);
    CHECK(ec == kvforge::errc::read_only);
    CHECK(writer.get("k") == "v");
}

TEST_CASE("redis_cluster: expiring<> deadlines are the keys' own expiry, which the cluster enforces", "[redis]") {
    using expiring_store =
        kvforge::store<std::string, std::string, kvforge::redis_cluster, kvforge::sync_each, kvforge::expiring<>>;
    const std::string location = kvforge_test::fresh_location("expiring");
    expiring_store db(location);
    const auto later = std::chrono::system_clock::now() + std::chrono::hours(1);
    db.put("later", "v", later);
    db.put("soon", "v", std::chrono::milliseconds(300));
    db.put("forever", "v");
    db.put("past", "v", std::chrono::system_clock::now() - std::chrono::seconds(1));
    CHECK_FALSE(db.contains("past"));
    const std::optional<expiring_store::time_point> deadline = db.expiry("later");
    REQUIRE(deadline.has_value());
    CHECK(*deadline <= later);
    CHECK(later - *deadline < std::chrono::milliseconds(1));
    CHECK_FALSE(db.expiry("forever").has_value());
    CHECK_FALSE(db.expiry("absent").has_value());
    // Behind the store's back: the key itself carries the expiry.
    CHECK(std::stoll(raw(location, "PTTL", "later")) > 3500 * 1000);
    CHECK(raw(location, "PTTL", "forever") == "-1");
    CHECK(db.get("soon") == "v");
    kvforge_test::eventually("the key with 300 ms to live expiring", std::chrono::seconds(5),
                             [&] { return !db.get("soon").has_value(); });
    CHECK(db.get("later") == "v");
    CHECK(db.size() == 2);
    // A put without a deadline takes the deadline away.
    db.put("later", "w");
    CHECK_FALSE(db.expiry("later").has_value());
    // A batch carries deadlines too.
    expiring_store::batch_type b;
    b.put("{b}.x", "1", later);
    b.put("{b}.y", "2");
    db.write(b);
    CHECK(db.expiry("{b}.x").has_value());
    CHECK_FALSE(db.expiry("{b}.y").has_value());
    CHECK(db.purge_expired() == 0);

    kvforge::store<std::string, std::string, kvforge::redis_cluster, kvforge::expiring<>> buffered(location);
    buffered.put("buffered", "v", later);
    buffered.flush();
    CHECK(db.expiry("buffered").has_value());
}

TEST_CASE("redis_cluster: async_worker numbers writes, and wait_durable returns once a replica has them", "[redis]") {
    using async_store = kvforge::store<std::string, std::string, kvforge::redis_cluster, kvforge::async_worker<>,
                                       kvforge::thread_safe>;
    const std::string location = kvforge_test::fresh_location("async");
    async_store db(location);
    const std::string full = name_of(location) + "/k";
    kvforge_test::node replica = replica_of(full);
    std::uint64_t last = 0;
    for (int i = 0; i < 20; ++i) {
        const std::uint64_t sequence = db.put("k", "v" + std::to_string(i));
        CHECK(sequence > last);
        last = sequence;
        db.wait_durable(sequence);
        CHECK(db.durable_seq() >= sequence);
        CHECK(replica.run({"GET", full}) == "v" + std::to_string(i));
    }
    CHECK(db.get("k") == "v19");

    kvforge::batch<std::string, std::string> b;
    b.put("{g}.a", "1");
    const std::uint64_t batch_sequence = db.write(b);
    CHECK(batch_sequence > last);
    db.wait_durable(batch_sequence);

    std::vector<std::thread> threads;
    std::vector<std::uint64_t> lasts(4);
    for (int t = 0; t < 4; ++t) {
        threads.emplace_back([&, t] {
            for (int i = 0; i < 250; ++i) lasts[t] = db.put(std::to_string(t) + ":" + std::to_string(i), "x");
            db.wait_durable(lasts[t]);
        });
    }
    for (std::thread& thread : threads) thread.join();
    CHECK(db.size() == 1000 + 2);

    // What waits in the buffer at close() is sent before it returns.
    db.put("last", "one");
    db.close();
    synced_store reader(location);
    CHECK(reader.get("last") == "one");

    // A full buffer holds a writer back until the writer thread has sent it.
    const std::string small_location = kvforge_test::fresh_location("async_small");
    kvforge::store<std::string, std::string, kvforge::redis_cluster, kvforge::async_worker<1024>> small(small_location);
    std::uint64_t small_last = 0;
    for (int i = 0; i < 200; ++i) small_last = small.put("k" + std::to_string(i), std::string(100, 'x'));
    small.wait_durable(small_last);
    synced_store small_reader(small_location);
    CHECK(small_reader.size() == 200);
}
