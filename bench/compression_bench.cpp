// The compression codecs on their own, before any store: how fast each compresses and
// decompresses one value at a time, and how much smaller the values become.
//
//   compress/CODEC/DATA     compress_value over every value of DATA, one call per value
//   decompress/CODEC/DATA   decompress_value of what compress_value wrote
//
// CODEC is lz4, zstd1, zstd3 (levels 1 and 3), or zstd3_dict: zstd at level 3 with a
// dictionary of 16 KiB trained from 2,000 values of the same kind that are not among those
// measured. DATA is json200 and json2k (JSON-like records of 200 and 2,048 bytes, as
// tests/support/sample_values.hpp makes them) and random2k (random bytes, which no codec
// shrinks). Counters: ratio, the values' bytes over their compressed bytes (the size prefix
// included); bytes_per_second counts the values' bytes. KVFORGE_COMPRESSION_BENCH_VALUES
// sets how many values each data set has (default 10,000).

#include <benchmark/benchmark.h>

#include <kvforge/compression/lz4.hpp>
#include <kvforge/compression/zstd.hpp>
#include <kvforge/compression/zstd_dictionary.hpp>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <optional>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

#include "../tests/support/sample_values.hpp"
#include "dataset.hpp"

namespace {

struct data_set {
    std::string name;
    std::vector<std::string> values;   // measured
    std::vector<std::string> samples;  // a dictionary's training set, disjoint from values
};

data_set make_data_set(const std::string& name, std::size_t count, std::size_t size, bool json) {
    data_set set{name, {}, {}};
    const auto make = [&](std::uint64_t seed) {
        return json ? kvforge_test::json_like_value(seed, size) : kvforge_test::random_value(seed, size);
    };
    for (std::uint64_t i = 0; i < count; ++i) set.values.push_back(make(i));
    for (std::uint64_t i = 0; i < 2000; ++i) set.samples.push_back(make(1'000'000'000 + i));
    return set;
}

std::uint64_t total_bytes(const std::vector<std::string>& values) {
    std::uint64_t total = 0;
    for (const std::string& value : values) total += value.size();
    return total;
}

template <class Codec>
std::vector<std::string> compress_all(const Codec& codec, const std::vector<std::string>& values) {
    std::vector<std::string> compressed(values.size());
    for (std::size_t i = 0; i < values.size(); ++i) kvforge::compress_value(codec, values[i], compressed[i]);
    return compressed;
}

template <class Codec>
void register_codec(const std::string& codec_name, const Codec& codec, const data_set& set) {
    const std::vector<std::string> compressed = compress_all(codec, set.values);
    const double ratio = static_cast<double>(total_bytes(set.values)) / static_cast<double>(total_bytes(compressed));
    const auto bytes = static_cast<std::int64_t>(total_bytes(set.values));

    benchmark::RegisterBenchmark(("compress/" + codec_name + "/" + set.name).c_str(),
                                 [codec = &codec, &set, ratio, bytes](benchmark::State& state) {
                                     std::string out;
                                     for (auto _ : state) {
                                         for (const std::string& value : set.values) {
                                             kvforge::compress_value(*codec, value, out);
                                             benchmark::DoNotOptimize(out.data());
                                         }
                                     }
                                     state.SetBytesProcessed(bytes * state.iterations());
                                     state.counters["ratio"] = ratio;
                                 });
    benchmark::RegisterBenchmark(("decompress/" + codec_name + "/" + set.name).c_str(),
                                 [codec = &codec, compressed, ratio, bytes](benchmark::State& state) {
                                     std::string out;
                                     for (auto _ : state) {
                                         for (const std::string& value : compressed) {
                                             kvforge::decompress_value(*codec, value, out);
                                             benchmark::DoNotOptimize(out.data());
                                         }
                                     }
                                     state.SetBytesProcessed(bytes * state.iterations());
                                     state.counters["ratio"] = ratio;
                                 });
}

}  // namespace

int main(int argc, char** argv) {
    benchmark::Initialize(&argc, argv);
    const std::size_t count = kvbench::env_size("KVFORGE_COMPRESSION_BENCH_VALUES", 10000);
    // Kept alive until the benchmarks have run: they refer to the data sets and codecs.
    static const std::vector<data_set> sets = {make_data_set("json200", count, 200, true),
                                               make_data_set("json2k", count, 2048, true),
                                               make_data_set("random2k", count, 2048, false)};
    static const kvforge::lz4 lz4;
    static const kvforge::zstd<1> zstd1;
    static const kvforge::zstd<3> zstd3;
    static std::vector<kvforge::zstd_dictionary<3>> dictionaries;
    dictionaries.reserve(sets.size());
    for (const data_set& set : sets) {
        register_codec("lz4", lz4, set);
        register_codec("zstd1", zstd1, set);
        register_codec("zstd3", zstd3, set);
        std::error_code ec;
        std::optional<kvforge::zstd_dictionary<3>> dictionary = kvforge::zstd_dictionary<3>::train(set.samples, 16384, ec);
        if (!dictionary) {
            std::fprintf(stderr, "compression_bench: no dictionary for %s: %s\n", set.name.c_str(),
                         kvforge::last_error_message().c_str());
            continue;
        }
        dictionaries.push_back(std::move(*dictionary));
        register_codec("zstd3_dict", dictionaries.back(), set);
    }
    benchmark::RunSpecifiedBenchmarks();
    benchmark::Shutdown();
    return 0;
}
