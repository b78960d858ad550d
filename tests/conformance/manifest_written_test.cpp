// The MANIFEST a persistent store writes, on every configuration with files: created with
// the store, naming what the store is made of; binding the codecs; rewritten when another
// store, index or durability policy opens the store for writing, and by nothing else.

#include <catch2/catch.hpp>

#include <kvforge/kvforge.hpp>

#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <system_error>

#include "../support/directory_tree.hpp"
#include "../support/file_bytes.hpp"
#include "store_configs.hpp"

using namespace kvforge_test;

namespace {

/// The composition the MANIFEST in directory records; fails the test when it cannot be read.
kvforge::composition manifest_of(const std::string& directory) {
    const std::string text = read_file(std::filesystem::path(directory) / "MANIFEST");
    kvforge::composition parsed;
    std::string problem;
    INFO(text);
    REQUIRE(kvforge::detail::parse_manifest(text, parsed, problem));
    return parsed;
}

/// The composition Store records, as its policies and codecs name it.
template <class Store>
kvforge::composition expected_manifest() {
    kvforge::composition c;
    c.format = kvforge::detail::format_version;
    if constexpr (requires { Store::index_policy::store_format; }) c.format = Store::index_policy::store_format;
    c.store = std::string(Store::store_policy::name);
    c.index = std::string(Store::index_policy::name);
    c.durability = std::string(Store::durability_policy::name);
    c.key_codec = kvforge::codec<typename Store::key_type>::name();
    c.value_codec = kvforge::codec<typename Store::mapped_type>::name();
    c.codec_fingerprint = kvforge::detail::codec_fingerprint(c.key_codec, c.value_codec);
    if constexpr (Store::expiring) c.expiry = "test_clock:1/1000";  // test_clock ticks in milliseconds
    return c;
}

/// A store of Store's policies with other value codecs.
template <class Store>
struct with_u64_values;
template <class Key, class Value, class... Policies>
struct with_u64_values<kvforge::store<Key, Value, Policies...>> {
    using type = kvforge::store<Key, std::uint64_t, Policies...>;
};

}  // namespace

TEMPLATE_LIST_TEST_CASE("a created store records its composition in a MANIFEST", "[conformance][manifest]",
                        all_configs) {
    if constexpr (has_files<TestType>) {
        test_store<TestType> db;
        db->put("k", "v");
        CHECK(manifest_of(db.path()) == expected_manifest<TestType>());
        db.reopen();
        CHECK(manifest_of(db.path()) == expected_manifest<TestType>());
        CHECK(db->get("k") == std::optional<std::string>("v"));
    }
}

TEMPLATE_LIST_TEST_CASE("opening a store with other codecs fails naming both and changes nothing",
                        "[conformance][manifest]", all_configs) {
    if constexpr (has_files<TestType>) {
        test_store<TestType> db;
        db->put("k", "v");
        db->close();
        const auto before = tree(db.path());
        using other = typename with_u64_values<TestType>::type;
        for (const bool read_only : {false, true}) {
            INFO("read_only " << read_only);
            other reopened;
            kvforge::options opts;
            opts.read_only = read_only;
            std::error_code ec;
            reopened.open(db.path(), opts, {}, ec);
            CHECK(ec == kvforge::errc::codec_mismatch);
            const std::string message = kvforge::last_error_message();
            CHECK_THAT(message, Catch::Contains("MANIFEST") && Catch::Contains("value codec") &&
                                    Catch::Contains("written with 'bytes'") &&
                                    Catch::Contains("opened with 'uint64.be'"));
            CHECK_FALSE(reopened.is_open());
        }
        CHECK(tree(db.path()) == before);
    }
}

TEST_CASE("a writable open with another store, index or durability policy rewrites the MANIFEST",
          "[conformance][manifest]") {
    using namespace kvforge;
    using made = store<std::string, std::string, file_log, hash_index, buffered<>>;
    using used = store<std::string, std::string, mmap_file, sorted_index, sync_each, thread_safe>;
    temp_dir dir;
    const std::string path = dir / "store";
    { made db(path); db.put("k", "v"); }
    {
        options read_only;
        read_only.read_only = true;
        const auto before = tree(path);
        used db(path, read_only);
        CHECK(db.get("k") == std::optional<std::string>("v"));
        db.close();
        CHECK(tree(path) == before);  // a read-only open records nothing
    }
    { used db(path); }
    CHECK(manifest_of(path) == expected_manifest<used>());
    // The same composition again: nothing is written.
    const auto recorded = tree(path);
    { used db(path); }
    CHECK(tree(path) == recorded);
    { made db(path); CHECK(db.get("k") == std::optional<std::string>("v")); }
    CHECK(manifest_of(path) == expected_manifest<made>());
}

TEST_CASE("a leftover MANIFEST.tmp is removed by a writable open and kept by a read-only one",
          "[conformance][manifest]") {
    using store_type = kvforge::store<std::string, std::string, kvforge::file_log>;
    temp_dir dir;
    const std::string path = dir / "store";
    { store_type db(path); db.put("k", "v"); }
    const auto tmp = std::filesystem::path(path) / "MANIFEST.tmp";
    write_file(tmp, "kvforge-manifest 1\nformat 1\n");  // a write cut short by a crash
    {
        kvforge::options read_only;
        read_only.read_only = true;
        store_type db(path, read_only);
        CHECK(db.get("k") == std::optional<std::string>("v"));
    }
    CHECK(std::filesystem::exists(tmp));
    { store_type db(path); }
    CHECK_FALSE(std::filesystem::exists(tmp));
    CHECK(manifest_of(path) == expected_manifest<store_type>());
    kvforge::destroy(path);
    CHECK_FALSE(std::filesystem::exists(path));
}

TEST_CASE("a MANIFEST of a newer format is refused and the store left as it is", "[conformance][manifest]") {
    using store_type = kvforge::store<std::string, std::string, kvforge::file_log>;
    temp_dir dir;
    const std::string path = dir / "store";
    { store_type db(path); db.put("k", "v"); }
    kvforge::composition newer = manifest_of(path);
    newer.format = kvforge::detail::format_version + 1;
    write_file(std::filesystem::path(path) / "MANIFEST", kvforge::detail::format_manifest(newer));
    const auto before = tree(path);
    store_type db;
    std::error_code ec;
    db.open(path, {}, {}, ec);
    CHECK(ec == kvforge::errc::unsupported_version);
    CHECK_THAT(kvforge::last_error_message(), Catch::Contains("MANIFEST") && Catch::Contains("format version"));
    CHECK(tree(path) == before);
}
