// A thread_safe compressed store under threads that read and write at once: a reader sees
// one whole version of each value, never a mix or a value half decompressed.

#include <catch2/catch.hpp>

#include <kvforge/compression/zstd.hpp>
#include <kvforge/kvforge.hpp>

#include <atomic>
#include <cstdint>
#include <string>
#include <thread>
#include <vector>

#include "../support/sample_values.hpp"
#include "../support/temp_dir.hpp"

using kvforge_test::json_like_value;
using kvforge_test::temp_dir;

namespace {

template <class... Ps>
using string_store = kvforge::store<std::string, std::string, Ps...>;

}  // namespace

TEST_CASE("threads read and write a thread_safe compressed store at once", "[compression][store][threads]") {
    using shared = string_store<kvforge::file_log, kvforge::thread_safe, kvforge::read_cache<>,
                                kvforge::compressed<kvforge::zstd<3>>>;
    temp_dir dir;
    shared db(dir / "store");
    constexpr int keys = 200;
    // Each key holds one of two versions; a reader must see one of them, whole.
    const auto version = [](int key, int v) { return json_like_value(static_cast<std::uint64_t>(key * 2 + v), 700); };
    for (int k = 0; k < keys; ++k) db.put("k" + std::to_string(k), version(k, 0));
    std::atomic<int> wrong{0};
    std::vector<std::thread> threads;
    for (int w = 0; w < 2; ++w) {
        threads.emplace_back([&, w] {
            for (int round = 0; round < 5; ++round) {
                for (int k = w; k < keys; k += 2) db.put("k" + std::to_string(k), version(k, (round + 1) % 2));
            }
        });
    }
    for (int r = 0; r < 2; ++r) {
        threads.emplace_back([&] {
            std::string value;
            for (int round = 0; round < 5; ++round) {
                for (int k = 0; k < keys; ++k) {
                    if (!db.get("k" + std::to_string(k), value) || (value != version(k, 0) && value != version(k, 1))) {
                        ++wrong;
                    }
                }
            }
        });
    }
    for (std::thread& t : threads) t.join();
    CHECK(wrong == 0);
    for (int k = 0; k < keys; ++k) CHECK(db.get("k" + std::to_string(k)) == version(k, 1));
}
