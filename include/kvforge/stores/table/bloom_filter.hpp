#pragma once
/// \file bloom_filter.hpp
/// The Bloom filter of a sorted table: a bit array that answers "certainly not here" for
/// most keys a table does not hold, so that a read skips the table without reading a block.
///
/// A filter of n keys at b bits per key has m = max(64, n * b) bits, rounded up to whole
/// bytes, and sets k = round(b * ln 2) bits per key (1 to 30), the k that makes false
/// positives rarest: about 0.6185^b, 0.8% at the default 10 bits. The k bit positions of a
/// key come from one 64-bit hash by double hashing (Kirsch and Mitzenmacher, "Less hashing,
/// same performance"): position i is (h1 + i * h2) mapped onto [0, m), with h1 and h2 the
/// two halves of the hash. Its bytes are the bit array (bit j is bit j % 8 of byte j / 8),
/// then one byte holding k.

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "../../detail/hash.hpp"

namespace kvforge::detail {

/// The seed of the filter's hash, so that its bits do not follow the in-memory indexes'.
inline constexpr std::uint64_t bloom_hash_seed = 0x6a09e667f3bcc908ULL;

/// The most probes a filter may ask for; a filter that asks for more is damaged.
inline constexpr unsigned max_bloom_probes = 30;

/// The hash a filter takes of a key.
[[nodiscard]] inline std::uint64_t bloom_hash(std::string_view key) noexcept { return hash_bytes(key, bloom_hash_seed); }

/// The probes per key that make false positives rarest at bits_per_key bits per key.
[[nodiscard]] inline unsigned bloom_probes(unsigned bits_per_key) noexcept {
    const auto k = static_cast<unsigned>(std::lround(bits_per_key * 0.6931471805599453));
    return std::clamp(k, 1u, max_bloom_probes);
}

/// Calls visit(bit) for each of the probes bit positions of a key's hash in a filter of bits bits.
template <class Visit>
bool for_each_bloom_bit(std::uint64_t hash, std::uint64_t bits, unsigned probes, Visit&& visit) {
    const std::uint64_t h1 = hash & 0xffffffffULL;
    // Odd, so that the positions of one key differ for every i below a power of two.
    const std::uint64_t h2 = (hash >> 32) | 1;
    for (unsigned i = 0; i < probes; ++i) {
        // Mixed again before the range is mapped, since the low half h1 + i * h2 varies slowly.
        const std::uint64_t mixed = fold_multiply(h1 + i * h2, 0x9e3779b97f4a7c15ULL);
        const auto bit = static_cast<std::uint64_t>((static_cast<uint128>(mixed) * bits) >> 64);
        if (!visit(bit)) return false;
    }
    return true;
}

/// Collects the hashes of a table's keys and writes its filter.
class bloom_filter_builder {
public:
    explicit bloom_filter_builder(unsigned bits_per_key) noexcept : bits_per_key_(bits_per_key) {}

    void add(std::string_view key) { hashes_.push_back(bloom_hash(key)); }
    [[nodiscard]] std::size_t keys() const noexcept { return hashes_.size(); }

    /// Appends the filter's bytes to out.
    void finish(std::string& out) const {
        const std::uint64_t bytes = std::max<std::uint64_t>(8, (hashes_.size() * bits_per_key_ + 7) / 8);
        const std::uint64_t bits = bytes * 8;
        const unsigned probes = bloom_probes(bits_per_key_);
        const std::size_t start = out.size();
        out.resize(start + bytes, '\0');
        char* array = out.data() + start;
        for (const std::uint64_t hash : hashes_) {
            for_each_bloom_bit(hash, bits, probes, [array](std::uint64_t bit) {
                array[bit / 8] = static_cast<char>(array[bit / 8] | (1 << (bit % 8)));
                return true;
            });
        }
        out.push_back(static_cast<char>(probes));
    }

private:
    unsigned bits_per_key_;
    std::vector<std::uint64_t> hashes_;
};

/// A table's filter, read: whether a key may be in its table.
class bloom_filter {
public:
    bloom_filter() = default;

    /// Takes a copy of a filter's bytes; false when they cannot be one (too short, or a
    /// probe count out of range), which a checksummed block can be only when it is damaged.
    [[nodiscard]] bool assign(std::string_view bytes) {
        if (bytes.size() < 9) return false;
        const auto probes = static_cast<unsigned char>(bytes.back());
        if (probes == 0 || probes > max_bloom_probes) return false;
        array_.assign(bytes.substr(0, bytes.size() - 1));
        probes_ = probes;
        return true;
    }

    /// False when the table certainly does not hold key; true when it may.
    [[nodiscard]] bool may_contain(std::string_view key) const noexcept { return may_contain_hash(bloom_hash(key)); }

    [[nodiscard]] bool may_contain_hash(std::uint64_t hash) const noexcept {
        const char* array = array_.data();
        return for_each_bloom_bit(hash, array_.size() * 8, probes_, [array](std::uint64_t bit) {
            return (static_cast<unsigned char>(array[bit / 8]) >> (bit % 8) & 1) != 0;
        });
    }

    [[nodiscard]] unsigned probes() const noexcept { return probes_; }
    [[nodiscard]] std::size_t bits() const noexcept { return array_.size() * 8; }
    /// Whether there are bits at all: a table written with 0 bits per key has none.
    [[nodiscard]] bool empty() const noexcept { return array_.empty(); }
    [[nodiscard]] std::size_t memory_bytes() const noexcept { return array_.capacity(); }

private:
    std::string array_;
    unsigned probes_ = 0;
};

}  // namespace kvforge::detail
