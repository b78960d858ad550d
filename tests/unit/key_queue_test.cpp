// The ring buffer of (ticket, key) records behind the eviction policies, checked
// directly against std::deque.

#include <catch2/catch.hpp>

#include <kvforge/kvforge.hpp>

#include <cstdint>
#include <deque>
#include <random>
#include <string>
#include <utility>

using kvforge::detail::key_queue;

TEST_CASE("key_queue agrees with std::deque under pushes, pops, requeues and packing", "[key_queue]") {
    std::mt19937_64 rng(41);
    key_queue queue;
    std::deque<std::pair<kvforge::entry_ticket, std::string>> model;
    kvforge::entry_ticket next = 0;
    for (int step = 0; step < 200000; ++step) {
        INFO("step " << step);
        const auto dice = rng() % 100;
        if (dice < 45 || model.empty()) {
            // Lengths from 0 to 300, so that records of every size meet the buffer's end.
            std::string key(rng() % 301, static_cast<char>('a' + rng() % 26));
            queue.push(next, key);
            model.emplace_back(next++, std::move(key));
        } else if (dice < 75) {
            const key_queue::record r = queue.pop();
            REQUIRE(r.ticket == model.front().first);
            REQUIRE(r.key == model.front().second);
            model.pop_front();
        } else if (dice < 98) {
            // A second chance: the popped record goes straight back, from its own bytes.
            const key_queue::record r = queue.pop();
            REQUIRE(r.ticket == model.front().first);
            queue.push(r.ticket, r.key);
            model.push_back(model.front());
            model.pop_front();
        } else if (dice < 99) {
            queue.retain([](kvforge::entry_ticket ticket, std::string_view) { return ticket % 3 != 0; });
            std::erase_if(model, [](const auto& record) { return record.first % 3 == 0; });
        } else {
            queue.shrink_to_fit();
        }
        REQUIRE(queue.size() == model.size());
        REQUIRE(queue.empty() == model.empty());
    }
    while (!model.empty()) {
        const key_queue::record r = queue.pop();
        REQUIRE(r.ticket == model.front().first);
        REQUIRE(r.key == model.front().second);
        model.pop_front();
    }
}

TEST_CASE("key_queue reuses the space its records leave and gives it back when packed", "[key_queue]") {
    key_queue queue;
    for (kvforge::entry_ticket t = 0; t < 1000; ++t) queue.push(t, std::string(40, 'k'));
    const std::size_t full = queue.memory_usage();
    CHECK(full >= 1000 * 48);
    // Records that come and go at the same pace keep the buffer's size.
    for (kvforge::entry_ticket t = 1000; t < 100000; ++t) {
        queue.pop();
        queue.push(t, std::string(40, 'k'));
    }
    CHECK(queue.memory_usage() == full);
    for (int i = 0; i < 900; ++i) queue.pop();
    queue.shrink_to_fit();
    CHECK(queue.memory_usage() < full / 4);
    CHECK(queue.size() == 100);
    CHECK(queue.pop().ticket == 99900);
    queue.clear();
    CHECK(queue.memory_usage() == 0);
    CHECK(queue.empty());
}
