// The open-addressing table behind hash_index, checked directly.

#include <catch2/catch.hpp>

#include <kvforge/kvforge.hpp>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#if defined(__linux__)
#include <unistd.h>
#endif

using kvforge::detail::hash_table;

namespace {
void ignore_old(std::string_view) {}
}  // namespace

TEST_CASE("hash_table agrees with std::map under random inserts, replaces and erases", "[hash_table]") {
    const std::uint64_t seed = 77;
    INFO("seed " << seed);
    std::mt19937_64 rng(seed);
    hash_table table;
    std::map<std::string, std::string> model;
    for (int step = 0; step < 300000; ++step) {
        const std::string key = std::to_string(rng() % 20000);
        switch (rng() % 4) {
            case 0:
            case 1: {
                const std::string payload(rng() % 50, static_cast<char>('a' + rng() % 26));
                std::string old;
                bool replaced = false;
                const bool inserted = table.upsert(key, payload, [&](std::string_view p) {
                    old = p;
                    replaced = true;
                });
                const auto it = model.find(key);
                REQUIRE(inserted == (it == model.end()));
                REQUIRE(replaced == !inserted);
                if (replaced) REQUIRE(old == it->second);
                model[key] = payload;
                break;
            }
            case 2: {
                std::string old;
                const bool erased = table.erase(key, [&](std::string_view p) { old = p; });
                const auto it = model.find(key);
                REQUIRE(erased == (it != model.end()));
                if (erased) {
                    REQUIRE(old == it->second);
                    model.erase(it);
                }
                break;
            }
            default: {
                const auto found = table.find(key);
                const auto it = model.find(key);
                REQUIRE(found.has_value() == (it != model.end()));
                if (found) REQUIRE(*found == it->second);
            }
        }
        REQUIRE(table.size() == model.size());
    }
    std::map<std::string, std::string> seen;
    table.for_each([&](std::string_view k, std::string_view p) { seen.emplace(k, p); });
    CHECK(seen == model);
}

TEST_CASE("hash_table erases leave no tombstones behind", "[hash_table]") {
    hash_table table;
    for (int i = 0; i < 1000; ++i) table.upsert(std::to_string(i), "v", ignore_old);
    const std::size_t capacity = table.capacity();
    // Churn far more keys through the table than it holds: with tombstones the probe
    // sequences would fill up and force growth; backward shifting keeps it the same size.
    for (int round = 0; round < 200; ++round) {
        for (int i = 0; i < 1000; ++i) REQUIRE(table.erase(std::to_string(round * 1000 + i), ignore_old));
        for (int i = 0; i < 1000; ++i) table.upsert(std::to_string((round + 1) * 1000 + i), "v", ignore_old);
    }
    CHECK(table.size() == 1000);
    CHECK(table.capacity() == capacity);
    CHECK(table.find("200999").has_value());
    CHECK_FALSE(table.find("0").has_value());
}

TEST_CASE("hash_table shrink_to_fit gives back the memory of erased records at once", "[hash_table]") {
    hash_table table;
    for (int i = 0; i < 20000; ++i) table.upsert("key" + std::to_string(i), std::string(100, 'v'), ignore_old);
    const std::size_t full = table.memory_usage();
    // A third erased is too little garbage for the table to compact on its own.
    for (int i = 0; i < 20000; i += 3) REQUIRE(table.erase("key" + std::to_string(i), ignore_old));
    CHECK(table.memory_usage() == full);
    table.shrink_to_fit();
    CHECK(table.memory_usage() < full * 3 / 4);
    CHECK(table.size() == 13333);
    for (int i = 0; i < 20000; ++i) {
        const auto found = table.find("key" + std::to_string(i));
        REQUIRE(found.has_value() == (i % 3 != 0));
        if (found) REQUIRE(*found == std::string(100, 'v'));
    }
    const std::size_t shrunk = table.memory_usage();
    table.shrink_to_fit();  // nothing left to give back
    CHECK(table.memory_usage() == shrunk);
}

TEST_CASE("hash_table replaces a same-size payload in place", "[hash_table]") {
    hash_table table;
    table.upsert("key", "12345678", ignore_old);
    const char* before = table.find("key")->data();
    table.upsert("key", "abcdefgh", ignore_old);
    CHECK(table.find("key")->data() == before);
    CHECK(*table.find("key") == "abcdefgh");
    table.upsert("key", "longer payload", ignore_old);
    CHECK(*table.find("key") == "longer payload");
}

TEST_CASE("hash_table handles the empty key and keys differing only past 16 bytes", "[hash_table]") {
    hash_table table;
    table.upsert("", "empty", ignore_old);
    table.upsert("0123456789abcdefX", "x", ignore_old);
    table.upsert("0123456789abcdefY", "y", ignore_old);
    CHECK(*table.find("") == "empty");
    CHECK(*table.find("0123456789abcdefX") == "x");
    CHECK(*table.find("0123456789abcdefY") == "y");
    CHECK_FALSE(table.find("0123456789abcdef").has_value());
    table.clear();
    CHECK(table.empty());
    CHECK_FALSE(table.find("").has_value());
}

TEST_CASE("same_bytes agrees with == for every length to 40 and a difference at every byte", "[hash_table]") {
    using kvforge::detail::same_bytes;
    // Copies in buffers of their own, so that equal contents are compared at different addresses.
    const std::string text = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGH";
    for (std::size_t n = 0; n <= 40; ++n) {
        const std::string a = text.substr(0, n);
        std::string b = a;
        CHECK(same_bytes(a, b));
        for (std::size_t at = 0; at < n; ++at) {
            b[at] = '~';
            CHECK_FALSE(same_bytes(a, b));
            CHECK_FALSE(same_bytes(b, a));
            b[at] = a[at];
        }
        CHECK_FALSE(same_bytes(a, text.substr(0, n + 1)));
        if (n > 0) CHECK_FALSE(same_bytes(a, text.substr(0, n - 1)));
    }
}

TEST_CASE("bytes_before agrees with < for strings that differ in their first eight bytes or after", "[hash_table]") {
    using kvforge::detail::bytes_before;
    // Bytes from both ends of the range, so that they must be ordered as unsigned, as < does.
    const std::string alphabet("\x00\x01\x7f\x80\xfe\xff", 6);
    std::mt19937 random(7);
    const auto random_string = [&](std::size_t size) {
        std::string s(size, '\0');
        for (char& c : s) c = alphabet[random() % alphabet.size()];
        return s;
    };
    for (int i = 0; i < 200000; ++i) {
        std::string a = random_string(random() % 20);
        std::string b = random_string(random() % 20);
        if (i % 2 == 0) b = a.substr(0, std::min<std::size_t>(a.size(), random() % 12)) + b;  // a shared prefix
        INFO(i);
        REQUIRE(bytes_before(a, b) == (a < b));
        REQUIRE(bytes_before(b, a) == (b < a));
        REQUIRE_FALSE(bytes_before(a, a));
    }
}

TEST_CASE("hash_table finds every key of 8 to 16 bytes among many, and none that differs in one byte", "[hash_table]") {
    // Enough keys that some share their tag and kept hash bits, so that whole keys of the
    // lengths compared as two words are told apart by their bytes.
    hash_table table;
    const std::size_t count = 200000;
    const auto key_of = [](std::size_t i) {
        const std::string digits = std::to_string(i);
        return std::string(8 + i % 9 - digits.size(), '0') + digits;
    };
    for (std::size_t i = 0; i < count; ++i) table.upsert(key_of(i), std::to_string(i), ignore_old);
    REQUIRE(table.size() == count);
    for (std::size_t i = 0; i < count; ++i) {
        std::string key = key_of(i);
        REQUIRE(table.find(key) == std::optional<std::string_view>(std::to_string(i)));
        key[i % key.size()] = '#';
        REQUIRE_FALSE(table.find(key).has_value());
    }
}

TEST_CASE("hash_table find_many agrees with find, in order, for batches of every length", "[hash_table]") {
    hash_table table;
    for (int i = 0; i < 5000; ++i) table.upsert("k" + std::to_string(i), "v" + std::to_string(i), ignore_old);
    for (int i = 0; i < 5000; i += 7) table.erase("k" + std::to_string(i), ignore_old);
    std::vector<std::string> keys;
    for (int i = 0; i < 40; ++i) keys.push_back("k" + std::to_string(i * 131 % 6000));
    for (std::size_t length = 0; length <= keys.size(); ++length) {
        std::vector<std::string_view> batch(keys.begin(), keys.begin() + static_cast<std::ptrdiff_t>(length));
        std::size_t next = 0;
        table.find_many(batch, [&](std::size_t i, std::optional<std::string_view> payload) {
            REQUIRE(i == next++);
            CHECK(payload == table.find(batch[i]));
        });
        CHECK(next == length);
    }
    hash_table empty;
    std::size_t calls = 0;
    empty.find_many(keys, [&](std::size_t, std::optional<std::string_view> payload) {
        CHECK_FALSE(payload.has_value());
        ++calls;
    });
    CHECK(calls == keys.size());
}

TEST_CASE("hash_table upsert_many ends as upserts one by one would, duplicates in a batch included", "[hash_table]") {
    const std::uint64_t seed = 91;
    INFO("seed " << seed);
    std::mt19937_64 rng(seed);
    hash_table bulk;        // filled by upsert_many
    hash_table one_by_one;  // the same records by upsert
    using replacement = std::pair<std::size_t, std::string>;
    bool grew_in_a_call = false;
    for (int round = 0; round < 300; ++round) {
        // Runs of up to 200 records over a few thousand keys: keys repeat within a batch of
        // upsert_many and across calls, payload sizes change (replaced in place or moved).
        const std::size_t count = rng() % 200;
        std::vector<std::string> keys(count);
        std::vector<std::string> payloads(count);
        for (std::size_t i = 0; i < count; ++i) {
            keys[i] = "key" + std::to_string(rng() % (round < 100 ? 300 : 3000));
            payloads[i] = std::string(rng() % 3 * 5, static_cast<char>('a' + rng() % 26));
        }
        std::vector<replacement> bulk_replaced;
        const std::size_t capacity_before = bulk.capacity();
        const std::size_t added = bulk.upsert_many(
            count, [&](std::size_t i) -> std::string_view { return keys[i]; },
            [&](std::size_t i) -> std::string_view { return payloads[i]; },
            [&](std::size_t i, std::string_view old) { bulk_replaced.emplace_back(i, old); });
        if (bulk.capacity() > capacity_before && added >= 2) grew_in_a_call = true;

        std::vector<replacement> sequential_replaced;
        std::size_t sequential_added = 0;
        for (std::size_t i = 0; i < count; ++i) {
            if (one_by_one.upsert(keys[i], payloads[i],
                                  [&](std::string_view old) { sequential_replaced.emplace_back(i, old); })) {
                ++sequential_added;
            }
        }
        REQUIRE(added == sequential_added);
        REQUIRE(bulk_replaced == sequential_replaced);
        REQUIRE(bulk.size() == one_by_one.size());
        // Erases lower the load limit, so later calls also rebuild the table mid-batch.
        for (int e = 0; e < 20; ++e) {
            const std::string key = "key" + std::to_string(rng() % 3000);
            REQUIRE(bulk.erase(key, ignore_old) == one_by_one.erase(key, ignore_old));
        }
    }
    CHECK(grew_in_a_call);
    std::map<std::string, std::string> expected;
    one_by_one.for_each([&](std::string_view k, std::string_view p) { expected.emplace(k, p); });
    std::map<std::string, std::string> seen;
    bulk.for_each([&](std::string_view k, std::string_view p) { seen.emplace(k, p); });
    CHECK(seen == expected);
    for (const auto& [key, payload] : expected) CHECK(bulk.find(key) == std::optional<std::string_view>(payload));
}

TEST_CASE("hash_table upsert_many into an empty table grows it as it goes and finds every key", "[hash_table]") {
    hash_table table;
    const std::size_t count = 100000;
    std::vector<std::string> keys;
    std::vector<std::string> payloads;
    for (std::size_t i = 0; i < count; ++i) {
        keys.push_back("k" + std::to_string(i));
        payloads.push_back("v" + std::to_string(i));
    }
    const std::size_t added = table.upsert_many(
        count, [&](std::size_t i) -> std::string_view { return keys[i]; },
        [&](std::size_t i) -> std::string_view { return payloads[i]; },
        [](std::size_t, std::string_view) { FAIL("no key repeats"); });
    CHECK(added == count);
    REQUIRE(table.size() == count);
    for (std::size_t i = 0; i < count; ++i)
        REQUIRE(table.find(keys[i]) == std::optional<std::string_view>(payloads[i]));
    CHECK(table.upsert_many(
              0, [](std::size_t) { return std::string_view(); }, [](std::size_t) { return std::string_view(); },
              [](std::size_t, std::string_view) {}) == 0);
}

TEST_CASE("hash_table churn in a well-filled table neither grows it nor loses keys", "[hash_table]") {
    // Erases leave overflow bits behind; the table rebuilds itself at the same size before
    // they pile up, so a table churned for long at three quarters of its load limit keeps
    // its size and still finds every key it holds and none it does not.
    hash_table table;
    table.reserve(2000);
    const std::size_t capacity = table.capacity();
    const std::size_t live = capacity / 8 * 7 / 4 * 3;
    for (std::size_t i = 0; i < live; ++i) table.upsert("key" + std::to_string(i), "v", ignore_old);
    for (std::size_t round = 0; round < 50 * live; ++round) {
        REQUIRE(table.erase("key" + std::to_string(round), ignore_old));
        table.upsert("key" + std::to_string(round + live), "v", ignore_old);
    }
    CHECK(table.capacity() == capacity);
    CHECK(table.size() == live);
    for (std::size_t i = 50 * live; i < 51 * live; ++i) REQUIRE(table.find("key" + std::to_string(i)).has_value());
    for (std::size_t i = 0; i < 50 * live; i += 97) REQUIRE_FALSE(table.find("key" + std::to_string(i)).has_value());
}

TEST_CASE("hash_table reads back keys and payloads on both sides of the one-byte length", "[hash_table]") {
    // Lengths below 128 take a one-byte length in the record, longer ones more bytes.
    hash_table table;
    for (std::size_t key_size : {1, 127, 128, 300}) {
        for (std::size_t payload_size : {0, 127, 128, 70000}) {
            const std::string key = std::string(key_size, 'k') + std::to_string(payload_size);
            table.upsert(key, std::string(payload_size, static_cast<char>('a' + key_size % 26)), ignore_old);
        }
    }
    for (std::size_t key_size : {1, 127, 128, 300}) {
        for (std::size_t payload_size : {0, 127, 128, 70000}) {
            const std::string key = std::string(key_size, 'k') + std::to_string(payload_size);
            const auto payload = table.find(key);
            REQUIRE(payload.has_value());
            CHECK(*payload == std::string(payload_size, static_cast<char>('a' + key_size % 26)));
        }
    }
}

TEST_CASE("hash_table past a huge page of groups finds every key, also in a clone", "[hash_table]") {
    // 300,000 keys need more than 2 MiB of groups, which are then allocated on huge pages.
    hash_table table;
    const std::size_t count = 300000;
    for (std::size_t i = 0; i < count; ++i) table.upsert("key" + std::to_string(i), std::to_string(i * 7), ignore_old);
    REQUIRE(table.capacity() * 64 / kvforge::detail::hash_group::width >= kvforge::detail::huge_page_size);
    const hash_table copy = table.clone();
    for (std::size_t i = 0; i < count; i += 7) {
        REQUIRE(table.find("key" + std::to_string(i)) == std::optional<std::string_view>(std::to_string(i * 7)));
        REQUIRE(copy.find("key" + std::to_string(i)) == std::optional<std::string_view>(std::to_string(i * 7)));
    }
    CHECK_FALSE(table.find("key" + std::to_string(count)).has_value());
}

TEST_CASE("make_huge_page_array gives zeroed, aligned, writable arrays of every size", "[hash_table]") {
    using kvforge::detail::huge_page_size;
    for (const std::size_t count :
         {std::size_t{1}, std::size_t{1000}, huge_page_size / 8, huge_page_size / 8 * 3 + 5}) {
        auto array = kvforge::detail::make_huge_page_array<std::uint64_t>(count);
        const auto address = reinterpret_cast<std::uintptr_t>(array.get());
        CHECK(address % alignof(std::uint64_t) == 0);
        if (count * sizeof(std::uint64_t) >= huge_page_size) CHECK(address % huge_page_size == 0);
        std::size_t nonzero = 0;
        for (std::size_t i = 0; i < count; ++i) nonzero += array[i] != 0 ? 1 : 0;
        CHECK(nonzero == 0);
        for (std::size_t i = 0; i < count; ++i) array[i] = i;
        CHECK(array[count - 1] == count - 1);
    }
}

TEST_CASE("release_pages gives back whole pages of a part of a large array, which read as zero after", "[hash_table]") {
    using kvforge::detail::huge_page_size;
    const std::size_t count = huge_page_size / 8 * 3;  // three huge pages of words
    auto array = kvforge::detail::make_huge_page_array<std::uint64_t>(count);
    for (std::size_t i = 0; i < count; ++i) array[i] = i + 1;
    // From the middle of a page to the end of the second huge page: the partial page stays.
    const std::size_t first = 100;
    const std::size_t last = huge_page_size / 8 * 2;
    kvforge::detail::release_pages(array, first, last);
    std::size_t kept = 0;
    std::size_t zeroed = 0;
    for (std::size_t i = 0; i < count; ++i) {
        if (array[i] == i + 1) {
            ++kept;
        } else if (array[i] == 0) {
            ++zeroed;
        }
    }
    CHECK(kept + zeroed == count);
    for (std::size_t i = 0; i < first; ++i) REQUIRE(array[i] == i + 1);     // before the range
    for (std::size_t i = last; i < count; ++i) REQUIRE(array[i] == i + 1);  // after it
#if defined(__linux__)
    // A mapping of its own: the whole pages in the range went back, the partial first one did not.
    const std::size_t page_words = static_cast<std::size_t>(::sysconf(_SC_PAGESIZE)) / 8;
    CHECK(zeroed == last - page_words);
    for (std::size_t i = first; i < page_words; ++i) REQUIRE(array[i] == i + 1);
#else
    CHECK(zeroed == 0);
#endif
}

TEST_CASE("make_huge_page_buffer gives writable buffers, aligned to a huge page from one", "[hash_table]") {
    using kvforge::detail::huge_page_size;
    for (const std::size_t bytes : {std::size_t{0}, std::size_t{1}, std::size_t{4096}, huge_page_size - 1,
                                    huge_page_size, huge_page_size * 2 + 100}) {
        auto buffer = kvforge::detail::make_huge_page_buffer(bytes);
        REQUIRE(buffer.get() != nullptr);
        if (bytes >= huge_page_size) CHECK(reinterpret_cast<std::uintptr_t>(buffer.get()) % huge_page_size == 0);
        for (std::size_t i = 0; i < bytes; ++i) buffer[i] = static_cast<char>(i % 251);
        if (bytes != 0) CHECK(buffer[bytes - 1] == static_cast<char>((bytes - 1) % 251));
    }
}

TEST_CASE("hash_table keeps records past several huge-page arena chunks, and in a clone", "[hash_table]") {
    // About 30 MB of records: the arena's later chunks are 4 MiB, on huge pages where allowed.
    hash_table table;
    const std::string payload(250, 'p');
    for (int i = 0; i < 120000; ++i) table.upsert("key" + std::to_string(i), payload + std::to_string(i), ignore_old);
    const hash_table copy = table.clone();
    for (int i = 0; i < 120000; i += 7) {
        REQUIRE(table.find("key" + std::to_string(i)) == std::optional<std::string_view>(payload + std::to_string(i)));
        REQUIRE(copy.find("key" + std::to_string(i)) == std::optional<std::string_view>(payload + std::to_string(i)));
    }
}

namespace {
std::size_t group_count(const hash_table& table) { return table.capacity() / kvforge::detail::hash_group::width; }
bool is_power_of_two(std::size_t n) { return n != 0 && (n & (n - 1)) == 0; }
}  // namespace

TEST_CASE("hash_table grows by half its group count, and finds every key after each growth", "[hash_table]") {
    hash_table table;
    std::vector<std::size_t> counts;
    const std::size_t keys = 20000;
    for (std::size_t i = 0; i < keys; ++i) {
        table.upsert("key" + std::to_string(i), std::to_string(i), ignore_old);
        if (counts.empty() || group_count(table) != counts.back()) {
            counts.push_back(group_count(table));
            for (std::size_t j = 0; j <= i; ++j)
                REQUIRE(table.find("key" + std::to_string(j)) == std::optional<std::string_view>(std::to_string(j)));
            REQUIRE_FALSE(table.find("key" + std::to_string(i + 1)).has_value());
        }
    }
    // Each count half as much again as the one before, rounded up: mostly not powers of two.
    REQUIRE(counts.size() > 8);
    CHECK(std::vector<std::size_t>(counts.begin(), counts.begin() + 8) ==
          std::vector<std::size_t>{1, 2, 3, 5, 8, 12, 18, 27});
    for (std::size_t k = 1; k < counts.size(); ++k) CHECK(counts[k] == counts[k - 1] + (counts[k - 1] + 1) / 2);
}

TEST_CASE("hash_table reserve gives the group count that growing to as many keys reaches", "[hash_table]") {
    for (const std::size_t count : {std::size_t{7}, std::size_t{100}, std::size_t{2000}, std::size_t{30000}}) {
        hash_table grown;
        for (std::size_t i = 0; i < count; ++i) grown.upsert("key" + std::to_string(i), "v", ignore_old);
        hash_table reserved;
        reserved.reserve(count);
        INFO("count " << count);
        CHECK(reserved.capacity() == grown.capacity());
        for (std::size_t i = 0; i < count; ++i) reserved.upsert("key" + std::to_string(i), "v", ignore_old);
        CHECK(reserved.capacity() == grown.capacity());
        for (std::size_t i = 0; i < count; ++i) REQUIRE(reserved.find("key" + std::to_string(i)).has_value());
    }
}

TEST_CASE("hash_table shrinks to a quarter of a group count that is not a power of two", "[hash_table]") {
    hash_table table;
    table.reserve(2000);
    const std::size_t groups = group_count(table);
    REQUIRE_FALSE(is_power_of_two(groups));
    const std::size_t count = table.capacity() / 8 * 7;
    for (std::size_t i = 0; i < count; ++i) table.upsert("key" + std::to_string(i), std::to_string(i), ignore_old);
    REQUIRE(group_count(table) == groups);
    std::size_t erased = 0;
    while (group_count(table) == groups) REQUIRE(table.erase("key" + std::to_string(erased++), ignore_old));
    CHECK(group_count(table) == groups / 4);
    CHECK(table.size() == count - erased);
    for (std::size_t i = 0; i < count; ++i) {
        if (i < erased)
            REQUIRE_FALSE(table.find("key" + std::to_string(i)).has_value());
        else
            REQUIRE(table.find("key" + std::to_string(i)) == std::optional<std::string_view>(std::to_string(i)));
    }
    // It grows again from there by half.
    const std::size_t small = group_count(table);
    std::size_t next = count;
    for (; group_count(table) == small; ++next) table.upsert("key" + std::to_string(next), "v", ignore_old);
    CHECK(group_count(table) == small + (small + 1) / 2);
}

TEST_CASE("hash_table erase-heavy rebuilds at a group count that is not a power of two keep every key",
          "[hash_table]") {
    hash_table table;
    table.reserve(5000);
    const std::size_t groups = group_count(table);
    REQUIRE_FALSE(is_power_of_two(groups));
    // Near the load limit most groups overflow; erasing from them lowers the limit until an
    // insert rebuilds the table at its size.
    const std::size_t live = table.capacity() / 8 * 7 - 50;
    std::map<std::string, std::string> model;
    for (std::size_t i = 0; i < live; ++i) {
        table.upsert("key" + std::to_string(i), std::to_string(i), ignore_old);
        model["key" + std::to_string(i)] = std::to_string(i);
    }
    std::mt19937_64 rng(5);
    std::size_t next = live;
    for (std::size_t round = 0; round < 20; ++round) {
        for (std::size_t e = 0; e < live / 3; ++e) {
            auto it = std::next(model.begin(), static_cast<std::ptrdiff_t>(rng() % model.size()));
            REQUIRE(table.erase(it->first, ignore_old));
            model.erase(it);
        }
        while (model.size() < live) {
            const std::string key = "key" + std::to_string(next);
            table.upsert(key, std::to_string(next++), ignore_old);
            model[key] = std::to_string(next - 1);
        }
        REQUIRE(group_count(table) == groups);
        REQUIRE(table.size() == model.size());
    }
    for (const auto& [key, value] : model) REQUIRE(table.find(key) == std::optional<std::string_view>(value));
    for (std::size_t i = 0; i < next; i += 3) {
        const std::string key = "key" + std::to_string(i);
        CHECK(table.find(key).has_value() == model.contains(key));
    }
}

TEST_CASE("hash_table lookups of absent keys end among stale overflow bits in a table of any group count",
          "[hash_table]") {
    // Filled to its load limit, then emptied to just above the shrink point: nearly every
    // group keeps overflow bits that no longer stand for any key, and no insert has come to
    // rebuild the table. A lookup of an absent key must still end, and say absent.
    for (const std::size_t reserve_for : {std::size_t{40}, std::size_t{300}, std::size_t{3000}}) {
        hash_table table;
        table.reserve(reserve_for);
        const std::size_t groups = group_count(table);
        const std::size_t full = table.capacity() / 8 * 7;
        for (std::size_t i = 0; i < full; ++i) table.upsert("key" + std::to_string(i), "v", ignore_old);
        REQUIRE(group_count(table) == groups);
        const std::size_t kept = full / 8 + 1;
        for (std::size_t i = kept; i < full; ++i) REQUIRE(table.erase("key" + std::to_string(i), ignore_old));
        REQUIRE(group_count(table) == groups);
        INFO("groups " << groups);
        for (std::size_t i = kept; i < full + 1000; ++i)
            REQUIRE_FALSE(table.find("key" + std::to_string(i)).has_value());
        for (std::size_t i = 0; i < kept; ++i) REQUIRE(table.find("key" + std::to_string(i)).has_value());
    }
}
