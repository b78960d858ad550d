#pragma once
// The benchmark's data: how many keys, their sizes, the keys themselves and their values.
//
// Keys are the record numbers 0..N-1 written in decimal and zero-padded to the key size,
// as LevelDB's db_bench writes them, so key order is number order and a missing key is a
// number past N. Values are slices of a pool of random letters taken at a pseudo-random
// place per key and round, so no two values share their bytes and block compressors
// (Snappy in LevelDB and RocksDB) find nothing to squeeze.

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <numeric>
#include <random>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace kvbench {

/// A number of at least minimum from the environment variable name, or fallback when it is unset.
inline std::size_t env_size(const char* name, std::size_t fallback, std::size_t minimum = 1) {
    const char* text = std::getenv(name);
    if (text == nullptr || *text == '\0') return fallback;
    char* end = nullptr;
    const unsigned long long value = std::strtoull(text, &end, 10);
    if (*end != '\0' || value < minimum) {
        throw std::invalid_argument(std::string(name) + " must be a number of at least " + std::to_string(minimum));
    }
    return static_cast<std::size_t>(value);
}

/// The sizes every workload uses, from KVFORGE_BENCH_KEYS, KVFORGE_BENCH_KEY_SIZE and
/// KVFORGE_BENCH_VALUE_SIZE.
struct sizes {
    std::size_t keys = env_size("KVFORGE_BENCH_KEYS", 1000000);
    std::size_t key_size = env_size("KVFORGE_BENCH_KEY_SIZE", 16);
    std::size_t value_size = env_size("KVFORGE_BENCH_VALUE_SIZE", 100);

    /// The bytes of every key and value, the floor for what a store can hold them in.
    [[nodiscard]] std::uint64_t live_bytes() const { return std::uint64_t{keys} * (key_size + value_size); }
};

/// splitmix64's finaliser: a cheap bijection that scatters consecutive numbers.
constexpr std::uint64_t scramble(std::uint64_t x) noexcept {
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}

class dataset {
public:
    explicit dataset(const sizes& s)
        : sizes_(s), keys_(2 * s.keys * s.key_size), order_(s.keys), keys_in_order_(s.keys * s.key_size) {
        // Twice N keys: 0..N-1 are stored, N..2N-1 are the missing ones.
        std::size_t digits = 1;
        for (std::uint64_t limit = 10; limit < 2 * s.keys && digits < 20; limit *= 10) ++digits;
        if (digits > s.key_size) {
            throw std::invalid_argument("KVFORGE_BENCH_KEY_SIZE " + std::to_string(s.key_size) + " is too small for " +
                                        std::to_string(2 * s.keys) + " distinct keys");
        }
        for (std::size_t i = 0; i < 2 * s.keys; ++i) {
            char* key = keys_.data() + i * s.key_size;
            std::uint64_t n = i;
            for (std::size_t at = s.key_size; at-- > 0; n /= 10) key[at] = static_cast<char>('0' + n % 10);
        }
        std::iota(order_.begin(), order_.end(), std::uint32_t{0});
        std::shuffle(order_.begin(), order_.end(), std::mt19937_64(42));
        for (std::size_t i = 0; i < s.keys; ++i) {
            std::copy_n(keys_.data() + std::size_t{order_[i]} * s.key_size, s.key_size,
                        keys_in_order_.data() + i * s.key_size);
        }

        std::mt19937_64 rng(7);
        pool_.resize(std::max<std::size_t>(std::size_t{1} << 20, 4 * s.value_size));
        for (char& c : pool_) c = static_cast<char>('A' + rng() % 58);  // letters and a few punctuation marks
    }

    [[nodiscard]] const sizes& size() const noexcept { return sizes_; }
    [[nodiscard]] std::size_t count() const noexcept { return sizes_.keys; }

    /// The i-th key in key order (i < count()).
    [[nodiscard]] std::string_view key(std::size_t i) const noexcept {
        return {keys_.data() + i * sizes_.key_size, sizes_.key_size};
    }
    /// A key that is never stored, the i-th of count() of them.
    [[nodiscard]] std::string_view missing_key(std::size_t i) const noexcept { return key(sizes_.keys + i); }
    /// The i-th key of a fixed random permutation of the keys. The keys are copied out in
    /// that order, so a pass reads them one after another: a caller has the key it asks
    /// for at hand, and a cache miss per key on the benchmark's own array would add the
    /// same cost to every engine's operation and pull every ratio between them toward 1.
    [[nodiscard]] std::string_view random_key(std::size_t i) const noexcept {
        return {keys_in_order_.data() + i * sizes_.key_size, sizes_.key_size};
    }
    [[nodiscard]] std::size_t random_index(std::size_t i) const noexcept { return order_[i]; }

    /// The value written for key number i in overwrite round 'round' (0 for the first load).
    [[nodiscard]] std::string_view value(std::size_t i, std::uint64_t round = 0) const noexcept {
        const std::uint64_t place = scramble(i ^ (round << 40)) % (pool_.size() - sizes_.value_size);
        return {pool_.data() + place, sizes_.value_size};
    }

private:
    sizes sizes_;
    std::vector<char> keys_;
    std::vector<std::uint32_t> order_;
    std::vector<char> keys_in_order_;  // key(order_[i]) at i * key_size
    std::string pool_;
};

/// The dataset of this run, built on first use.
inline const dataset& data() {
    static const dataset instance{sizes{}};
    return instance;
}

}  // namespace kvbench
