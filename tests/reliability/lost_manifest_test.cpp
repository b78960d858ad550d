// A store's MANIFEST alone says whether each value starts with an expiry header (or a
// compression flag: compression/compressed_lost_manifest_test.cpp). A format 2 store
// whose MANIFEST is lost is refused by every open, naming the file and the way out,
// and changes no file; it is never read under a guessed composition, and no open
// writes a MANIFEST for it. The data files' headers record the expiry and compression,
// so that the MANIFEST can be rebuilt (`kvforge repair`).

#include <catch2/catch.hpp>

#include <kvforge/kvforge.hpp>

#include <chrono>
#include <filesystem>
#include <optional>
#include <string>
#include <system_error>

#include "../support/directory_tree.hpp"
#include "../support/file_bytes.hpp"
#include "../support/temp_dir.hpp"

namespace fs = std::filesystem;
using kvforge_test::read_file;
using kvforge_test::temp_dir;
using kvforge_test::tree;

namespace {

using plain_store = kvforge::store<std::string, std::string, kvforge::file_log>;
using expiring_store = kvforge::store<std::string, std::string, kvforge::file_log, kvforge::expiring<>>;

/// Opens path with Store and opts; returns the error (none when it opened).
template <class Store>
std::error_code open_error(const std::string& path, const kvforge::options& opts = {}) {
    Store db;
    std::error_code ec;
    db.open(path, opts, {}, ec);
    return ec;
}

}  // namespace

TEST_CASE("an expiring store whose MANIFEST is lost is refused by every open, unchanged", "[manifest][reliability]") {
    temp_dir dir;
    const std::string path = dir / "store";
    {
        expiring_store db(path);
        db.put("hello", "world");
        db.put("later", "value", std::chrono::hours(1));
    }
    fs::remove(path + "/MANIFEST");
    const auto files = tree(path);

    kvforge::options read_only;
    read_only.read_only = true;
    for (const bool as_plain : {true, false}) {
        for (const kvforge::options& opts : {kvforge::options{}, read_only}) {
            INFO((as_plain ? "plain" : "expiring") << (opts.read_only ? ", read-only" : ""));
            const std::error_code ec =
                as_plain ? open_error<plain_store>(path, opts) : open_error<expiring_store>(path, opts);
            CHECK(ec == kvforge::errc::corrupt_header);
            CHECK_THAT(kvforge::last_error_message(),
                       Catch::Contains(path + "/MANIFEST is missing") && Catch::Contains("data-0000000001.kvlog") &&
                           Catch::Contains("kvforge repair " + path));
            CHECK(tree(path) == files);
        }
    }
    // A plain store of format 2 with a lost MANIFEST is refused too: nothing says it was plain.
    const std::string other = dir / "plain";
    {
        plain_store db(other);
        db.put("hello", "world");
    }
    fs::remove(other + "/MANIFEST");
    CHECK(open_error<plain_store>(other) == kvforge::errc::corrupt_header);
    CHECK_FALSE(fs::exists(other + "/MANIFEST"));
}

TEST_CASE("a store whose data files hold no record yet opens without a MANIFEST and gets one",
          "[manifest][reliability]") {
    // What a crash while the store was made leaves: its first data file, holding only its header.
    temp_dir dir;
    const std::string path = dir / "store";
    { expiring_store db(path); }
    fs::remove(path + "/MANIFEST");
    {
        expiring_store db(path);
        db.put("hello", "world");
    }
    CHECK(fs::exists(path + "/MANIFEST"));
    CHECK(expiring_store(path).get("hello") == std::optional<std::string>("world"));
}

TEST_CASE("data file headers record the store's expiry and compression", "[manifest][reliability]") {
    temp_dir dir;
    const std::string path = dir / "store";
    {
        expiring_store db(path);
        db.put("hello", "world");
    }
    const std::string bytes = read_file(path + "/data-0000000001.kvlog");
    kvforge::detail::file_header header;
    REQUIRE(kvforge::detail::file_header::decode(bytes, kvforge::detail::file_kind::data, header) ==
            kvforge::detail::file_header::problem::none);
    const std::string manifest = read_file(path + "/MANIFEST");
    kvforge::composition recorded;
    std::string problem;
    REQUIRE(kvforge::detail::parse_manifest(manifest, recorded, problem));
    CHECK(recorded.expiry != "none");
    CHECK(header.layers == kvforge::detail::layers_fingerprint(recorded.expiry, recorded.compression));
    CHECK(header.layers != kvforge::detail::layers_fingerprint("none", "none"));
}

TEST_CASE("another store's MANIFEST put in place of a store's own is refused, not read under it",
          "[manifest][reliability]") {
    temp_dir dir;
    const std::string plain_path = dir / "plain";
    const std::string expiring_path = dir / "expiring";
    {
        plain_store plain(plain_path);
        plain.put("hello", "world");
        expiring_store expiring(expiring_path);
        expiring.put("other", "value");
    }
    // The expiring store's MANIFEST over the plain one's: an expiring open would read each
    // value's first byte as an expiry header.
    fs::copy_file(expiring_path + "/MANIFEST", plain_path + "/MANIFEST", fs::copy_options::overwrite_existing);
    const auto files = tree(plain_path);
    CHECK(open_error<expiring_store>(plain_path) == kvforge::errc::codec_mismatch);
    CHECK_THAT(kvforge::last_error_message(),
               Catch::Contains("data-0000000001.kvlog: written with another expiry or compression"));
    CHECK(tree(plain_path) == files);
}
