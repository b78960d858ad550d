#pragma once
// Values for the compression tests and benchmark: JSON-like records of a given size, as an
// application keeps (the same field names in every record, values that vary), and random
// bytes that no codec can shrink.

#include <cstddef>
#include <cstdint>
#include <random>
#include <string>

namespace kvforge_test {

/// A JSON object of exactly size bytes (at least 2), different for each seed: a user record
/// with an id, names, an address, flags and a free-text note that pads it to size.
inline std::string json_like_value(std::uint64_t seed, std::size_t size) {
    static constexpr const char* names[] = {"alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi"};
    static constexpr const char* cities[] = {"Lisbon", "Oslo", "Kyoto", "Quito", "Accra", "Perth", "Lyon"};
    static constexpr const char* words[] = {"order", "shipped", "pending", "refund", "account", "login",
                                            "session", "payment", "invoice", "ticket", "update", "review"};
    std::mt19937_64 rng(seed);
    const auto pick = [&rng](const auto& list) { return list[rng() % std::size(list)]; };
    std::string name = pick(names);
    std::string json = "{\"id\":" + std::to_string(rng() % 10000000) + ",\"user\":\"" + name + "_" +
                       std::to_string(rng() % 1000) + "\",\"email\":\"" + name + std::to_string(rng() % 100) +
                       "@example.com\",\"city\":\"" + pick(cities) + "\",\"active\":" +
                       (rng() % 2 ? "true" : "false") + ",\"score\":" + std::to_string(rng() % 1000) + "." +
                       std::to_string(rng() % 100) + ",\"created\":\"2026-" + std::to_string(1 + rng() % 12) + "-" +
                       std::to_string(1 + rng() % 28) + "T" + std::to_string(rng() % 24) + ":" +
                       std::to_string(rng() % 60) + ":00Z\",\"note\":\"";
    while (json.size() + 2 < size) {
        json += pick(words);
        json += ' ';
    }
    json.resize(size < json.size() + 2 ? json.size() : size - 2, ' ');
    json += "\"}";
    json.resize(size);
    return json;
}

/// size random bytes, different for each seed: nothing for a codec to find.
inline std::string random_value(std::uint64_t seed, std::size_t size) {
    std::mt19937_64 rng(seed);
    std::string bytes(size, '\0');
    for (char& c : bytes) c = static_cast<char>(rng());
    return bytes;
}

}  // namespace kvforge_test
