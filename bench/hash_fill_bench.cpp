// What filling a hash table costs by the order its keys come in: in key order, and in
// another table's for_each order (what a compaction, a copy into a hash store and a
// replay of a compacted segment do), growing from empty or reserved for every key.
// The key-order fill is the baseline in the same run; the ratio of the others to it is
// what to read (detail/hash_table.hpp says why another table's order could cost more).
//
//   KVFORGE_BENCH_KEYS  keys per fill (default 400,000; CTest's smoke run: 1000)

#include <benchmark/benchmark.h>

#include <kvforge/kvforge.hpp>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

namespace {

using kvforge::detail::hash_table;

std::size_t key_count() {
    const char* configured = std::getenv("KVFORGE_BENCH_KEYS");
    return configured != nullptr ? std::strtoull(configured, nullptr, 10) : 400000;
}

/// The keys, in key order and in the for_each order of a table holding them.
struct key_orders {
    std::vector<std::string> by_key;
    std::vector<std::string> by_table;

    key_orders() {
        const std::size_t n = key_count();
        by_key.reserve(n);
        for (std::size_t i = 0; i < n; ++i) {
            char key[24];
            std::snprintf(key, sizeof key, "k%015zu", i);
            by_key.emplace_back(key);
        }
        hash_table source;
        for (const std::string& key : by_key) source.upsert(key, "value", [](std::string_view) {});
        by_table.reserve(n);
        source.for_each([&](std::string_view key, std::string_view) { by_table.emplace_back(key); });
    }
};

const key_orders& orders() {
    static const key_orders built;
    return built;
}

void fill(benchmark::State& state, const std::vector<std::string>& keys, bool reserve) {
    for (auto _ : state) {
        hash_table table;
        if (reserve) table.reserve(keys.size());
        for (const std::string& key : keys) table.upsert(key, "value", [](std::string_view) {});
        benchmark::DoNotOptimize(table.size());
    }
    state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * keys.size()));
}

void fill_in_key_order(benchmark::State& state) { fill(state, orders().by_key, false); }
void fill_in_another_tables_order(benchmark::State& state) { fill(state, orders().by_table, false); }
void fill_reserved_in_another_tables_order(benchmark::State& state) { fill(state, orders().by_table, true); }

BENCHMARK(fill_in_key_order)->Unit(benchmark::kMillisecond);
BENCHMARK(fill_in_another_tables_order)->Unit(benchmark::kMillisecond);
BENCHMARK(fill_reserved_in_another_tables_order)->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
