// read_cache<>'s memory stays within cache_budget through every kind of write between reads.

#include <catch2/catch.hpp>

#include <kvforge/kvforge.hpp>

#include <cstdint>
#include <optional>
#include <random>
#include <string>

#include "../support/temp_dir.hpp"

TEST_CASE("a read cache's memory stays within its budget through writes, batches, compaction and clear",
          "[cache][read_cache][memory]") {
    using plain_type = kvforge::store<std::string, std::string, kvforge::file_log>;
    using cached_type = kvforge::store<std::string, std::string, kvforge::file_log, kvforge::read_cache<>>;
    constexpr std::uint64_t budget = 1 << 20;
    kvforge_test::temp_dir dir;
    // The same writes go to a store without the cache: what the cached store holds beyond
    // it is the cache's, which the budget bounds.
    plain_type plain(dir / "plain");
    cached_type cached(dir / "cached", kvforge::options{.cache_budget = budget});
    std::mt19937_64 random(41);
    constexpr int keys = 2000;
    const auto key = [](std::uint64_t i) { return "key/" + std::to_string(i); };
    // Popularity skewed towards low numbers, as Zipf's is.
    const auto popular = [&] {
        const double u = std::uniform_real_distribution<double>(0, 1)(random);
        return static_cast<std::uint64_t>(keys * u * u * u);
    };
    std::uint64_t most = 0;
    for (int round = 0; round < 60; ++round) {
        for (int i = 0; i < 1000; ++i) {
            const std::string k = key(popular());
            REQUIRE(cached.get(k) == plain.get(k));
        }
        for (int i = 0; i < 40; ++i) {
            const std::string k = key(random() % keys);
            const std::string v(10 + random() % 8000, static_cast<char>('a' + random() % 26));
            switch (round % 4) {
                case 0:
                    plain.put(k, v);
                    cached.put(k, v);
                    break;
                case 1:
                    plain.erase(k);
                    cached.erase(k);
                    break;
                default: {
                    kvforge::batch<std::string, std::string> b;
                    b.put(k, v);
                    b.erase(key(random() % keys));
                    plain.write(b);
                    cached.write(b);
                }
            }
        }
        if (round % 13 == 12) {
            plain.compact();
            cached.compact();
        }
        if (round % 29 == 28) {
            plain.clear();
            cached.clear();
        }
        const kvforge::stats with = cached.stats();
        const kvforge::stats without = plain.stats();
        INFO("round " << round << ": " << with.memory_bytes << " bytes with the cache, " << without.memory_bytes
                      << " without");
        REQUIRE(with.memory_bytes <= without.memory_bytes + budget);
        most = std::max(most, with.memory_bytes - without.memory_bytes);
    }
    // The cache was used, and filled most of its budget at some point.
    CHECK(cached.stats().hits > 0);
    CHECK(most > budget / 2);
}
