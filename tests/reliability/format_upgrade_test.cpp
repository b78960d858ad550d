// Stores written by an earlier release open with every record. tests/fixtures/format1/
// holds stores that kvforge 0.1.0 wrote in format version 1 (see its README); each test
// opens a copy, requires exactly the contents of the history they were written from, and
// requires them to stay so across writes, compaction and reopening. Their first writable
// open records their composition in a MANIFEST; a read-only open changes no byte.

#include <catch2/catch.hpp>

#include <kvforge/kvforge.hpp>

#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <system_error>

#include "../fixtures/format1/script.hpp"
#include "../support/directory_tree.hpp"
#include "../support/file_bytes.hpp"
#include "../support/temp_dir.hpp"

namespace fs = std::filesystem;
using kvforge_test::temp_dir;

namespace {

/// A copy of fixture store `name` in dir, so that the fixture itself stays as written.
std::string copy_of_fixture(const temp_dir& dir, const std::string& name) {
    const fs::path source = fs::path(KVFORGE_FIXTURES_DIR) / "format1" / name;
    REQUIRE(fs::is_directory(source));
    const fs::path target = dir / name;
    fs::copy(source, target, fs::copy_options::recursive);
    return target.string();
}

template <class Store>
std::map<std::string, std::string> contents_of(const Store& db) {
    std::map<std::string, std::string> contents;
    db.for_each([&](const std::string& key, const std::string& value) { contents[key] = value; });
    return contents;
}

/// Opens a copy of fixture `name` as Store and checks it holds the history's contents,
/// before and after a write, a compaction and a reopen.
template <class Store>
void check_fixture(const std::string& name) {
    INFO("fixture " << name);
    temp_dir dir;
    const std::string path = copy_of_fixture(dir, name);
    const std::map<std::string, std::string> expected = kvforge_fixture::expected_contents();
    {
        Store db(path);
        CHECK(db.size() == expected.size());
        CHECK(contents_of(db) == expected);
        for (const auto& [key, value] : expected) REQUIRE(db.get(key) == std::optional<std::string>(value));
        CHECK(db.verify().ok());
        db.put("written after the upgrade", "yes");
    }
    {
        Store db(path);
        CHECK(db.get("written after the upgrade") == std::optional<std::string>("yes"));
        db.erase("written after the upgrade");
        CHECK(contents_of(db) == expected);
        db.compact();
        CHECK(contents_of(db) == expected);
        CHECK(db.verify().ok());
    }
    Store db(path);
    CHECK(contents_of(db) == expected);
}

}  // namespace

TEST_CASE("format 1 stores written by kvforge 0.1.0 open with every record", "[upgrade]") {
    using namespace kvforge;
    check_fixture<store<std::string, std::string, file_log, hash_index>>("file_log-hint");
    check_fixture<store<std::string, std::string, file_log, sorted_index>>("file_log-no-hint");
    check_fixture<store<std::string, std::string, mmap_file, sorted_index, sync_each>>("mmap_file-compacted");
    // The index and store policies may differ from those that wrote the files.
    check_fixture<store<std::string, std::string, mmap_file, sorted_index>>("file_log-hint");
    check_fixture<store<std::string, std::string, file_log, hash_index, thread_safe>>("mmap_file-compacted");
}

TEST_CASE("a format 1 log with a torn tail opens with every complete record", "[upgrade]") {
    using store_type = kvforge::store<std::string, std::string, kvforge::file_log, kvforge::sorted_index>;
    temp_dir dir;
    const std::string path = copy_of_fixture(dir, "file_log-torn-tail");
    store_type db(path);
    CHECK(db.stats().recovered_bytes_cut == 10);
    CHECK(contents_of(db) == kvforge_fixture::expected_contents());
    CHECK(db.verify().ok());
}

TEST_CASE("a format 1 store with integer keys opens with every record", "[upgrade]") {
    temp_dir dir;
    const std::string path = copy_of_fixture(dir, "integer-keys");
    kvforge::store<std::uint64_t, std::string, kvforge::file_log> db(path);
    CHECK(db.size() == kvforge_fixture::integer_keys);
    for (std::uint64_t i = 0; i < kvforge_fixture::integer_keys; ++i) {
        REQUIRE(db.get(i) == std::optional<std::string>("value " + std::to_string(i)));
    }
}

TEST_CASE("a format 1 store gets a MANIFEST at its first writable open, and none at a read-only one", "[upgrade]") {
    using store_type = kvforge::store<std::string, std::string, kvforge::mmap_file, kvforge::sorted_index>;
    temp_dir dir;
    for (const char* name : {"file_log-hint", "file_log-no-hint", "file_log-torn-tail", "mmap_file-compacted"}) {
        INFO("fixture " << name);
        const std::string path = copy_of_fixture(dir, name);
        const fs::path manifest = fs::path(path) / "MANIFEST";
        REQUIRE_FALSE(fs::exists(manifest));
        const auto before = kvforge_test::tree(path);
        {
            kvforge::options read_only;
            read_only.read_only = true;
            store_type db(path, read_only);
            CHECK(contents_of(db) == kvforge_fixture::expected_contents());
        }
        CHECK(kvforge_test::tree(path) == before);  // not a byte changed, no MANIFEST written

        {
            store_type db(path);
            CHECK(contents_of(db) == kvforge_fixture::expected_contents());
        }
        kvforge::composition recorded;
        std::string problem;
        REQUIRE(kvforge::detail::parse_manifest(kvforge_test::read_file(manifest), recorded, problem));
        CHECK(recorded.format == 1);
        CHECK(recorded.store == "mmap_file");
        CHECK(recorded.index == "sorted_index");
        CHECK(recorded.durability == "buffered");
        CHECK(recorded.key_codec == "bytes");
        CHECK(recorded.value_codec == "bytes");
        CHECK(recorded.codec_fingerprint == kvforge::detail::codec_fingerprint("bytes", "bytes"));
        CHECK(recorded.expiry == "none");
        CHECK(recorded.compression == "none");

        // Upgraded, the store opens as before, and the MANIFEST now binds its codecs.
        store_type db(path);
        CHECK(contents_of(db) == kvforge_fixture::expected_contents());
        db.close();
        kvforge::store<std::string, std::uint64_t, kvforge::file_log> other;
        std::error_code ec;
        other.open(path, {}, {}, ec);
        CHECK(ec == kvforge::errc::codec_mismatch);
        CHECK_THAT(kvforge::last_error_message(), Catch::Contains("written with 'bytes', opened with 'uint64.be'"));
    }
}

TEST_CASE("a format 1 store with integer keys records its codecs at the upgrade", "[upgrade]") {
    temp_dir dir;
    const std::string path = copy_of_fixture(dir, "integer-keys");
    { kvforge::store<std::uint64_t, std::string, kvforge::file_log> db(path); }
    kvforge::composition recorded;
    std::string problem;
    REQUIRE(kvforge::detail::parse_manifest(kvforge_test::read_file(fs::path(path) / "MANIFEST"), recorded, problem));
    CHECK(recorded.key_codec == "uint64.be");
    CHECK(recorded.value_codec == "bytes");
}
