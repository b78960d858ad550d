// refresh() of a thread_safe reader while other threads of its process read it: the
// records it applies, a compaction's outputs and retired segments, and the index it
// swaps in after reading the store anew, are changed under the store's exclusive lock,
// so a get or a scan on another thread sees the store before or after a refresh, never
// in between. ThreadSanitizer: the reading threads race with refresh().

#include <catch2/catch.hpp>

#include <kvforge/kvforge.hpp>

#include <atomic>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "../support/temp_dir.hpp"

namespace {

constexpr int refreshed_key_count = 200;

std::string refreshed_key(int i) { return "key" + std::to_string(1000 + i % refreshed_key_count); }
std::string refreshed_value(int i) {
    return "value " + std::to_string(i) + std::string(static_cast<std::size_t>(i % 80), '.');
}

/// Whether value is one the writer below wrote for key number k.
bool written_for(int k, const std::string& value) {
    const std::size_t space = value.find(' ');
    if (space == std::string::npos) return false;
    const int i = std::stoi(value.substr(space + 1));
    return i % refreshed_key_count == k && value == refreshed_value(i);
}

}  // namespace

TEMPLATE_TEST_CASE("a thread_safe reader's refresh() runs beside its reading threads", "[readers][threads]",
                   (kvforge::store<std::string, std::string, kvforge::file_log, kvforge::sorted_index,
                                   kvforge::sync_each, kvforge::thread_safe>),
                   (kvforge::store<std::string, std::string, kvforge::mmap_file, kvforge::hash_index,
                                   kvforge::buffered<>, kvforge::thread_safe>)) {
    kvforge_test::temp_dir dir;
    const std::string path = dir / "db";
    kvforge::options small_segments;
    small_segments.segment_bytes = 64 << 10;
    small_segments.compact_min_bytes = 64 << 10;
    TestType writer(path, small_segments);
    for (int i = 0; i < refreshed_key_count; ++i) writer.put(refreshed_key(i), refreshed_value(i));
    writer.sync();
    kvforge::options read_only;
    read_only.read_only = true;
    TestType reader(path, read_only);

    std::atomic<bool> done{false};
    std::atomic<int> wrong{0};
    std::atomic<std::uint64_t> reads{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < 2; ++t) {
        threads.emplace_back([&, t] {
            for (int n = 0; !done.load(); ++n) {
                const int k = (n * 7 + t) % refreshed_key_count;
                const std::optional<std::string> value = reader.get(refreshed_key(k));
                if (!value || !written_for(k, *value)) wrong.fetch_add(1);
                if (n % 64 == 0) {
                    reader.for_each([&](const std::string& key, const std::string& seen) {
                        if (!written_for(std::stoi(key.substr(3)) - 1000, seen)) wrong.fetch_add(1);
                    });
                }
                reads.fetch_add(1);
            }
        });
    }
    std::uint64_t applied = 0;
    for (int round = 1; round <= 20; ++round) {
        for (int i = round * refreshed_key_count; i < (round + 1) * refreshed_key_count; ++i)
            writer.put(refreshed_key(i), refreshed_value(i));
        if (round % 5 == 0) writer.compact();
        writer.sync();
        applied += reader.refresh();
        CHECK(reader.get(refreshed_key(0)) ==
              std::optional<std::string>(refreshed_value((round + 1) * refreshed_key_count - refreshed_key_count)));
    }
    done.store(true);
    for (std::thread& thread : threads) thread.join();
    CHECK(wrong.load() == 0);
    CHECK(reads.load() > 0);
    CHECK(applied > 0);
    CHECK(reader.size() == refreshed_key_count);
}
