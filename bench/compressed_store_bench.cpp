// What kvforge::compressed<Codec> gains and costs in a store: puts, gets and the bytes on
// disk of a file_log store (buffered, hash_index) without compression, with lz4, with
// zstd<3> and with zstd_trained<3>, on the same values.
//
//   put/STORE/DATA   puts of every value under a fresh key into an empty store, then
//                    close() (the store is made anew for each iteration)
//   get/STORE/DATA   gets of every key, in random order, from the closed and reopened store
//
// STORE is plain, lz4, zstd3 or zstd3_trained. zstd3_trained's store is readied, untimed,
// with a dictionary it trained from 20,000 other values of the same kind (put, compact(),
// clear()), as a store that has been compacted once holds one. DATA is json200 and json2k (JSON-like records of 200 and
// 2,048 bytes, as tests/support/sample_values.hpp makes them) and random2k (random bytes,
// which no codec shrinks). Where RocksDB is found, rocksdb_lz4 and rocksdb_zstd are RocksDB
// with its defaults but that block compression (put flushes the memtable before closing,
// so that the values are in compressed tables, not in the write-ahead log, when the disk
// bytes are counted). Counters: disk_bytes, every file of the closed store, and
// ratio, the plain store's disk_bytes over this one's; bytes_per_second counts the values'
// bytes. table_plain, table_lz4 and table_zstd3 are one sorted table file
// (stores/table/, 4 KiB blocks, 10 Bloom filter bits a key) written from the keys in order,
// its blocks stored as they are or compressed with lz4 or zstd<3>: the table format's
// bytes alone. disk_plain, disk_lz4 and disk_zstd3 are a store<..., file_log, disk_index>
// without compression or with compressed<lz4> or compressed<zstd<3>>, which compress its
// tables' blocks; put compacts before closing, so that the log is empty when the disk
// bytes are counted. DATA json110 is issue 37's event
// log: JSON events of 110 bytes. KVFORGE_STORE_COMPRESSION_BENCH_VALUES sets how many values
// each data set has (default 100,000); the stores go under KVFORGE_BENCH_DIR (default: the
// system's temporary directory).

#include <benchmark/benchmark.h>

#include <stdlib.h>

#include <kvforge/compression/lz4.hpp>
#include <kvforge/compression/zstd.hpp>
#include <kvforge/compression/zstd_trained.hpp>
#include <kvforge/kvforge.hpp>
#include <kvforge/detail/data_file.hpp>
#include <kvforge/io/posix.hpp>
#include <kvforge/index/disk_index.hpp>
#include <kvforge/stores/table/table_builder.hpp>
#include <kvforge/stores/table/table_reader.hpp>

#include <fcntl.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <optional>
#include <random>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <vector>

#ifdef KVFORGE_BENCH_HAVE_ROCKSDB
#include <rocksdb/db.h>
#include <rocksdb/options.h>

#include <memory>
#include <stdexcept>
#endif

#include "../tests/support/sample_values.hpp"
#include "dataset.hpp"

namespace {

struct data_set {
    std::string name;
    std::vector<std::string> keys;
    std::vector<std::string> values;
    std::vector<std::size_t> read_order;  // a random permutation of the keys' indices
    std::vector<std::string> training;    // other values of the same kind, for zstd3_trained
};

constexpr std::size_t training_values = 20'000;

data_set make_data_set(const std::string& name, std::size_t count, std::size_t size, bool json) {
    data_set set{name, {}, {}, {}, {}};
    const auto value = [&](std::uint64_t seed) {
        return json ? kvforge_test::json_like_value(seed, size) : kvforge_test::random_value(seed, size);
    };
    for (std::uint64_t i = 0; i < count; ++i) {
        set.keys.push_back("key" + std::to_string(1'000'000'000 + i));
        set.values.push_back(value(i));
        set.read_order.push_back(static_cast<std::size_t>(i));
    }
    for (std::uint64_t i = 0; i < training_values; ++i) set.training.push_back(value(count + i));
    std::shuffle(set.read_order.begin(), set.read_order.end(), std::mt19937_64(42));
    return set;
}

std::int64_t total_bytes(const std::vector<std::string>& values) {
    std::int64_t total = 0;
    for (const std::string& value : values) total += static_cast<std::int64_t>(value.size());
    return total;
}

/// A new directory for one benchmark's store, removed when it goes.
class bench_dir {
public:
    bench_dir() {
        const char* base = std::getenv("KVFORGE_BENCH_DIR");
        path_ = ((base != nullptr ? std::filesystem::path(base) : std::filesystem::temp_directory_path()) /
                 "kvforge-compressed-store-bench-XXXXXX")
                    .string();
        if (::mkdtemp(path_.data()) == nullptr) path_.clear();
    }
    bench_dir(const bench_dir&) = delete;
    bench_dir& operator=(const bench_dir&) = delete;
    ~bench_dir() {
        std::error_code ignored;
        if (!path_.empty()) std::filesystem::remove_all(path_, ignored);
    }
    [[nodiscard]] bool made() const noexcept { return !path_.empty(); }
    [[nodiscard]] std::string store() const { return path_ + "/store"; }

private:
    std::string path_;
};

std::uintmax_t disk_bytes_of(const std::string& directory) {
    std::uintmax_t bytes = 0;
    for (const auto& file : std::filesystem::directory_iterator(directory)) bytes += file.file_size();
    return bytes;
}

/// The plain store's disk bytes of each data set, for the ratio counters.
std::map<std::string, double>& plain_disk_bytes() {
    static std::map<std::string, double> bytes;
    return bytes;
}

template <class... Compression>
using file_store = kvforge::store<std::string, std::string, kvforge::file_log, Compression...>;
using trained_store = file_store<kvforge::compressed<kvforge::zstd_trained<3>>>;

/// Readies an empty store before the puts: a store that trains its dictionaries gets one
/// trained from the set's training values, which clear() then removes (the dictionary stays).
template <class Store>
void prepare(const std::string& path, const data_set& set) {
    if constexpr (std::is_same_v<Store, trained_store>) {
        Store db(path);
        for (std::size_t i = 0; i < set.training.size(); ++i) db.put("training" + std::to_string(i), set.training[i]);
        db.compact();
        db.clear();
        db.close();
    }
}

template <class Store>
void fill(const std::string& path, const data_set& set) {
    Store db(path);
    for (std::size_t i = 0; i < set.keys.size(); ++i) db.put(set.keys[i], set.values[i]);
    db.close();
}

template <class Store>
void register_store(const std::string& store_name, const data_set& set) {
    const std::int64_t bytes = total_bytes(set.values);
    benchmark::RegisterBenchmark(
        ("put/" + store_name + "/" + set.name).c_str(), [&set, store_name, bytes](benchmark::State& state) {
            double disk_bytes = 0;
            for (auto _ : state) {
                state.PauseTiming();
                bench_dir dir;
                if (!dir.made()) {
                    state.SkipWithError("cannot make a directory for the store");
                    return;
                }
                prepare<Store>(dir.store(), set);
                state.ResumeTiming();
                fill<Store>(dir.store(), set);
                state.PauseTiming();
                disk_bytes = static_cast<double>(disk_bytes_of(dir.store()));
                state.ResumeTiming();
            }
            state.SetBytesProcessed(bytes * state.iterations());
            state.counters["disk_bytes"] = disk_bytes;
            if (store_name == "plain") plain_disk_bytes()[set.name] = disk_bytes;
            const double plain = plain_disk_bytes()[set.name];
            if (plain > 0) state.counters["ratio"] = plain / disk_bytes;
        });
    benchmark::RegisterBenchmark(("get/" + store_name + "/" + set.name).c_str(),
                                 [&set, bytes](benchmark::State& state) {
                                     bench_dir dir;
                                     if (!dir.made()) {
                                         state.SkipWithError("cannot make a directory for the store");
                                         return;
                                     }
                                     prepare<Store>(dir.store(), set);
                                     fill<Store>(dir.store(), set);
                                     Store db(dir.store());
                                     std::string value;
                                     for (auto _ : state) {
                                         for (const std::size_t i : set.read_order) {
                                             if (!db.get(set.keys[i], value)) {
                                                 state.SkipWithError("a key is missing");
                                                 return;
                                             }
                                             benchmark::DoNotOptimize(value.data());
                                         }
                                     }
                                     state.SetBytesProcessed(bytes * state.iterations());
                                 });
}

/// One sorted table in the store's directory, with the calls of a kvforge store that fill()
/// and the gets make: puts (in key order) go to a table builder, close() finishes and syncs
/// the file, and a table opened again reads the gets.
template <class Codec>
class table_file {
public:
    explicit table_file(const std::string& directory) {
        std::filesystem::create_directories(directory);
        const std::string path = directory + "/table";
        std::error_code ec;
        if (std::filesystem::exists(path)) {
            check(file_.open(io_, path, O_RDONLY, ec) && file_.size(size_, ec) &&
                  reader_.open(codec_, file_, size_, path, ec));
        } else {
            check(file_.open(io_, path, O_RDWR | O_CREAT, ec));
            builder_.emplace(codec_, file_, kvforge::detail::file_header{}, kvforge::detail::table_layout{});
        }
    }
    void put(const std::string& key, const std::string& value) {
        kvforge::detail::table_entry entry;
        entry.key = key;
        entry.value = value;
        std::error_code ec;
        check(builder_->add(entry, ec));
    }
    bool get(const std::string& key, std::string& value) const {
        kvforge::detail::table_entry found;
        std::error_code ec;
        if (!reader_.find(key, buffers_, found, ec)) return false;
        value.assign(found.value);
        return true;
    }
    void close() {
        std::error_code ec;
        check(builder_->finish(ec) && file_.sync(ec));
        file_.close();
    }

private:
    static void check(bool done) {
        if (!done) throw std::runtime_error("table: " + kvforge::last_error_message());
    }

    Codec codec_;
    kvforge::posix_io io_;
    kvforge::detail::data_file<kvforge::posix_io> file_;
    std::uint64_t size_ = 0;
    std::optional<kvforge::detail::table_builder<Codec, kvforge::detail::data_file<kvforge::posix_io>>> builder_;
    kvforge::detail::table_reader<Codec, kvforge::detail::data_file<kvforge::posix_io>> reader_;
    mutable kvforge::detail::table_read_buffers buffers_;
};

/// A disk_index store (sorted tables), whose close() first compacts, so that every value is
/// in a table's compressed blocks rather than in the log when the disk bytes are counted.
template <class... Compression>
class disk_store {
public:
    explicit disk_store(const std::string& path) : db_(path) {}
    void put(const std::string& key, const std::string& value) { db_.put(key, value); }
    bool get(const std::string& key, std::string& value) const { return db_.get(key, value); }
    void close() {
        db_.compact();
        db_.close();
    }

private:
    kvforge::store<std::string, std::string, kvforge::file_log, kvforge::disk_index, Compression...> db_;
};

#ifdef KVFORGE_BENCH_HAVE_ROCKSDB
/// RocksDB with its default options but this block compression, with the calls of a
/// kvforge store that fill() and the gets make.
template <rocksdb::CompressionType Compression>
class rocksdb_store {
public:
    explicit rocksdb_store(const std::string& path) {
        rocksdb::Options options;
        options.create_if_missing = true;
        options.compression = Compression;
        rocksdb::DB* opened = nullptr;
        check(rocksdb::DB::Open(options, path, &opened));
        db_.reset(opened);
    }
    void put(const std::string& key, const std::string& value) { check(db_->Put(rocksdb::WriteOptions(), key, value)); }
    bool get(const std::string& key, std::string& value) const {
        return db_->Get(rocksdb::ReadOptions(), key, &value).ok();
    }
    void close() {
        check(db_->Flush(rocksdb::FlushOptions()));
        check(db_->Close());
        db_.reset();
    }

private:
    static void check(const rocksdb::Status& status) {
        if (!status.ok()) throw std::runtime_error("RocksDB: " + status.ToString());
    }

    std::unique_ptr<rocksdb::DB> db_;
};
#endif

}  // namespace

int main(int argc, char** argv) {
    benchmark::Initialize(&argc, argv);
    const std::size_t count = kvbench::env_size("KVFORGE_STORE_COMPRESSION_BENCH_VALUES", 100000);
    // Kept alive until the benchmarks have run: they refer to the data sets.
    static const std::vector<data_set> sets = {make_data_set("json110", count, 110, true),
                                               make_data_set("json200", count, 200, true),
                                               make_data_set("json2k", count, 2048, true),
                                               make_data_set("random2k", count, 2048, false)};
    for (const data_set& set : sets) {
        register_store<file_store<>>("plain", set);
        register_store<file_store<kvforge::compressed<kvforge::lz4>>>("lz4", set);
        register_store<file_store<kvforge::compressed<kvforge::zstd<3>>>>("zstd3", set);
        register_store<trained_store>("zstd3_trained", set);
        register_store<table_file<kvforge::uncompressed_blocks>>("table_plain", set);
        register_store<table_file<kvforge::lz4>>("table_lz4", set);
        register_store<table_file<kvforge::zstd<3>>>("table_zstd3", set);
        register_store<disk_store<>>("disk_plain", set);
        register_store<disk_store<kvforge::compressed<kvforge::lz4>>>("disk_lz4", set);
        register_store<disk_store<kvforge::compressed<kvforge::zstd<3>>>>("disk_zstd3", set);
#ifdef KVFORGE_BENCH_HAVE_ROCKSDB
        register_store<rocksdb_store<rocksdb::kLZ4Compression>>("rocksdb_lz4", set);
        register_store<rocksdb_store<rocksdb::kZSTD>>("rocksdb_zstd", set);
#endif
    }
    benchmark::RunSpecifiedBenchmarks();
    benchmark::Shutdown();
    return 0;
}
