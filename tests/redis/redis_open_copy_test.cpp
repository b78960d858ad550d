// kvforge::redis_cluster through open_store (a spec naming the cluster) and kvforge::copy
// (records from a file_log store into the cluster and back, checked record by record, into
// a store of the policy's own type and into an any_store that open_store made).
// KVFORGE_REDIS_COPY_RECORDS sets how many records the copy moves (default 20,000;
// 1000000 for the long version).

#include <catch2/catch.hpp>

#include <cstdint>
#include <string>
#include <system_error>

#include <kvforge/kvforge.hpp>
#include <kvforge/stores/redis_compositions.hpp>

#include "../support/env.hpp"
#include "../support/temp_dir.hpp"
#include "cluster.hpp"

TEST_CASE("redis_cluster: open_store opens a store in the cluster from a spec", "[redis]") {
    const std::string location = kvforge_test::fresh_location("spec");
    const std::string where = location.substr(std::string("redis_cluster:").size());
    auto synced = kvforge::open_store<std::string, std::string, kvforge::redis_cluster_compositions>(
        "redis_cluster,sync_each,mt:" + where);
    synced.put("k", "v");
    CHECK(synced.get("k") == "v");
    CHECK(synced.size() == 1);
    CHECK(synced.erase("k"));
    auto expiring = kvforge::open_store<std::string, std::string, kvforge::redis_cluster_compositions>(
        "redis_cluster,expiring:" + where);
    expiring.put("t", "v");
    expiring.flush();
    CHECK(synced.get("t") == "v");
    std::error_code ec;
    auto missing = kvforge::open_store<std::string, std::string, kvforge::redis_cluster_compositions>(
        "redis_cluster:127.0.0.1:1/x", ec);
    CHECK(ec);
    CHECK_THAT(kvforge::last_error_message(), Catch::Contains("127.0.0.1:1"));
}

TEST_CASE("redis_cluster: kvforge::copy moves a file_log store into the cluster and back", "[redis]") {
    const auto records = kvforge_test::env_or("KVFORGE_REDIS_COPY_RECORDS", 20000);
    const kvforge_test::temp_dir dir;
    using local_store = kvforge::store<std::string, std::string, kvforge::file_log>;
    local_store source((dir.path() / "source").string());
    for (std::uint64_t i = 0; i < records; ++i) source.put("key " + std::to_string(i), "value " + std::to_string(i * 7));
    kvforge::store<std::string, std::string, kvforge::redis_cluster> cluster(kvforge_test::fresh_location("copy"));
    CHECK(kvforge::copy(source, cluster) == records);
    CHECK(cluster.size() == records);
    local_store back((dir.path() / "back").string());
    CHECK(kvforge::copy(cluster, back) == records);
    std::uint64_t same = 0;
    source.for_each([&](const std::string& key, const std::string& value) {
        if (back.get(key) == value) ++same;
    });
    CHECK(same == records);
    CHECK(back.size() == records);
    cluster.clear();
}

TEST_CASE("redis_cluster: kvforge::copy into an any_store over the cluster puts keys of any slots", "[redis]") {
    const kvforge_test::temp_dir dir;
    kvforge::store<std::string, std::string, kvforge::file_log> source((dir.path() / "source").string());
    const int records = 3000;  // many batches' worth of keys, spread over every slot
    for (int i = 0; i < records; ++i) source.put("key " + std::to_string(i), "value " + std::to_string(i));
    const std::string location = kvforge_test::fresh_location("any");
    auto cluster = kvforge::open_store<std::string, std::string, kvforge::redis_cluster_compositions>(
        "redis_cluster:" + location.substr(std::string("redis_cluster:").size()));
    CHECK_FALSE(cluster.batches_of_any_keys());
    CHECK(source.batches_of_any_keys());

    kvforge::copy_options small_batches;
    small_batches.batch_records = 100;
    CHECK(kvforge::copy(source, cluster, small_batches) == records);
    CHECK(cluster.size() == records);
    int same = 0;
    source.for_each([&](const std::string& key, const std::string& value) { same += cluster.get(key) == value; });
    CHECK(same == records);
    cluster.clear();
}
