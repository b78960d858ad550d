// A hash table filled in another table's order stays as well spread as one filled in any
// other order: the order of another table's for_each must not cluster its homes.

#include <catch2/catch.hpp>

#include <kvforge/kvforge.hpp>

#include <algorithm>
#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

using kvforge::detail::hash_table;

namespace {

void ignore_replaced(std::string_view) {}

/// The longest walk and the largest mean walk (in groups per key, times 100) that lookups
/// of the keys held took at any of the checks made while a table filled.
struct worst_probes {
    std::size_t longest = 0;
    std::size_t mean_percent = 0;

    void check(const hash_table& table) {
        const hash_table::probe_lengths lengths = table.measure_probes();
        longest = std::max(longest, lengths.longest);
        mean_percent = std::max(mean_percent, lengths.total * 100 / table.size());
    }
};

/// Fills a new table with keys in the order given, checking its probes every check_every keys.
worst_probes fill_and_probe(const std::vector<std::string>& keys, std::size_t check_every) {
    hash_table table;
    worst_probes worst;
    for (std::size_t i = 0; i < keys.size(); ++i) {
        table.upsert(keys[i], "p", ignore_replaced);
        if ((i + 1) % check_every == 0) worst.check(table);
    }
    for (const std::string& key : keys) {
        if (!table.find(key)) FAIL("a key went missing: " << key);
    }
    return worst;
}

/// The keys of table, in its for_each order.
std::vector<std::string> order_of(const hash_table& table) {
    std::vector<std::string> order;
    order.reserve(table.size());
    table.for_each([&](std::string_view key, std::string_view) { order.emplace_back(key); });
    return order;
}

}  // namespace

TEST_CASE("a hash table filled in another table's iteration order keeps its probes short", "[hash_table]") {
    constexpr std::size_t count = 200000;
    constexpr std::size_t check_every = 5000;
    std::vector<std::string> keys;
    for (std::size_t i = 0; i < count; ++i) keys.push_back("key/" + std::to_string(i));

    // In key order: the yardstick.
    const worst_probes in_key_order = fill_and_probe(keys, check_every);
    INFO("in key order: mean " << in_key_order.mean_percent << "%, longest " << in_key_order.longest);
    CHECK(in_key_order.mean_percent <= 200);

    // In another table's for_each order, and in the order of a table itself filled in
    // such an order (a compaction of a compaction): the same spread. (Were homes taken
    // alike in both tables, the mean would be thousands of groups, the longest walk
    // across most of the table.) The longest walk varies with the seed: tens of groups.
    hash_table source;
    for (const std::string& key : keys) source.upsert(key, "payload", ignore_replaced);
    const std::vector<std::string> first_order = order_of(source);
    const worst_probes first = fill_and_probe(first_order, check_every);
    INFO("in another table's order: mean " << first.mean_percent << "%, longest " << first.longest);
    CHECK(first.mean_percent <= 200);
    CHECK(first.longest <= 500);

    hash_table second;
    for (const std::string& key : first_order) second.upsert(key, "p", ignore_replaced);
    const worst_probes again = fill_and_probe(order_of(second), check_every);
    INFO("once more removed: mean " << again.mean_percent << "%, longest " << again.longest);
    CHECK(again.mean_percent <= 200);
    CHECK(again.longest <= 500);

    // A clone keeps its source's layout, and so its probes.
    CHECK(source.clone().measure_probes().total == source.measure_probes().total);
}
