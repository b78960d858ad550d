// clone() of the in-memory index tables (hash_table, btree_table): a copy made from their
// arrays as blocks holds every key and payload, and neither table sees the other's changes.

#include <catch2/catch.hpp>

#include <kvforge/kvforge.hpp>

#include <cstddef>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <vector>

namespace {

using kvforge::detail::btree_table;
using kvforge::detail::hash_table;
using model_type = std::map<std::string, std::string>;

void ignore_dropped(std::string_view) {}

template <class Table>
void put_both(Table& table, model_type& model, const std::string& key, const std::string& payload) {
    table.upsert(key, payload, ignore_dropped);
    model[key] = payload;
}

template <class Table>
void erase_both(Table& table, model_type& model, const std::string& key) {
    table.erase(key, ignore_dropped);
    model.erase(key);
}

// Every record of table, sorted by key (a hash table visits in no order).
template <class Table>
model_type sorted_contents(const Table& table) {
    model_type out;
    table.for_each([&](std::string_view key, std::string_view payload) {
        const bool fresh = out.emplace(std::string(key), std::string(payload)).second;
        CHECK(fresh);
    });
    return out;
}

// Checks that table holds exactly model, by lookups and by a full visit.
template <class Table>
void require_holds(const Table& table, const model_type& model) {
    REQUIRE(table.size() == model.size());
    for (const auto& [key, payload] : model) {
        const std::optional<std::string_view> found = table.find(key);
        REQUIRE(found.has_value());
        REQUIRE(*found == payload);
    }
    REQUIRE(sorted_contents(table) == model);
}

std::string clone_key(std::size_t n) { return "key:" + std::to_string(n); }

// A table of 30,000 records of mixed payload sizes (several arena chunks, a btree with
// inner nodes above its leaves), with replaced and erased records, so the arena holds garbage.
template <class Table>
void fill_with_garbage(Table& table, model_type& model) {
    std::mt19937_64 rng(5);
    for (std::size_t i = 0; i < 40000; ++i) put_both(table, model, clone_key(i), std::string(rng() % 40, 'a'));
    for (std::size_t i = 0; i < 40000; i += 4) erase_both(table, model, clone_key(i));
    for (std::size_t i = 1; i < 40000; i += 8) put_both(table, model, clone_key(i), std::string(rng() % 40 + 41, 'r'));
}

}  // namespace

TEMPLATE_TEST_CASE("a cloned table holds every key and payload of the original", "[table_clone]", hash_table,
                   btree_table) {
    TestType original;
    model_type model;
    fill_with_garbage(original, model);
    const TestType copy = original.clone();
    require_holds(copy, model);
    require_holds(original, model);
    REQUIRE_FALSE(copy.find("absent").has_value());
}

TEMPLATE_TEST_CASE("a cloned table does not change when the original does", "[table_clone]", hash_table, btree_table) {
    auto original = std::make_unique<TestType>();
    model_type model;
    fill_with_garbage(*original, model);
    const TestType copy = original->clone();
    const model_type at_clone = model;

    // Same-size replaces write in place, others append; erases and inserts move slots
    // and nodes, and enough of them compact the original's arena.
    for (std::size_t i = 1; i < 40000; i += 2) put_both(*original, model, clone_key(i), "same-size");
    for (std::size_t i = 2; i < 40000; i += 3) erase_both(*original, model, clone_key(i));
    for (std::size_t i = 40000; i < 50000; ++i) put_both(*original, model, clone_key(i), "new");
    require_holds(*original, model);
    require_holds(copy, at_clone);

    original.reset();
    require_holds(copy, at_clone);
}

TEMPLATE_TEST_CASE("a change to a cloned table leaves the original as it was", "[table_clone]", hash_table,
                   btree_table) {
    TestType original;
    model_type model;
    fill_with_garbage(original, model);
    TestType copy = original.clone();
    model_type copy_model = model;

    for (std::size_t i = 3; i < 40000; i += 2) put_both(copy, copy_model, clone_key(i), std::string(7, 'c'));
    for (std::size_t i = 5; i < 40000; i += 5) erase_both(copy, copy_model, clone_key(i));
    for (std::size_t i = 40000; i < 60000; ++i) put_both(copy, copy_model, clone_key(i), "grown");
    copy.shrink_to_fit();
    require_holds(copy, copy_model);
    require_holds(original, model);

    copy.clear();
    REQUIRE(copy.empty());
    require_holds(original, model);
}

TEMPLATE_TEST_CASE("an empty table clones to an empty table that takes inserts", "[table_clone]", hash_table,
                   btree_table) {
    const TestType original;
    TestType copy = original.clone();
    REQUIRE(copy.empty());
    model_type model;
    put_both(copy, model, "k", "v");
    require_holds(copy, model);
    REQUIRE(original.empty());
}

TEST_CASE("a cloned btree_table visits keys in order both ways from any key", "[table_clone][btree]") {
    btree_table original;
    model_type model;
    fill_with_garbage(original, model);
    const btree_table copy = original.clone();

    std::vector<std::string> ascending;
    copy.for_each([&](std::string_view key, std::string_view) { ascending.emplace_back(key); });
    std::vector<std::string> expected;
    for (const auto& entry : model) expected.push_back(entry.first);
    REQUIRE(ascending == expected);

    std::vector<std::string> descending;
    copy.visit_down_from(std::nullopt, true, [&](std::string_view key, std::string_view) {
        descending.emplace_back(key);
        return true;
    });
    REQUIRE(std::vector<std::string>(descending.rbegin(), descending.rend()) == expected);

    const std::string from = clone_key(20001);
    std::vector<std::string> tail;
    copy.visit_from(from, true, [&](std::string_view key, std::string_view) {
        tail.emplace_back(key);
        return tail.size() < 100;
    });
    REQUIRE(tail.size() == 100);
    REQUIRE(tail.front() == model.lower_bound(from)->first);
}
