// The compiled mode: this binary links kvforge::compiled, so KVFORGE_COMPILED_LIB is defined
// and kvforge.hpp declares what the library holds (compiled.hpp) instead of compiling it
// here. The stores opened below run the library's code: open_store over every
// composition, any_store, and the store types it instantiates.

#include <catch2/catch.hpp>

#include <kvforge/kvforge.hpp>

#ifndef KVFORGE_COMPILED_LIB
#error "kvforge::compiled must define KVFORGE_COMPILED_LIB for the programs that link it"
#endif

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "../support/temp_dir.hpp"

TEST_CASE("open_store from the compiled library opens stores by spec and reopens them from their MANIFEST",
          "[compiled]") {
    kvforge_test::temp_dir dir;
    const std::string path = dir / "blocks";
    {
        auto blocks = kvforge::open_store<std::string, std::string>("file_log,sorted,sync_each:" + path);
        CHECK(blocks.spec() == "file_log,sorted_index,sync_each,single_thread:" + path);
        for (int i = 0; i < 50; ++i) blocks.put("block-" + std::to_string(100 + i), "bytes " + std::to_string(i));
        blocks.erase("block-107");
    }
    auto reopened = kvforge::open_store<std::string, std::string>(path);
    CHECK(reopened.get("block-120") == std::optional<std::string>("bytes 20"));
    CHECK_FALSE(reopened.contains("block-107"));
    std::vector<std::string> keys;
    for (const auto& [key, value] : reopened.scan("block-105", "block-110")) keys.push_back(key);
    CHECK(keys == std::vector<std::string>{"block-105", "block-106", "block-108", "block-109"});

    auto in_memory = kvforge::open_store<std::string, std::string>("memory,hash");
    in_memory.put("a", "1");
    CHECK(in_memory.get("a") == std::optional<std::string>("1"));
    CHECK(in_memory.stats().live_keys == 1);
}

TEMPLATE_TEST_CASE("a store type the compiled library instantiates works as in header-only mode", "[compiled]",
                   (kvforge::store<std::string, std::string, kvforge::file_log>),
                   (kvforge::store<std::string, std::string, kvforge::mmap_file>),
                   (kvforge::store<std::string, std::string, kvforge::file_log, kvforge::thread_safe>)) {
    kvforge_test::temp_dir dir;
    const std::string path = dir / "db";
    {
        TestType db(path);
        db.put("alice", "admin");
        db.put("bob", "reader");
        CHECK(db.erase("bob"));
    }
    TestType db(path);
    CHECK(db.get("alice") == std::optional<std::string>("admin"));
    CHECK_FALSE(db.contains("bob"));
    CHECK(db.size() == 1);
}
