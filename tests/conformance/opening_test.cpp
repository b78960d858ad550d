// Opening a store as users of other stores expect, on every configuration with files:
// options::create_if_missing, options::error_if_exists, options::read_only (any number
// of readers, in this process and others, beside one writer; two writers exclude each
// other), and kvforge::destroy. A refused open or destroy, and a read-only store, change no file.

#include <catch2/catch.hpp>

#include <sys/wait.h>
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <limits>
#include <map>
#include <optional>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

#include "../support/directory_tree.hpp"
#include "../support/file_bytes.hpp"
#include "store_configs.hpp"

using namespace kvforge_test;
namespace fs = std::filesystem;

namespace {

constexpr int record_count = 50;

std::string record_key(int i) { return "key" + std::to_string(100 + i); }
std::string record_value(int i) { return "value " + std::to_string(i); }

/// Makes a store at path holding record_count records, and closes it.
template <class Store>
void make_store(const std::string& path) {
    Store db(path);
    for (int i = 0; i < record_count; ++i) db.put(record_key(i), record_value(i));
}

options create_if_missing(bool create) {
    options opts;
    opts.create_if_missing = create;
    return opts;
}

options error_if_exists() {
    options opts;
    opts.error_if_exists = true;
    return opts;
}

options read_only() {
    options opts;
    opts.read_only = true;
    return opts;
}

/// Opens path with opts through the error_code form; the code it reported.
template <class Store>
std::error_code open_error(const std::string& path, const options& opts) {
    Store db;
    std::error_code ec;
    db.open(path, opts, {}, ec);
    if (!ec) CHECK(db.is_open());
    return ec;
}

/// Checks that a store holds exactly what make_store wrote.
template <class Store>
void check_contents(const Store& db) {
    CHECK(db.size() == record_count);
    for (int i = 0; i < record_count; ++i) REQUIRE(db.get(record_key(i)) == std::optional<std::string>(record_value(i)));
}

/// What a child process saw: it opened the store and read a record, or was refused
/// with store_locked, or met something else.
enum child_result : int { opened = 0, locked = 1, other = 2 };

/// Runs open_and_read in a forked child; returns what it saw.
template <class Store>
child_result open_in_child(const std::string& path, const options& opts) {
    const pid_t child = ::fork();
    REQUIRE(child >= 0);
    if (child == 0) {
        int result = other;
        try {
            Store db;
            std::error_code ec;
            db.open(path, opts, {}, ec);
            if (ec == kvforge::errc::store_locked) {
                result = locked;
            } else if (!ec && db.get(record_key(7)) == std::optional<std::string>(record_value(7))) {
                result = opened;
            }
        } catch (...) {
        }
        std::_Exit(result);
    }
    int status = 0;
    REQUIRE(::waitpid(child, &status, 0) == child);
    REQUIRE(WIFEXITED(status));
    return static_cast<child_result>(WEXITSTATUS(status));
}

/// Runs kvforge::destroy in a forked child; returns whether it said store_locked.
child_result destroy_in_child(const std::string& path) {
    const pid_t child = ::fork();
    REQUIRE(child >= 0);
    if (child == 0) {
        std::error_code ec;
        kvforge::destroy(path, ec);
        std::_Exit(ec == kvforge::errc::store_locked ? locked : !ec ? opened : other);
    }
    int status = 0;
    REQUIRE(::waitpid(child, &status, 0) == child);
    REQUIRE(WIFEXITED(status));
    return static_cast<child_result>(WEXITSTATUS(status));
}

}  // namespace

TEMPLATE_LIST_TEST_CASE("create_if_missing = false opens only a store that exists", "[conformance][opening]",
                        all_configs) {
    if constexpr (has_files<TestType>) {
        temp_dir dir;
        const std::string path = dir / "db";
        const options opts = create_if_missing(false);

        CHECK(open_error<TestType>(path, opts) == kvforge::errc::store_not_found);
        CHECK_THAT(kvforge::last_error_message(), Catch::Contains(path) && Catch::Contains("nothing was changed"));
        CHECK(tree(dir.path()).empty());

        fs::create_directory(path);
        CHECK(open_error<TestType>(path, opts) == kvforge::errc::store_not_found);
        CHECK(tree(path).empty());

        make_store<TestType>(path);
        TestType db(path, opts);
        check_contents(db);
    }
}

TEMPLATE_LIST_TEST_CASE("error_if_exists refuses a store that exists and creates one that does not",
                        "[conformance][opening]", all_configs) {
    if constexpr (has_files<TestType>) {
        temp_dir dir;
        const std::string path = dir / "db";
        {
            TestType db(path, error_if_exists());
            db.put(record_key(7), record_value(7));
        }
        const auto before = tree(dir.path());
        CHECK(open_error<TestType>(path, error_if_exists()) == kvforge::errc::store_exists);
        CHECK_THAT(kvforge::last_error_message(), Catch::Contains(path) && Catch::Contains("error_if_exists"));
        CHECK(tree(dir.path()) == before);
        CHECK_THROWS_MATCHES(TestType(path, error_if_exists()), kvforge::error,
                             Catch::Predicate<kvforge::error>(
                                 [](const kvforge::error& e) { return e.code() == kvforge::errc::store_exists; }));
        // An empty directory holds no store yet.
        fs::create_directory(dir / "empty");
        CHECK_FALSE(open_error<TestType>(dir / "empty", error_if_exists()));
    }
}

TEMPLATE_LIST_TEST_CASE("a read-only store reads, refuses every write and changes no file", "[conformance][opening]",
                        all_configs) {
    if constexpr (has_files<TestType>) {
        temp_dir dir;
        const std::string path = dir / "db";
        make_store<TestType>(path);
        // No hint (a writer would write one at close) and a leftover (a writer would remove it).
        for (const auto& entry : fs::directory_iterator(path)) {
            if (entry.path().extension() == ".kvhint") fs::remove(entry.path());
        }
        write_file(path + "/data-0000000009.kvlog.tmp", "an interrupted compaction's file");
        const auto before = tree(dir.path());
        {
            TestType db(path, read_only());
            check_contents(db);
            CHECK(db.verify().ok());
            if constexpr (is_ordered<TestType>) {
                int seen = 0;
                for (auto&& [key, value] : db.scan()) {
                    CHECK(value == record_value(std::stoi(key.substr(3)) - 100));
                    ++seen;
                }
                CHECK(seen == record_count);
            }

            std::error_code ec;
            db.put("new", "value", ec);
            CHECK(ec == kvforge::errc::read_only);
            CHECK_THAT(kvforge::last_error_message(), Catch::Contains(path) && Catch::Contains("read_only"));
            CHECK_FALSE(db.erase(record_key(1), ec));
            CHECK(ec == kvforge::errc::read_only);
            typename TestType::batch_type batch;
            batch.put("new", "value");
            db.write(batch, ec);
            CHECK(ec == kvforge::errc::read_only);
            db.clear(ec);
            CHECK(ec == kvforge::errc::read_only);
            db.compact(ec);
            CHECK(ec == kvforge::errc::read_only);
            CHECK_THROWS_MATCHES(db.put("new", "value"), kvforge::error,
                                 Catch::Predicate<kvforge::error>(
                                     [](const kvforge::error& e) { return e.code() == kvforge::errc::read_only; }));
            db.flush(ec);
            CHECK_FALSE(ec);
            db.sync(ec);
            CHECK_FALSE(ec);
            check_contents(db);
            db.close(ec);
            CHECK_FALSE(ec);
        }
        CHECK(tree(dir.path()) == before);
    }
}

TEMPLATE_LIST_TEST_CASE("a read-only open of a torn log serves the intact records and leaves the tail",
                        "[conformance][opening]", all_configs) {
    if constexpr (has_files<TestType>) {
        temp_dir dir;
        const std::string path = dir / "db";
        make_store<TestType>(path);
        const std::string data = path + "/data-0000000001.kvlog";
        // A record cut short by a crash: the start of a put of "torn" with a long value.
        write_file(data, read_file(data) + std::string("\x12\x34\x56\x78\x01\x04\x20torn", 11));
        const auto before = tree(dir.path());
        {
            TestType db(path, read_only());
            check_contents(db);
            CHECK_FALSE(db.contains("torn"));
            CHECK(db.stats().recovered_bytes_cut == 0);  // nothing was cut
            // verify names the tail it left in place.
            const kvforge::verify_report report = db.verify();
            REQUIRE(report.damaged.size() == 1);
            CHECK(report.damaged.front().problem == "incomplete record at the end of the file");
        }
        CHECK(tree(dir.path()) == before);
        // A writer cuts it, and then verify finds nothing wrong.
        TestType db(path);
        check_contents(db);
        CHECK(db.stats().recovered_bytes_cut == 11);
        CHECK(db.verify().ok());
    }
}

TEMPLATE_LIST_TEST_CASE("read-only opens of a missing store are refused and create nothing", "[conformance][opening]",
                        all_configs) {
    if constexpr (has_files<TestType>) {
        temp_dir dir;
        const std::string path = dir / "db";
        CHECK(open_error<TestType>(path, read_only()) == kvforge::errc::store_not_found);
        CHECK(tree(dir.path()).empty());
        fs::create_directory(path);
        CHECK(open_error<TestType>(path, read_only()) == kvforge::errc::store_not_found);
        write_file(path + "/LOCK", "");
        CHECK(open_error<TestType>(path, read_only()) == kvforge::errc::store_not_found);
        CHECK(tree(path) == std::map<std::string, std::string>{{"LOCK", ""}});
    }
}

TEMPLATE_LIST_TEST_CASE("options out of their range are refused, and the open creates nothing",
                        "[conformance][opening]", all_configs) {
    if constexpr (has_files<TestType>) {
        constexpr std::uint64_t smallest = std::uint64_t{64} << 10;
        constexpr std::uint64_t largest = kvforge::detail::max_segment_bytes;
        constexpr double nan = std::numeric_limits<double>::quiet_NaN();
        temp_dir dir;
        const std::string path = dir / "db";
        std::vector<std::pair<options, std::string>> refused;
        for (const std::uint64_t size : {std::uint64_t{0}, std::uint64_t{4096}, smallest - 1, largest + 1}) {
            refused.emplace_back(options{}, "options::segment_bytes is " + std::to_string(size) + ";");
            refused.back().first.segment_bytes = size;
        }
        for (const auto& [ratio, written] : {std::pair{-0.1, "-0.1"}, {1.5, "1.5"}, {nan, "nan"}}) {
            refused.emplace_back(options{}, std::string("options::compact_dead_ratio is ") + written + ";");
            refused.back().first.compact_dead_ratio = ratio;
        }
        for (const auto& [ratio, written] : {std::pair{-1.0, "-1"}, {nan, "nan"}}) {
            refused.emplace_back(options{}, std::string("options::compaction_stall_ratio is ") + written + ";");
            refused.back().first.compaction_stall_ratio = ratio;
        }
        for (const auto& [opts, message] : refused) {
            INFO(message);
            TestType db;
            std::error_code ec;
            db.open(path, opts, {}, ec);
            CHECK(ec == kvforge::errc::invalid_argument);
            CHECK_THAT(kvforge::last_error_message(), Catch::Contains(message));
            CHECK_FALSE(db.is_open());
            CHECK(tree(dir.path()).empty());
        }
        // Each end of each range opens, and holds what it is given.
        std::vector<options> accepted(6);
        accepted[0].segment_bytes = smallest;
        accepted[1].segment_bytes = largest;
        accepted[2].compact_dead_ratio = 0;
        accepted[3].compact_dead_ratio = 1;
        accepted[4].compaction_stall_ratio = 0;
        accepted[5].compaction_stall_ratio = std::numeric_limits<double>::infinity();
        for (const options& opts : accepted) {
            {
                TestType db(path, opts);
                for (int i = 0; i < record_count; ++i) db.put(record_key(i), record_value(i));
            }
            TestType db(path, opts);
            check_contents(db);
        }
    }
}

TEMPLATE_LIST_TEST_CASE("readers open beside a writer, and writers exclude each other, within one process",
                        "[conformance][opening]", all_configs) {
    if constexpr (has_files<TestType>) {
        temp_dir dir;
        const std::string path = dir / "db";
        make_store<TestType>(path);
        {
            TestType first(path, read_only());
            TestType second(path, read_only());
            check_contents(first);
            check_contents(second);
            // A writer opens while readers hold the store; a second writer does not.
            TestType writer(path);
            check_contents(writer);
            CHECK(open_error<TestType>(path, {}) == kvforge::errc::store_locked);
            CHECK_THAT(kvforge::last_error_message(), Catch::Contains("already open for writing"));
            TestType third(path, read_only());
            check_contents(third);
        }
        const auto before = tree(path);
        { TestType reader(path, read_only()); }
        CHECK(tree(path) == before);
    }
}

TEMPLATE_LIST_TEST_CASE("readers in other processes open beside a writer, and writers exclude each other",
                        "[conformance][opening]", all_configs) {
    if constexpr (has_files<TestType>) {
        temp_dir dir;
        const std::string path = dir / "db";
        make_store<TestType>(path);
        {
            TestType reader(path, read_only());
            CHECK(open_in_child<TestType>(path, read_only()) == opened);
            CHECK(open_in_child<TestType>(path, {}) == opened);
            check_contents(reader);
        }
        {
            TestType writer(path);
            CHECK(open_in_child<TestType>(path, read_only()) == opened);
            CHECK(open_in_child<TestType>(path, {}) == locked);
            CHECK(destroy_in_child(path) == locked);
        }
        CHECK(open_in_child<TestType>(path, read_only()) == opened);
        CHECK(open_in_child<TestType>(path, {}) == opened);
    }
}

TEMPLATE_LIST_TEST_CASE("destroy removes a closed store's own files and its directory, and refuses the rest",
                        "[conformance][opening]", all_configs) {
    if constexpr (has_files<TestType>) {
        temp_dir dir;
        const std::string path = dir / "db";
        make_store<TestType>(path);
        write_file(path + "/data-0000000002.kvlog.tmp", "an interrupted compaction's file");

        SECTION("a closed store") {
            std::error_code ec;
            kvforge::destroy(path, ec);
            CHECK_FALSE(ec);
            CHECK_FALSE(fs::exists(path));
            CHECK(tree(dir.path()).empty());
            // Nothing is left to destroy, or to open without creating.
            kvforge::destroy(path, ec);
            CHECK(ec == kvforge::errc::store_not_found);
            CHECK(open_error<TestType>(path, create_if_missing(false)) == kvforge::errc::store_not_found);
            CHECK_FALSE(open_error<TestType>(path, error_if_exists()));
        }
        SECTION("an open store") {
            {
                TestType db(path);
                const auto before = tree(dir.path());
                CHECK_THROWS_MATCHES(kvforge::destroy(path), kvforge::error,
                                     Catch::Predicate<kvforge::error>([](const kvforge::error& e) {
                                         return e.code() == kvforge::errc::store_locked;
                                     }));
                CHECK(tree(dir.path()) == before);
                check_contents(db);
            }
            // A reader holds no lock: destroy removes the files, and the reader goes on
            // reading them through its open descriptors.
            TestType db(path, read_only());
            std::error_code ec;
            kvforge::destroy(path, ec);
            CHECK_FALSE(ec);
            CHECK_FALSE(fs::exists(path));
            check_contents(db);
        }
        SECTION("a store holding a file kvforge did not write") {
            // The store's own files go; the user's file, and so the directory, stay.
            write_file(path + "/notes.txt", "the user's");
            std::error_code ec;
            kvforge::destroy(path, ec);
            CHECK_FALSE(ec);
            CHECK(fs::exists(path));
            std::vector<std::string> left;
            for (const auto& entry : fs::directory_iterator(path)) left.push_back(entry.path().filename().string());
            CHECK(left == std::vector<std::string>{"notes.txt"});
            CHECK(read_file(path + "/notes.txt") == "the user's");
        }
        SECTION("a path that is no store") {
            std::error_code ec;
            kvforge::destroy(dir / "missing", ec);
            CHECK(ec == kvforge::errc::store_not_found);
            kvforge::destroy("", ec);
            CHECK(ec == kvforge::errc::invalid_argument);
            CHECK(fs::exists(path + "/LOCK"));
        }
    }
}
