// refresh() of a read-only expiring store: the deadline index that size() and stats()
// count from follows the keys the refresh changed, whatever the writer did to their
// deadlines (given, moved, taken away, passed already), through appends, compactions
// and a clear(); after each refresh, and as the clock moves past deadlines, the reader
// counts and reads what the writer does.

#include <catch2/catch.hpp>

#include <chrono>
#include <cstdint>
#include <map>
#include <string>

#include "../conformance/store_configs.hpp"
#include "../support/temp_dir.hpp"
#include "../support/test_clock.hpp"

using namespace std::chrono_literals;
using kvforge_test::expiring_persistent_configs;
using kvforge_test::temp_dir;
using kvforge_test::test_clock;

namespace {

kvforge::options refresh_segments() {
    kvforge::options opts;
    opts.segment_bytes = 64 << 10;
    opts.compact_min_bytes = 64 << 10;
    return opts;
}

kvforge::options expiring_reader_options() {
    kvforge::options opts;
    opts.read_only = true;
    return opts;
}

std::string refresh_key(int i) { return "key" + std::to_string(i); }

/// What the writer holds, read as the reader reads it: its live keys and values.
template <class Store>
std::map<std::string, std::string> live_contents(Store& db) {
    std::map<std::string, std::string> out;
    db.for_each([&](const std::string& key, const std::string& value) { out[key] = value; });
    return out;
}

template <class Store>
void check_same(Store& reader, Store& writer) {
    CHECK(reader.size() == writer.size());
    CHECK(reader.stats().live_keys == writer.stats().live_keys);
    CHECK(reader.stats().live_bytes == writer.stats().live_bytes);
    CHECK(live_contents(reader) == live_contents(writer));
}

}  // namespace

TEMPLATE_LIST_TEST_CASE("a read-only expiring store's refresh keeps its deadline index in step with the writer",
                        "[expiry][readers]", expiring_persistent_configs) {
    temp_dir dir;
    const std::string path = dir / "db";
    test_clock::set(test_clock::time_point(1000h));
    const auto start = test_clock::now();
    TestType writer(path, refresh_segments());
    for (int i = 0; i < 2000; ++i) {
        if (i % 2 == 0) {
            writer.put(refresh_key(i), "first " + std::to_string(i), start + std::chrono::seconds(10 + i % 50));
        } else {
            writer.put(refresh_key(i), "first " + std::to_string(i));
        }
    }
    writer.flush();
    TestType reader(path, expiring_reader_options());
    check_same(reader, writer);

    // Deadlines moved later, taken away, given, passed already; keys erased and added.
    for (int i = 0; i < 2000; i += 3) writer.put(refresh_key(i), "later", start + std::chrono::seconds(500 + i % 7));
    for (int i = 0; i < 2000; i += 10) writer.put(refresh_key(i), "no deadline now");
    for (int i = 1; i < 2000; i += 8) writer.put(refresh_key(i), "deadline now", start + std::chrono::seconds(20));
    for (int i = 5; i < 2000; i += 11) writer.put(refresh_key(i), "expired already", start - std::chrono::seconds(1));
    for (int i = 7; i < 2000; i += 13) writer.erase(refresh_key(i));
    for (int i = 2000; i < 2300; ++i) writer.put(refresh_key(i), "new", start + std::chrono::seconds(30));
    writer.flush();
    CHECK(reader.refresh() > 0);
    check_same(reader, writer);

    // Overwrites until the writer's automatic compaction has run: the refresh applies its
    // outputs and retired segments.
    const std::uint64_t compactions = writer.stats().compactions;
    for (int round = 0; round < 200 && writer.stats().compactions == compactions; ++round) {
        for (int i = 0; i < 300; ++i) writer.put(refresh_key(i), "round " + std::to_string(round), start + 40s);
        writer.flush();
    }
    CHECK(writer.stats().compactions > compactions);
    reader.refresh();
    check_same(reader, writer);

    // The clock passes one deadline after another: both count the same keys expired.
    for (const auto at : {15s, 25s, 35s, 45s, 70s, 600s}) {
        test_clock::set(start + at);
        INFO("at " << at.count() << " s");
        check_same(reader, writer);
    }

    writer.clear();
    writer.put("after clear", "kept", test_clock::now() + 10s);
    writer.flush();
    reader.refresh();
    check_same(reader, writer);
    CHECK(reader.size() == 1);
}
