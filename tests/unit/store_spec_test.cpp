// Store specs: the words open_store knows, the errors for the ones it does not, for
// incomplete and contradictory specs, the manifest a bare path opens from, and
// composition lists narrowed to what a program names.

#include <catch2/catch.hpp>

#include <kvforge/kvforge.hpp>

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#include "../support/file_bytes.hpp"
#include "../support/open_store_once.hpp"
#include "../support/temp_dir.hpp"

namespace fs = std::filesystem;
using kvforge_test::temp_dir;

namespace {

/// The message open_store gives for spec, which must fail with code.
std::string refusal(const std::string& spec, std::error_code code) {
    std::error_code ec;
    const auto db = kvforge::open_store<std::string, std::string>(spec, ec);
    INFO("spec '" << spec << "'");
    CHECK(ec == code);
    CHECK_FALSE(db.is_open());
    return kvforge::last_error_message();
}

std::string invalid(const std::string& spec) { return refusal(spec, make_error_code(kvforge::errc::invalid_argument)); }

/// Writes a MANIFEST into directory, as the engine does, for a store of string keys and values.
void write_manifest(const fs::path& directory, const std::string& store, const std::string& index,
                    const std::string& durability, const std::string& compression = "none") {
    kvforge::composition c;
    c.format = 1;
    c.store = store;
    c.index = index;
    c.durability = durability;
    c.key_codec = "bytes";
    c.value_codec = "bytes";
    c.codec_fingerprint = kvforge::detail::codec_fingerprint("bytes", "bytes");
    c.compression = compression;
    kvforge_test::write_file(directory / "MANIFEST", kvforge::detail::format_manifest(c));
}

}  // namespace

TEST_CASE("specs name their policies by name or short name, in any order", "[store_spec]") {
    temp_dir dir;
    const std::string path = dir / "users";
    CHECK(kvforge::open_store<std::string, std::string>("sorted,mt,memory").spec() ==
          "memory,sorted_index,thread_safe");
    CHECK(kvforge::open_store<std::string, std::string>(" memory , hash ").spec() == "memory,hash_index,single_thread");
    CHECK(kvforge::open_store<std::string, std::string>("sorted").spec() == "memory,sorted_index,single_thread");
    CHECK(kvforge::open_store<std::string, std::string>("sync,mmap,sorted_index:" + path).spec() ==
          "mmap_file,sorted_index,sync_each,single_thread:" + path);
    // Kinds left out take kvforge's defaults: file_log for a path, hash_index, buffered,
    // single_thread (for new stores: a store's MANIFEST is preferred, see below).
    const std::string first = dir / "first";
    const std::string second = dir / "second";
    const std::string third = dir / "third";
    CHECK(kvforge::open_store<std::string, std::string>("sorted:" + first).spec() ==
          "file_log,sorted_index,buffered,single_thread:" + first);
    CHECK(kvforge::open_store<std::string, std::string>(":" + second).spec() ==
          "file_log,hash_index,buffered,single_thread:" + second);
    CHECK(kvforge::open_store<std::string, std::string>(third).spec() ==
          "file_log,hash_index,buffered,single_thread:" + third);
}

TEST_CASE("everything after the first colon is the path, as it is", "[store_spec]") {
    temp_dir dir;
    const std::string odd = dir / "a,b:c";
    auto db = kvforge::open_store<std::string, std::string>("file_log:" + odd);
    db.put("k", "v");
    db.close();
    CHECK(fs::is_directory(odd));
    CHECK(kvforge::open_store<std::string, std::string>(":" + odd).get("k") == std::optional<std::string>("v"));
}

TEST_CASE("a word kvforge does not know is named, with the words it knows", "[store_spec]") {
    const std::string message = invalid("file_log,sortd,sync_each:data/users");
    CHECK_THAT(message, Catch::Contains("store spec 'file_log,sortd,sync_each:data/users'") &&
                            Catch::Contains("unknown word 'sortd'") &&
                            Catch::Contains("index: hash_index (or hash), sorted_index (or sorted)") &&
                            Catch::Contains("store: memory, file_log, mmap_file (or mmap)"));
    CHECK_THAT(invalid("memroy,hash"), Catch::Contains("unknown word 'memroy' (did you mean 'memory'?)"));
    CHECK_THAT(invalid("Memory"), Catch::Contains("unknown word") || Catch::Contains("not a word"));
    // A lone word that looks like a misspelt policy is not taken for a directory name.
    CHECK_THAT(invalid("memroy"), Catch::Contains("did you mean 'memory'") && Catch::Contains("'./memroy'"));
    CHECK_THAT(invalid("file_lgo"), Catch::Contains("did you mean 'file_log'"));
}

TEST_CASE("incomplete and contradictory specs are refused, naming the fix", "[store_spec]") {
    CHECK_THAT(invalid(""), Catch::Contains("empty"));
    CHECK_THAT(invalid("   "), Catch::Contains("empty"));
    CHECK_THAT(invalid("file_log,,sorted:x"), Catch::Contains("an empty word"));
    CHECK_THAT(invalid("file_log:"), Catch::Contains("nothing after ':'"));
    CHECK_THAT(invalid("hash,sorted"), Catch::Contains("names two index policies, 'hash_index' and 'sorted_index'"));
    CHECK_THAT(invalid("memory,file_log:x"), Catch::Contains("names two store policies"));
    CHECK_THAT(invalid("memory,sync_each"),
               Catch::Contains("memory keeps nothing on disk, so it takes no durability policy"));
    CHECK_THAT(invalid("memory:data/users"), Catch::Contains("memory has no files, so it takes no path"));
    CHECK_THAT(invalid("file_log,sorted"), Catch::Contains("incomplete: file_log keeps its records in a directory") &&
                                               Catch::Contains("'file_log,sorted:data/users'"));
    CHECK_THAT(invalid("sync_each"), Catch::Contains("incomplete: 'sync_each' is a durability policy"));
    // The same policy twice, by both its names, is no contradiction.
    CHECK(kvforge::open_store<std::string, std::string>("sorted,sorted_index").ordered());
}

TEST_CASE("a bare path opens a store as its manifest says", "[store_spec][manifest]") {
    temp_dir dir;
    const fs::path path = dir / "users";
    {
        auto db = kvforge::open_store<std::string, std::string>("mmap_file,sorted,sync_each:" + path.string());
        db.put("alice", "admin");
    }
    write_manifest(path, "mmap_file", "sorted_index", "sync_each");
    {
        auto db = kvforge::open_store<std::string, std::string>(path.string());
        CHECK(db.spec() == "mmap_file,sorted_index,sync_each,single_thread:" + path.string());
        CHECK(db.composition().format == 1);
        CHECK(db.get("alice") == std::optional<std::string>("admin"));
    }
    // Store, index and durability do not bind: the spec's words win over the manifest's.
    {
        auto db = kvforge::open_store<std::string, std::string>("hash,mt:" + path.string());
        CHECK(db.spec() == "mmap_file,hash_index,sync_each,thread_safe:" + path.string());
        CHECK(db.get("alice") == std::optional<std::string>("admin"));
    }
    // That writable open recorded its composition: the words left out now come from it.
    {
        auto db = kvforge::open_store<std::string, std::string>("file_log,buffered:" + path.string());
        CHECK(db.spec() == "file_log,hash_index,buffered,single_thread:" + path.string());
    }
    CHECK(kvforge::open_store<std::string, std::string>(path.string()).spec() ==
          "file_log,hash_index,buffered,single_thread:" + path.string());
}

TEST_CASE("a spec or types that contradict a manifest's binding fields fail naming both sides",
          "[store_spec][manifest]") {
    temp_dir dir;
    const fs::path path = dir / "users";
    kvforge::open_store<std::string, std::string>("file_log:" + path.string()).put("k", "v");
    write_manifest(path, "file_log", "hash_index", "buffered");

    std::error_code ec;
    auto numbers = kvforge::open_store<std::uint64_t, std::string>(path.string(), ec);
    CHECK(ec == kvforge::errc::codec_mismatch);
    CHECK_FALSE(numbers.is_open());
    CHECK_THAT(kvforge::last_error_message(),
               Catch::Contains((path / "MANIFEST").string()) &&
                   Catch::Contains("key codec: written with 'bytes', opened with 'uint64.be'"));

    write_manifest(path, "file_log", "hash_index", "buffered", "zstd");
    CHECK_THAT(refusal(path.string(), kvforge::errc::codec_mismatch),
               Catch::Contains("compression: written with 'zstd', opened with 'none'"));
}

TEST_CASE("a damaged manifest is refused, naming the file", "[store_spec][manifest]") {
    temp_dir dir;
    const fs::path path = dir / "users";
    kvforge::open_store<std::string, std::string>("file_log:" + path.string()).put("k", "v");
    write_manifest(path, "file_log", "hash_index", "buffered");
    std::string text = kvforge_test::read_file(path / "MANIFEST");
    text[30] ^= 0x20;
    kvforge_test::write_file(path / "MANIFEST", text);
    CHECK_THAT(refusal(path.string(), kvforge::errc::corrupt_header),
               Catch::Contains((path / "MANIFEST").string()) && Catch::Contains("fails its checksum"));
}

TEST_CASE("a format 1 store, with no manifest, opens with the spec's words or kvforge's defaults",
          "[store_spec][manifest]") {
    temp_dir dir;
    const fs::path path = dir / "fixture";
    fs::copy(fs::path(KVFORGE_FIXTURES_DIR) / "format1" / "mmap_file-compacted", path);
    REQUIRE_FALSE(fs::exists(path / "MANIFEST"));
    {
        auto db = kvforge::open_store<std::string, std::string>(path.string());
        CHECK(db.spec() == "file_log,hash_index,buffered,single_thread:" + path.string());
        CHECK(db.size() > 0);
    }
    auto db = kvforge::open_store<std::string, std::string>("mmap,sorted:" + path.string());
    CHECK(db.spec() == "mmap_file,sorted_index,buffered,single_thread:" + path.string());
    CHECK(db.verify().ok());
}

namespace {

/// An index policy of the user's, which joins the spec's words by its name.
struct user_index {
    using policy_kind = kvforge::policy_kind::index;
    using table = kvforge::detail::btree_table;
    static constexpr bool ordered = true;
    static constexpr std::string_view name = "user_index";
};

using narrowed = kvforge::composition_list<
    kvforge::policies<kvforge::memory, kvforge::sorted_index>,
    kvforge::policies<kvforge::file_log, kvforge::sorted_index, kvforge::sync_each, kvforge::thread_safe>,
    kvforge::policies<kvforge::memory, user_index>>;

}  // namespace

TEST_CASE("a narrowed composition list opens what it has, fills left-out kinds from it, and says what it lacks",
          "[store_spec]") {
    temp_dir dir;
    const std::string path = dir / "users";
    // Neither hash_index nor buffered is in the list: the one file_log composition is taken.
    CHECK(kvforge::open_store<std::string, std::string, narrowed>("file_log:" + path).spec() ==
          "file_log,sorted_index,sync_each,thread_safe:" + path);
    CHECK(kvforge::open_store<std::string, std::string, narrowed>("memory").spec() ==
          "memory,sorted_index,single_thread");
    CHECK(kvforge::open_store<std::string, std::string, narrowed>("memory,user_index").spec() ==
          "memory,user_index,single_thread");

    std::error_code ec;
    auto missing = kvforge::open_store<std::string, std::string, narrowed>("mmap_file:" + path, ec);
    CHECK(ec == kvforge::errc::invalid_argument);
    CHECK_THAT(kvforge::last_error_message(),
               Catch::Contains("no composition this program was built with has store 'mmap_file'") &&
                   Catch::Contains("file_log,sorted_index,sync_each,thread_safe"));
    // Words of kvforge's own policies stay known, so the message is about the list.
    auto hashed = kvforge::open_store<std::string, std::string, narrowed>("memory,hash", ec);
    CHECK(ec == kvforge::errc::invalid_argument);
    CHECK_THAT(kvforge::last_error_message(), Catch::Contains("no composition"));
    // The user's policy is a word only for a list that has it.
    auto unknown = kvforge::open_store<std::string, std::string>("memory,user_index", ec);
    CHECK(ec == kvforge::errc::invalid_argument);
    CHECK_THAT(kvforge::last_error_message(), Catch::Contains("unknown word 'user_index'"));
}

TEST_CASE("composition_product lists every combination once, memory without durability", "[store_spec]") {
    using product = kvforge::composition_product<kvforge::one_of<kvforge::memory, kvforge::file_log>,
                                                 kvforge::one_of<kvforge::sync_each, kvforge::buffered<>>>;
    STATIC_REQUIRE(std::is_same_v<product, kvforge::composition_list<
                                               kvforge::policies<kvforge::memory>,
                                               kvforge::policies<kvforge::file_log, kvforge::sync_each>,
                                               kvforge::policies<kvforge::file_log, kvforge::buffered<>>>>);
}

TEST_CASE("default_compositions, written out, is every store, index, durability and threading policy, and two "
          "expiring file stores",
          "[store_spec]") {
    using product = kvforge::composition_product<
        kvforge::one_of<kvforge::memory, kvforge::file_log, kvforge::mmap_file>,
        kvforge::one_of<kvforge::hash_index, kvforge::sorted_index>,
        kvforge::one_of<kvforge::buffered<>, kvforge::sync_each, kvforge::async_worker<>>,
        kvforge::one_of<kvforge::single_thread, kvforge::thread_safe>>;
    using expiring_file_stores =
        kvforge::composition_list<kvforge::policies<kvforge::file_log, kvforge::hash_index, kvforge::expiring<>>,
                                  kvforge::policies<kvforge::file_log, kvforge::sorted_index, kvforge::expiring<>>>;
    STATIC_REQUIRE(std::is_same_v<kvforge::default_compositions,
                                  kvforge::detail::concat_lists<product, expiring_file_stores>::type>);
}

namespace {

/// A kind of policy kvforge does not have yet, as expiry and compression will come: its
/// policies become words of an axis named as the kind.
struct expiry_kind {
    static constexpr std::string_view name = "expiry";
};
struct ttl_expiry {
    using policy_kind = expiry_kind;
    static constexpr std::string_view name = "ttl";
};

using with_expiry = kvforge::composition_list<kvforge::policies<kvforge::memory, kvforge::hash_index>,
                                              kvforge::policies<kvforge::memory, kvforge::hash_index, ttl_expiry>>;

}  // namespace

TEST_CASE("a policy of a new kind joins the spec's words as an axis of its own", "[store_spec]") {
    const std::vector<kvforge::detail::spec_word> words = kvforge::detail::vocabulary_of<with_expiry>::get();
    CHECK_THAT(kvforge::detail::describe_vocabulary(words),
               Catch::EndsWith("threading: single_thread (or st), thread_safe (or mt); expiry: expiring, ttl"));
    const std::vector<kvforge::detail::composition_words> entries = kvforge::detail::entries_of<with_expiry>::get();
    REQUIRE(entries.size() == 2);
    CHECK(kvforge::detail::words_of(entries[1]) == "memory,hash_index,single_thread,ttl");

    std::error_code ec;
    kvforge::detail::parsed_spec parsed;
    REQUIRE(kvforge::detail::parse_store_spec("ttl,memory", words, parsed, ec));
    CHECK(parsed.choice("expiry") == "ttl");
    const std::vector<std::pair<std::string_view, std::string_view>> defaults = {{"expiry", "none"}};
    CHECK(kvforge::detail::choose_composition("ttl,memory", parsed, entries, defaults, ec) == 1);
    REQUIRE(kvforge::detail::parse_store_spec("memory", words, parsed, ec));
    CHECK(kvforge::detail::choose_composition("memory", parsed, entries, defaults, ec) == 0);
    // A store whose manifest says it expires prefers the composition that does.
    const std::vector<std::pair<std::string_view, std::string_view>> from_manifest = {{"expiry", "ttl"}};
    CHECK(kvforge::detail::choose_composition("memory", parsed, entries, from_manifest, ec) == 1);
    CHECK_FALSE(ec);
}
