// kvforge::copy: every record of any store into any other. The migration test moves a
// store's records between every pair of store policies and index kinds and checks each
// record; KVFORGE_TEST_MIGRATION_RECORDS sets how many (1,000,000 for the full run).

#include <catch2/catch.hpp>

#include <kvforge/kvforge.hpp>

#include <cstdint>
#include <cstdlib>
#include <map>
#include <optional>
#include <string>
#include <system_error>
#include <vector>

#include "../support/open_store_once.hpp"
#include "../support/temp_dir.hpp"

using kvforge_test::temp_dir;

namespace {

std::uint64_t migration_records() {
    if (const char* configured = std::getenv("KVFORGE_TEST_MIGRATION_RECORDS")) {
        return std::strtoull(configured, nullptr, 10);
    }
    return 3000;
}

/// Record i of the test data: keys of several lengths, values of several sizes, some empty.
std::string migration_key(std::uint64_t i) {
    return "key-" + std::to_string(i * 7919 % 1000003) + "-" + std::to_string(i);
}
std::string migration_value(std::uint64_t i) {
    return std::string(i % 97, static_cast<char>('a' + i % 26)) + std::to_string(i);
}

}  // namespace

TEST_CASE("copy moves every record between every pair of store policies and index kinds", "[copy][migration]") {
    const std::uint64_t count = migration_records();
    const std::vector<std::string> kinds = {"memory,hash",     "memory,sorted",     "file_log,hash",
                                            "file_log,sorted", "mmap_file,hash",    "mmap_file,sorted"};
    auto spec_of = [](const std::string& kind, const temp_dir& dir, const std::string& name) {
        return kind.rfind("memory", 0) == 0 ? kind : kind + ":" + dir / name;
    };
    for (const std::string& from : kinds) {
        temp_dir source_dir;
        auto source = kvforge::open_store<std::string, std::string>(spec_of(from, source_dir, "source"));
        kvforge::batch<std::string, std::string> load;
        for (std::uint64_t i = 0; i < count; ++i) {
            load.put(migration_key(i), migration_value(i));
            if (load.size() == 10000) {
                source.write(load);
                load.clear();
            }
        }
        source.write(load);
        REQUIRE(source.size() == count);

        for (const std::string& to : kinds) {
            INFO(from << " -> " << to << ", " << count << " records");
            temp_dir destination_dir;
            auto destination = kvforge::open_store<std::string, std::string>(spec_of(to, destination_dir, "copy"));
            std::vector<kvforge::copy_progress> reports;
            kvforge::copy_options opts;
            opts.batch_records = 1000;
            opts.on_progress = [&](const kvforge::copy_progress& p) { reports.push_back(p); };
            CHECK(kvforge::copy(source, destination, opts) == count);

            REQUIRE(destination.size() == count);
            std::string value;
            for (std::uint64_t i = 0; i < count; ++i) {
                if (!destination.get(migration_key(i), value) || value != migration_value(i)) {
                    FAIL_CHECK("record " << i << " did not arrive intact");
                    break;
                }
            }
            REQUIRE_FALSE(reports.empty());
            CHECK(reports.back().done == count);
            CHECK(reports.back().total == count);
            for (std::size_t r = 1; r < reports.size(); ++r) CHECK(reports[r].done > reports[r - 1].done);
            CHECK(source.size() == count);  // the source is read, not changed

            if (destination.persistent()) {
                // Synced before copy returned: it reopens with every record.
                destination.close();
                auto reopened = kvforge::open_store<std::string, std::string>(spec_of(to, destination_dir, "copy"));
                CHECK(reopened.size() == count);
                CHECK(reopened.verify().ok());
            }
        }
    }
}

TEST_CASE("copy takes typed stores and any_stores alike, and keeps the destination's other records", "[copy]") {
    temp_dir dir;
    kvforge::store<std::string, std::string, kvforge::file_log, kvforge::sorted_index> typed(dir / "typed");
    typed.put("alice", "admin");
    typed.put("bob", "dev");
    kvforge::store<std::string, std::string> memory;
    memory.put("carol", "ops");
    memory.put("bob", "old");

    CHECK(kvforge::copy(typed, memory) == 2);
    CHECK(memory.size() == 3);
    CHECK(memory.get("bob") == std::optional<std::string>("dev"));
    CHECK(memory.get("carol") == std::optional<std::string>("ops"));

    auto any = kvforge::open_store<std::string, std::string>("mmap_file:" + dir / "any");
    CHECK(kvforge::copy(memory, any) == 3);
    kvforge::store<std::string, std::string, kvforge::memory, kvforge::sorted_index> back;
    CHECK(kvforge::copy(any, back) == 3);
    std::vector<std::string> keys;
    for (const auto& [key, value] : back.scan()) keys.push_back(key);
    CHECK(keys == std::vector<std::string>{"alice", "bob", "carol"});

    std::error_code ec;
    CHECK(kvforge::copy(back, back, ec) == 0);
    CHECK(ec == kvforge::errc::invalid_argument);
}

TEST_CASE("copy from a snapshot holds no lock of the store, which takes writes during the copy", "[copy][snapshot]") {
    temp_dir dir;
    kvforge::store<std::string, std::string, kvforge::file_log, kvforge::hash_index, kvforge::thread_safe> db(
        dir / "db");
    std::map<std::string, std::string> at_cut;
    for (std::uint64_t i = 0; i < 1000; ++i) {
        at_cut[migration_key(i)] = migration_value(i);
        db.put(migration_key(i), migration_value(i));
    }
    kvforge::store<std::string, std::string> destination;
    kvforge::copy_options opts;
    opts.batch_records = 100;
    int written_meanwhile = 0;
    // A hash index store's own for_each holds its read lock for the whole walk, so a write
    // from inside the copy would wait for it forever; the snapshot's holds none.
    opts.on_progress = [&](const kvforge::copy_progress&) {
        db.put(migration_key(written_meanwhile), "changed during the copy");
        db.put("new " + std::to_string(written_meanwhile++), "x");
    };
    CHECK(kvforge::copy(db.snapshot(), destination, opts) == 1000);
    CHECK(written_meanwhile == 10);
    std::map<std::string, std::string> copied;
    destination.for_each([&](const std::string& key, const std::string& value) { copied[key] = value; });
    CHECK(copied == at_cut);
    CHECK(db.size() == 1010);

    auto any = kvforge::open_store<std::string, std::string>("file_log,sorted:" + dir / "any");
    any.put("alice", "admin");
    const auto any_snapshot = any.snapshot();
    any.put("alice", "former admin");
    kvforge::store<std::string, std::string> from_any;
    CHECK(kvforge::copy(any_snapshot, from_any) == 1);
    CHECK(from_any.get("alice") == std::optional<std::string>("admin"));
}

TEST_CASE("copy into a store that refuses writes reports it and what was written", "[copy]") {
    temp_dir dir;
    kvforge::store<std::uint64_t, std::string> source;
    for (std::uint64_t i = 0; i < 10; ++i) source.put(i, "value");
    kvforge::store<std::uint64_t, std::string, kvforge::file_log> destination(dir / "closed");
    destination.close();
    std::error_code ec;
    CHECK(kvforge::copy(source, destination, ec) == 0);
    CHECK(ec == kvforge::errc::store_closed);
    CHECK_THAT(kvforge::last_error_message(), Catch::Contains("copy: writing the destination failed after 0 records"));
}
