// Unit tests of kvforge::detail::btree_table, the B+tree behind sorted_index.

#include <catch2/catch.hpp>

#include <kvforge/kvforge.hpp>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <random>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace {

using kvforge::detail::btree_table;
using namespace std::string_literals;

struct ignore_payload {
    void operator()(std::string_view) const noexcept {}
};

bool put_key(btree_table& table, std::string_view key, std::string_view payload) {
    return table.upsert(key, payload, ignore_payload{});
}

bool erase_key(btree_table& table, std::string_view key) { return table.erase(key, ignore_payload{}); }

std::vector<std::pair<std::string, std::string>> entries_of(const btree_table& table) {
    std::vector<std::pair<std::string, std::string>> out;
    table.for_each([&](std::string_view k, std::string_view v) { out.emplace_back(k, v); });
    return out;
}

std::vector<std::string> keys_from(const btree_table& table, std::string_view from, bool inclusive, std::size_t limit) {
    std::vector<std::string> out;
    table.visit_from(from, inclusive, [&](std::string_view k, std::string_view) {
        out.emplace_back(k);
        return out.size() < limit;
    });
    return out;
}

// Big-endian so that the keys' memcmp order is their numeric order.
std::string numbered_key(std::uint32_t n) {
    std::string key(16, 'k');
    for (int i = 0; i < 4; ++i) key[12 + i] = static_cast<char>(n >> (24 - 8 * i));
    return key;
}

}  // namespace

TEST_CASE("btree_table: an empty table", "[btree]") {
    btree_table table;
    CHECK(table.empty());
    CHECK(table.size() == 0);
    CHECK(table.memory_usage() == 0);
    CHECK_FALSE(table.find("a"));
    CHECK_FALSE(table.find(""));
    CHECK_FALSE(erase_key(table, "a"));
    CHECK(entries_of(table).empty());
    CHECK(keys_from(table, "", true, 10).empty());
}

TEST_CASE("btree_table: the empty key and keys with NUL and 0xFF bytes", "[btree]") {
    btree_table table;
    const std::vector<std::string> keys = {""s,  "\0"s,   "\0\0"s,     "a"s,      "a\0"s, "a\0\0"s, "a\xff"s,
                                           "b"s, "\xff"s, "\xff\xff"s, "\xff\0"s, "ab"s,  "\x7f"s,  "\x80"s};
    for (std::size_t i = 0; i < keys.size(); ++i) CHECK(put_key(table, keys[i], "v" + std::to_string(i)));
    CHECK(table.size() == keys.size());
    for (std::size_t i = 0; i < keys.size(); ++i) {
        const auto found = table.find(keys[i]);
        REQUIRE(found);
        CHECK(*found == "v" + std::to_string(i));
    }
    // A default-constructed view (null data) is the empty key too.
    REQUIRE(table.find(std::string_view{}));
    CHECK(*table.find(std::string_view{}) == "v0");

    std::vector<std::string> sorted = keys;
    std::sort(sorted.begin(), sorted.end());  // std::string compares chars as unsigned, like memcmp
    std::vector<std::string> visited;
    for (const auto& [k, v] : entries_of(table)) visited.push_back(k);
    CHECK(visited == sorted);

    // "a" < "a\0" < "b": a prefix sorts first even when the next byte is NUL.
    CHECK(keys_from(table, "a", true, 3) == std::vector<std::string>{"a"s, "a\0"s, "a\0\0"s});
    CHECK(keys_from(table, "a", false, 1) == std::vector<std::string>{"a\0"s});
    CHECK(keys_from(table, "a\x01", true, 2) == std::vector<std::string>{"ab"s, "a\xff"s});
    CHECK(keys_from(table, "a\xff", false, 1) == std::vector<std::string>{"b"s});
    CHECK(keys_from(table, "\x7f\x01", true, 2) == std::vector<std::string>{"\x80"s, "\xff"s});
    CHECK(keys_from(table, "\xff\xff", false, 5).empty());
    CHECK(keys_from(table, "", false, 1) == std::vector<std::string>{"\0"s});

    CHECK(erase_key(table, ""));
    CHECK_FALSE(table.find(""));
    CHECK(table.find("\0"s));
    CHECK(keys_from(table, "", true, 1) == std::vector<std::string>{"\0"s});
}

TEST_CASE("btree_table: keys sharing long prefixes", "[btree]") {
    btree_table table;
    const std::string stem = "a/long/shared/prefix/of/many/bytes/";
    std::map<std::string, std::string> model;
    for (int i = 0; i < 20000; ++i) {
        // Suffixes of mixed lengths, so keys end within and beyond each 8-byte window.
        std::string key = stem + std::to_string(i * 7919 % 20000);
        if (i % 3 == 0) key += std::string(static_cast<std::size_t>(i % 11), '\0');
        const std::string payload = std::to_string(i);
        CHECK(put_key(table, key, payload) == model.emplace(key, payload).second);
    }
    CHECK(table.size() == model.size());
    for (const auto& [k, v] : model) {
        const auto found = table.find(k);
        REQUIRE(found);
        CHECK(*found == v);
    }
    CHECK_FALSE(table.find(stem));
    CHECK_FALSE(table.find(stem + "1\x01"));
    CHECK(entries_of(table) == std::vector<std::pair<std::string, std::string>>(model.begin(), model.end()));

    // Erase every other key, so leaves merge and borrow and their fences change.
    std::size_t n = 0;
    for (auto it = model.begin(); it != model.end(); ++n) {
        if (n % 2 == 0) {
            CHECK(erase_key(table, it->first));
            it = model.erase(it);
        } else {
            ++it;
        }
    }
    CHECK(table.size() == model.size());
    for (const auto& [k, v] : model) CHECK(table.find(k) == std::optional<std::string_view>(v));
    CHECK(entries_of(table) == std::vector<std::pair<std::string, std::string>>(model.begin(), model.end()));
}

TEST_CASE("btree_table: on_replace and on_erase receive the old payload", "[btree]") {
    btree_table table;
    std::vector<std::string> seen;
    const auto record = [&](std::string_view old) { seen.emplace_back(old); };

    CHECK(table.upsert("k", "first", record));
    CHECK(seen.empty());
    CHECK_FALSE(table.upsert("k", "other", record));  // same size: overwritten in place
    CHECK_FALSE(table.upsert("k", "much longer", record));
    CHECK_FALSE(table.upsert("k", "", record));
    CHECK(seen == std::vector<std::string>{"first", "other", "much longer"});
    CHECK(table.size() == 1);
    CHECK(table.find("k") == std::optional<std::string_view>(""));

    seen.clear();
    CHECK(table.upsert("j", "jay", record));
    CHECK(table.erase("k", record));
    CHECK_FALSE(table.erase("k", record));
    CHECK(table.erase("j", record));
    CHECK(seen == std::vector<std::string>{"", "jay"});
    CHECK(table.empty());
}

TEST_CASE("btree_table: a throwing callback leaves the table unchanged", "[btree]") {
    btree_table table;
    std::map<std::string, std::string> model;
    for (std::uint32_t i = 0; i < 20000; ++i) {
        put_key(table, numbered_key(i), std::to_string(i));
        model.emplace(numbered_key(i), std::to_string(i));
    }
    const auto thrower = [](std::string_view) { throw std::runtime_error("callback failed"); };
    std::mt19937 rng(99);
    // Erasing runs of keys underfills leaves, so some throwing erases hit ones that need a merge or borrow.
    for (std::uint32_t i = 0; i < 20000; ++i) {
        const std::string key = numbered_key(i);
        if (rng() % 4 != 0) {
            CHECK_THROWS_AS(table.erase(key, thrower), std::runtime_error);
            CHECK_THROWS_AS(table.upsert(key, "replacement", thrower), std::runtime_error);
            REQUIRE(table.find(key) == std::optional<std::string_view>(model.at(key)));
            CHECK(erase_key(table, key));
            model.erase(key);
        }
    }
    CHECK(table.size() == model.size());
    CHECK(entries_of(table) == std::vector<std::pair<std::string, std::string>>(model.begin(), model.end()));
}

TEST_CASE("btree_table: a same-size replace does not grow memory", "[btree]") {
    btree_table table;
    for (std::uint32_t i = 0; i < 1000; ++i) put_key(table, numbered_key(i), "12345678");
    const std::size_t before = table.memory_usage();
    for (int round = 0; round < 50; ++round) {
        for (std::uint32_t i = 0; i < 1000; ++i) put_key(table, numbered_key(i), "abcdefgh");
    }
    CHECK(table.memory_usage() == before);
    CHECK(table.find(numbered_key(7)) == std::optional<std::string_view>("abcdefgh"));
}

TEST_CASE("btree_table: erasing everything frees the memory", "[btree]") {
    btree_table table;
    std::mt19937_64 rng(12345);
    std::vector<std::string> keys;
    for (int i = 0; i < 100000; ++i) keys.push_back(numbered_key(static_cast<std::uint32_t>(rng())));
    std::size_t inserted = 0;
    for (const auto& k : keys) inserted += put_key(table, k, "payload!") ? 1 : 0;
    CHECK(table.size() == inserted);
    const std::size_t full = table.memory_usage();
    CHECK(full > 0);

    // Nearly everything erased: the tree must shrink with it, not keep sparse leaves.
    std::shuffle(keys.begin(), keys.end(), rng);
    for (std::size_t i = 0; i + 1000 < keys.size(); ++i) erase_key(table, keys[i]);
    CHECK(table.size() <= 1000);
    CHECK(table.memory_usage() < full / 20);
    for (std::size_t i = keys.size() - 1000; i < keys.size(); ++i) CHECK(table.find(keys[i]));

    for (const auto& k : keys) erase_key(table, k);
    CHECK(table.size() == 0);
    CHECK(table.empty());
    CHECK(table.memory_usage() == btree_table{}.memory_usage());
    CHECK(entries_of(table).empty());

    for (std::uint32_t i = 0; i < 5000; ++i) CHECK(put_key(table, numbered_key(i), "again"));
    CHECK(table.size() == 5000);
    CHECK(table.find(numbered_key(4999)) == std::optional<std::string_view>("again"));
    CHECK(keys_from(table, numbered_key(10), false, 2) == std::vector<std::string>{numbered_key(11), numbered_key(12)});
}

TEST_CASE("btree_table: shrink_to_fit gives back the memory of erased records at once", "[btree]") {
    btree_table table;
    for (std::uint32_t i = 0; i < 20000; ++i) put_key(table, numbered_key(i), std::string(100, 'v'));
    const std::size_t full = table.memory_usage();
    // Every third record erased: too little garbage for the table to compact on its own,
    // and too few to merge leaves.
    for (std::uint32_t i = 0; i < 20000; i += 3) REQUIRE(erase_key(table, numbered_key(i)));
    const std::size_t erased = table.memory_usage();
    table.shrink_to_fit();
    CHECK(table.memory_usage() < erased - full / 4);
    CHECK(table.size() == 13333);
    const auto records = entries_of(table);
    REQUIRE(records.size() == 13333);
    for (std::size_t i = 0; i < records.size(); ++i) {
        REQUIRE(records[i].first == numbered_key(static_cast<std::uint32_t>(i / 2 * 3 + 1 + i % 2)));
        REQUIRE(records[i].second == std::string(100, 'v'));
    }
}

TEST_CASE("btree_table: erasing from either end", "[btree]") {
    // Draining the table from one end underfills the outermost nodes at every level
    // again and again, so they merge with and borrow from their only neighbours.
    std::mt19937 rng(3);
    std::vector<std::string> keys;
    for (int i = 0; i < 150000; ++i) keys.push_back(numbered_key(static_cast<std::uint32_t>(rng())));
    std::vector<std::string> load_order = keys;  // random, so nodes are unevenly full
    std::sort(keys.begin(), keys.end());
    keys.erase(std::unique(keys.begin(), keys.end()), keys.end());
    for (const bool from_the_right : {false, true}) {
        btree_table table;
        for (const auto& k : load_order) put_key(table, k, k.substr(12));
        INFO("from the right: " << from_the_right);
        for (std::size_t n = 0; n < keys.size(); ++n) {
            const std::string& k = from_the_right ? keys[keys.size() - 1 - n] : keys[n];
            REQUIRE(erase_key(table, k));
            if (n % 1000 == 0) {
                // The next key still to go is present, the one just erased is not.
                const std::string& next = from_the_right ? keys[keys.size() - 2 - n] : keys[n + 1];
                REQUIRE(table.find(next) == std::optional<std::string_view>(next.substr(12)));
                REQUIRE_FALSE(table.find(k));
                const auto first = keys_from(table, "", true, 1);
                REQUIRE(first == std::vector<std::string>{from_the_right ? keys.front() : next});
            }
        }
        CHECK(table.empty());
        CHECK(table.memory_usage() == 0);
    }
}

TEST_CASE("btree_table: ascending loads fill the leaves", "[btree]") {
    btree_table ascending;
    btree_table random;
    std::mt19937 rng(7);
    for (std::uint32_t i = 0; i < 100000; ++i) {
        put_key(ascending, numbered_key(i), "");
        put_key(random, numbered_key(static_cast<std::uint32_t>(rng())), "");
    }
    CHECK(ascending.memory_usage() < random.memory_usage());
    std::uint32_t expected = 0;
    bool in_order = true;
    ascending.for_each(
        [&](std::string_view k, std::string_view) { in_order = in_order && k == numbered_key(expected++); });
    CHECK(in_order);
    CHECK(expected == 100000);
}

TEST_CASE("btree_table: appends past the greatest key, mixed with erases at that end and in the middle, agree with std::map",
          "[btree]") {
    // An insert past the greatest key goes to the last leaf without a search; the
    // erases shrink and merge that leaf and its neighbours under it, a put of the
    // greatest key again replaces it (no append), and a key just below it is a search.
    btree_table table;
    std::map<std::string, std::string> model;
    std::mt19937 rng(11);
    std::uint32_t next = 1000;
    for (int step = 0; step < 200000; ++step) {
        const std::uint32_t choice = rng() % 16;
        if (choice < 9 || model.empty()) {
            const std::string key = numbered_key(next++);
            const std::string payload = std::to_string(step);
            REQUIRE(put_key(table, key, payload));
            model[key] = payload;
        } else if (choice < 12) {
            const std::string greatest = model.rbegin()->first;
            REQUIRE(erase_key(table, greatest));
            model.erase(greatest);
        } else if (choice < 13) {
            const std::string greatest = model.rbegin()->first;
            REQUIRE_FALSE(put_key(table, greatest, "replaced"));
            model[greatest] = "replaced";
        } else if (choice < 14) {
            const std::string below = numbered_key(next - 1 - rng() % 50);
            const bool fresh = model.count(below) == 0;
            REQUIRE(put_key(table, below, "below") == fresh);
            model[below] = "below";
        } else {
            const std::string key = numbered_key(next - 1 - rng() % 5000);
            REQUIRE(erase_key(table, key) == (model.erase(key) == 1));
        }
        if (step % 20000 == 0) {
            REQUIRE(table.size() == model.size());
            REQUIRE(entries_of(table) == std::vector<std::pair<std::string, std::string>>(model.begin(), model.end()));
        }
    }
    CHECK(entries_of(table) == std::vector<std::pair<std::string, std::string>>(model.begin(), model.end()));
    for (const auto& [key, payload] : model) REQUIRE(table.find(key) == std::optional<std::string_view>(payload));
}

TEST_CASE("btree_table: clear and move", "[btree]") {
    btree_table table;
    for (std::uint32_t i = 0; i < 3000; ++i) put_key(table, numbered_key(i), "x");
    btree_table moved(std::move(table));
    CHECK(moved.size() == 3000);
    CHECK(table.size() == 0);  // NOLINT(bugprone-use-after-move): moved-from tables are empty
    CHECK(table.memory_usage() == 0);
    CHECK_FALSE(table.find(numbered_key(1)));
    CHECK(put_key(table, "reused", "yes"));

    table = std::move(moved);
    CHECK(table.size() == 3000);
    CHECK(table.find(numbered_key(2999)) == std::optional<std::string_view>("x"));
    CHECK_FALSE(table.find("reused"));

    table.clear();
    CHECK(table.empty());
    CHECK(table.memory_usage() == 0);
    CHECK(put_key(table, "after", "clear"));
    CHECK(entries_of(table) == std::vector<std::pair<std::string, std::string>>{{"after", "clear"}});
}

TEST_CASE("btree_table: random operations agree with std::map", "[btree]") {
    // A fresh seed each run unless one is given with --rng-seed, which also replays a failure.
    const unsigned seed = Catch::rngSeed() != 0 ? Catch::rngSeed() : std::random_device{}();
    INFO("seed " << seed << " (rerun with --rng-seed " << seed << ")");
    std::mt19937_64 rng(seed);
    const auto uniform = [&](std::size_t n) { return static_cast<std::size_t>(rng() % n); };

    // Keys are a stem (often a long one, so prefixes tie past 8 bytes) plus a suffix from a
    // small alphabet, so that random keys collide and exercise replace and erase.
    const std::vector<std::string> stems = {""s,
                                            "a"s,
                                            "user:0000"s,
                                            "\0\0\0\0\0\0\0\0\0\0"s,
                                            "\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff"s,
                                            "shared/prefix/longer/than/a/word/"s};
    const std::string alphabet = "\0\x01\x61\x62\x7f\x80\xfe\xff"s;  // NUL, 1, 'a', 'b', ...
    std::vector<std::string> issued;
    const auto random_key = [&] {
        if (!issued.empty() && uniform(2) == 0) return issued[uniform(issued.size())];
        std::string key = stems[uniform(stems.size())];
        key.resize(std::min<std::size_t>(key.size(), uniform(41)));
        const std::size_t length = key.size() + uniform(41 - key.size());
        while (key.size() < length) key += alphabet[uniform(uniform(4) == 0 ? alphabet.size() : 3)];
        issued.push_back(key);
        return key;
    };
    const auto random_payload = [&](std::size_t size) {
        std::string payload(size, '\0');
        for (char& c : payload) c = static_cast<char>(rng());
        return payload;
    };

    btree_table table;
    std::map<std::string, std::string> model;
    const auto check_all = [&] {
        REQUIRE(table.size() == model.size());
        REQUIRE(table.empty() == model.empty());
        REQUIRE(entries_of(table) == std::vector<std::pair<std::string, std::string>>(model.begin(), model.end()));
    };

    constexpr int operations = 300000;
    bool growing = true;
    for (int op = 0; op < operations; ++op) {
        // Grow to thousands of keys and shrink to none in turns, so the tree is built up
        // several levels and torn down again through every kind of merge.
        if (growing && model.size() >= 15000) growing = false;
        if (!growing && model.empty()) growing = true;
        const std::size_t choice = uniform(100);
        const std::string key = random_key();
        INFO("operation " << op);
        if (choice < (growing ? 60u : 20u)) {
            const auto old = model.find(key);
            // Reuse the old payload's size a third of the time, for in-place overwrites.
            const std::size_t size = old != model.end() && uniform(3) == 0 ? old->second.size() : uniform(65);
            const std::string payload = random_payload(size);
            std::optional<std::string> replaced;
            const bool fresh = table.upsert(key, payload, [&](std::string_view p) { replaced = std::string(p); });
            REQUIRE(fresh == (old == model.end()));
            if (old != model.end()) {
                REQUIRE(replaced == old->second);
            } else {
                REQUIRE_FALSE(replaced);
            }
            model[key] = payload;
        } else if (choice < 85) {
            // While shrinking, erase mostly keys that exist: the live one nearest after the random key.
            const auto after = model.lower_bound(key);
            const auto live = after != model.end() ? after : model.begin();
            const auto old = !growing && uniform(4) != 0 ? live : model.find(key);
            const std::string target = old != model.end() ? old->first : key;
            std::optional<std::string> erased;
            REQUIRE(table.erase(target, [&](std::string_view p) { erased = std::string(p); }) == (old != model.end()));
            if (old != model.end()) {
                REQUIRE(erased == old->second);
                model.erase(old);
            } else {
                REQUIRE_FALSE(erased);
            }
        } else if (choice < 95) {
            const auto old = model.find(key);
            const auto found = table.find(key);
            REQUIRE(found.has_value() == (old != model.end()));
            if (found) REQUIRE(*found == old->second);
        } else {
            const bool inclusive = uniform(2) == 0;
            const std::size_t limit = 1 + uniform(40);
            std::vector<std::string> expected;
            for (auto it = inclusive ? model.lower_bound(key) : model.upper_bound(key);
                 it != model.end() && expected.size() < limit; ++it) {
                expected.push_back(it->first);
            }
            REQUIRE(keys_from(table, key, inclusive, limit) == expected);
        }
        REQUIRE(table.size() == model.size());
        if (op % 5000 == 0) check_all();
    }
    check_all();
}

TEST_CASE("btree_table: an ordered visit's ahead() sees each record before the visitor, in the same order", "[btree]") {
    // Keys put in a scattered order over many leaves; visits start anywhere, in both
    // orders, and stop anywhere.
    constexpr std::uint32_t count = 3000;
    btree_table table;
    for (std::uint32_t i = 0; i < count; ++i) put_key(table, numbered_key((i * 7919) % count), "v" + std::to_string(i));

    // every: the keys the visit reaches when it runs to its end, in its order.
    const auto check = [&](const auto& visit, const std::vector<std::string>& every, std::size_t limit) {
        INFO("limit " << limit << ", " << every.size() << " keys to the end");
        std::vector<std::string> visited;
        std::vector<std::string> seen_ahead;
        visit(
            [&](std::string_view k, std::string_view payload) {
                REQUIRE(table.find(k) == std::optional<std::string_view>(payload));
                // ahead() already had this record: what it saw is the visit's own sequence.
                REQUIRE(seen_ahead.size() > visited.size());
                visited.emplace_back(k);
                return visited.size() < limit;
            },
            [&](std::string_view k, std::string_view payload) {
                REQUIRE(table.find(k) == std::optional<std::string_view>(payload));
                seen_ahead.emplace_back(k);
            });
        const std::size_t reached = std::min(limit, every.size());
        CHECK(visited == std::vector<std::string>(every.begin(), every.begin() + static_cast<std::ptrdiff_t>(reached)));
        REQUIRE(seen_ahead.size() <= every.size());
        CHECK(seen_ahead ==
              std::vector<std::string>(every.begin(), every.begin() + static_cast<std::ptrdiff_t>(seen_ahead.size())));
    };

    for (const std::uint32_t start : {0u, 1u, 62u, 63u, 1000u, count - 20, count - 1}) {
        for (const std::size_t limit : {std::size_t{1}, std::size_t{17}, std::size_t{256}, std::size_t{count}}) {
            std::vector<std::string> up;
            for (std::uint32_t n = start; n < count; ++n) up.push_back(numbered_key(n));
            check([&](auto&& f, auto&& ahead) { table.visit_from(numbered_key(start), true, f, ahead); }, up, limit);
            up.erase(up.begin());
            check([&](auto&& f, auto&& ahead) { table.visit_from(numbered_key(start), false, f, ahead); }, up, limit);

            std::vector<std::string> down;
            for (std::uint32_t n = start + 1; n-- > 0;) down.push_back(numbered_key(n));
            check([&](auto&& f, auto&& ahead) { table.visit_down_from(numbered_key(start), true, f, ahead); }, down,
                  limit);
            down.erase(down.begin());
            check([&](auto&& f, auto&& ahead) { table.visit_down_from(numbered_key(start), false, f, ahead); }, down,
                  limit);
        }
    }
    std::vector<std::string> all;
    for (std::uint32_t n = count; n-- > 0;) all.push_back(numbered_key(n));
    check([&](auto&& f, auto&& ahead) { table.visit_down_from(std::nullopt, true, f, ahead); }, all, count);
}

TEST_CASE("btree_table: update_from replaces payloads in key order, in place or not, until told to stop", "[btree]") {
    btree_table table;
    std::map<std::string, std::string> model;
    std::mt19937 random(7);
    for (int i = 0; i < 5000; ++i) {
        const std::string key = "k" + std::to_string(random() % 20000);
        put_key(table, key, "p" + std::to_string(i));
        model[key] = "p" + std::to_string(i);
    }
    // From the 1000th key on (excluded), every other record's payload grows (a new arena
    // record) and every fourth keeps its size (in place); the walk stops after 2000 keys.
    auto first = std::next(model.begin(), 1000);
    std::vector<std::string> seen;
    table.update_from(first->first, false, [&](std::string_view key, std::string_view payload, auto& replace) {
        REQUIRE(model.at(std::string(key)) == payload);
        if (seen.size() % 2 == 0) {
            replace(std::string(payload) + "-longer");
        } else if (seen.size() % 4 == 1) {
            std::string same(payload);
            same[0] = 'q';
            replace(same);
        }
        seen.emplace_back(key);
        return seen.size() < 2000;
    });
    REQUIRE(seen.size() == 2000);
    auto at = std::next(first);
    for (std::size_t i = 0; i < seen.size(); ++i, ++at) {
        REQUIRE(seen[i] == at->first);
        if (i % 2 == 0) at->second += "-longer";
        if (i % 4 == 1) at->second[0] = 'q';
    }
    REQUIRE(entries_of(table) == std::vector<std::pair<std::string, std::string>>(model.begin(), model.end()));
    for (const auto& [key, payload] : model) REQUIRE(table.find(key) == std::optional<std::string_view>(payload));

    // Inclusive, from a key absent from the table: the walk begins at the next one.
    std::string begun;
    table.update_from(first->first + "0", true, [&](std::string_view key, std::string_view, auto&) {
        begun = key;
        return false;
    });
    CHECK(begun == model.upper_bound(first->first + "0")->first);
}
