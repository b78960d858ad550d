// The bad input catalogue, in one place: every input kvforge refuses, with the error it
// documents (error.hpp, docs/guide.md, docs/format.md), a message that says what and where,
// and, for a refused open, every file under the test's directory left byte for byte as
// it was, with nothing created. Beside them, the awkward inputs it must accept: the
// empty key and value, keys and values at their size limits, NUL and non-UTF-8 bytes,
// a stale lock. Foreign files in the store's directory are in foreign_files_test.cpp.
//
// Opens run on file_log and mmap_file; keys and values on memory too.

#include <catch2/catch.hpp>

#include <kvforge/kvforge.hpp>

#include <sys/wait.h>
#include <unistd.h>

#include <csignal>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <system_error>
#include <vector>

#include "../support/directory_tree.hpp"
#include "../support/file_bytes.hpp"
#include "../support/temp_dir.hpp"

namespace fs = std::filesystem;
using namespace std::string_literals;
using kvforge_test::temp_dir;

namespace {

using kvforge_test::read_file;
using kvforge_test::tree;
using kvforge_test::write_file;

template <class Store>
using sorted_sync_store = kvforge::store<std::string, std::string, Store, kvforge::sorted_index, kvforge::sync_each>;

/// The data file of a store's first generation.
constexpr const char* first_data_file = "data-0000000001.kvlog";

/// Makes a store at path holding one record, and closes it.
template <class Store>
void write_one_record(const std::string& path) {
    Store db(path);
    db.put("key", "value");
}

/// Makes a store in dir/db holding one record; returns its path.
template <class Store>
std::string existing_store(const temp_dir& dir) {
    write_one_record<Store>(dir / "db");
    return dir / "db";
}

/// Sets byte `offset` of a data file's header to `byte` and fixes the header's
/// checksum, so that the changed field itself is what the reader sees.
void patch_header(const fs::path& data, std::size_t offset, char byte) {
    std::string bytes = read_file(data);
    bytes[offset] = byte;
    const std::uint32_t crc = kvforge::detail::crc32c(std::string_view(bytes).substr(0, 28));
    for (int i = 0; i < 4; ++i) bytes[28 + i] = static_cast<char>(crc >> (8 * i));
    write_file(data, bytes);
}

/// A child process holding a store open. It dies by SIGKILL, never closing the store,
/// when this object goes away: as a crashed owner would.
class store_held_elsewhere {
public:
    template <class Store>
    static std::shared_ptr<store_held_elsewhere> start(const std::string& path) {
        int ready[2];
        int release[2];
        REQUIRE(::pipe(ready) == 0);
        REQUIRE(::pipe(release) == 0);
        const pid_t child = ::fork();
        REQUIRE(child >= 0);
        if (child == 0) {
            Store db(path);
            db.put("owner", "child");  // sync_each: on disk when put returns
            char byte = 1;
            if (::write(ready[1], &byte, 1) != 1) std::_Exit(2);
            if (::read(release[0], &byte, 1) < 0) std::_Exit(2);  // hold the store until killed
            std::_Exit(0);
        }
        auto held = std::make_shared<store_held_elsewhere>(child, release[1]);
        ::close(ready[1]);
        ::close(release[0]);
        char byte = 0;
        REQUIRE(::read(ready[0], &byte, 1) == 1);
        ::close(ready[0]);
        return held;
    }

    store_held_elsewhere(pid_t child, int release) : child_(child), release_(release) {}
    store_held_elsewhere(const store_held_elsewhere&) = delete;
    store_held_elsewhere& operator=(const store_held_elsewhere&) = delete;
    ~store_held_elsewhere() {
        ::kill(child_, SIGKILL);
        int status = 0;
        ::waitpid(child_, &status, 0);
        ::close(release_);
    }

private:
    pid_t child_;
    int release_;
};

/// An input that makes open fail.
struct refused_open {
    const char* input;
    /// A system error as the portable std::errc condition (whatever category reports
    /// it), a kvforge error exactly.
    std::error_condition expected;
    const char* detail;  ///< words the message must contain
    /// Makes the input under the directory; returns the path to open. What must stay
    /// alive while the open is tried (a holder of the lock) goes in keep.
    std::function<std::string(const temp_dir&, std::shared_ptr<void>& keep)> prepare;
    bool unprivileged = false;  ///< try the open as a user without root's power over permissions
};

/// The condition a kvforge error code compares equal to: its own, in kvforge's category.
std::error_condition kvforge_error(kvforge::errc e) { return std::error_code(e).default_error_condition(); }

template <class Store>
std::vector<refused_open> refused_opens() {
    using other_codecs = kvforge::store<std::uint64_t, std::string, typename Store::store_policy, kvforge::sync_each>;
    return {
        {"a path whose parent directory is missing", std::errc::no_such_file_or_directory,
         "parent directory does not exist", [](const temp_dir& dir, auto&) { return dir / "missing/db"; }},
        {"a path that is a regular file", std::errc::not_a_directory, "is not a directory",
         [](const temp_dir& dir, auto&) {
             write_file(dir / "file", "not a directory");
             return dir / "file";
         }},
        {"a read-only directory", std::errc::permission_denied, "LOCK",
         [](const temp_dir& dir, auto&) {
             fs::create_directory(dir / "ro");
             // Others may enter the test's directory: an unprivileged child opens it when run as root.
             fs::permissions(dir.path(), fs::perms::owner_all | fs::perms::others_read | fs::perms::others_exec);
             fs::permissions(dir / "ro", fs::perms::owner_read | fs::perms::owner_exec | fs::perms::others_read |
                                             fs::perms::others_exec);
             return dir / "ro";
         },
         true},
        {"a directory that is no store, holding a file kvforge did not write",
         kvforge_error(kvforge::errc::not_a_store), "'notes.txt', which kvforge did not write",
         [](const temp_dir& dir, auto&) {
             const std::string path = dir / "users";
             fs::create_directory(path);
             write_file(path + "/notes.txt", "the user's");
             return path;
         }},
        {"a data file with the wrong magic", kvforge_error(kvforge::errc::not_a_store), "magic",
         [](const temp_dir& dir, auto&) {
             const std::string path = existing_store<Store>(dir);
             write_file(path + "/" + first_data_file, std::string(64, 'x'));
             return path;
         }},
        {"a data file of a newer format version", kvforge_error(kvforge::errc::unsupported_version), "format version 3",
         [](const temp_dir& dir, auto&) {
             const std::string path = existing_store<Store>(dir);
             patch_header(path + "/" + first_data_file, 8, 3);
             return path;
         }},
        {"a data file with header flags this version does not know", kvforge_error(kvforge::errc::unsupported_version),
         "flags",
         [](const temp_dir& dir, auto&) {
             const std::string path = existing_store<Store>(dir);
             patch_header(path + "/" + first_data_file, 10, 1);
             return path;
         }},
        {"an emptied data file, its hint there", kvforge_error(kvforge::errc::corrupt_record),
         "is empty, though its hint data-0000000001.kvhint lists its records",
         [](const temp_dir& dir, auto&) {
             const std::string path = existing_store<Store>(dir);
             fs::resize_file(path + "/" + first_data_file, 0);
             return path;
         }},
        {"a data file cut inside its header", kvforge_error(kvforge::errc::corrupt_header), "20 bytes",
         [](const temp_dir& dir, auto&) {
             const std::string path = existing_store<Store>(dir);
             fs::resize_file(path + "/" + first_data_file, 20);
             return path;
         }},
        {"a header that fails its checksum", kvforge_error(kvforge::errc::corrupt_header), "checksum",
         [](const temp_dir& dir, auto&) {
             const std::string path = existing_store<Store>(dir);
             std::string bytes = read_file(path + "/" + first_data_file);
             bytes[20] ^= 0x10;
             write_file(path + "/" + first_data_file, bytes);
             return path;
         }},
        {"a store written with other key or value types", kvforge_error(kvforge::errc::codec_mismatch), "codecs",
         [](const temp_dir& dir, auto&) {
             other_codecs(dir / "db").put(7, "value");
             return dir / "db";
         }},
        {"a store another object of this process has open", kvforge_error(kvforge::errc::store_locked), "already open",
         [](const temp_dir& dir, std::shared_ptr<void>& keep) {
             const std::string path = existing_store<Store>(dir);
             keep = std::make_shared<Store>(path);
             return path;
         }},
        {"a store another process has open", kvforge_error(kvforge::errc::store_locked), "already open",
         [](const temp_dir& dir, std::shared_ptr<void>& keep) {
             keep = store_held_elsewhere::start<Store>(dir / "db");
             return dir / "db";
         }},
    };
}

/// What one open attempt reported, through both forms of open.
struct open_outcome {
    bool opened = false;
    std::error_code code;    ///< from open(path, ec)
    std::string message;     ///< kvforge::last_error_message() after it
    std::error_code thrown;  ///< from the throwing constructor
    std::string what;
};

template <class Store>
open_outcome try_open(const std::string& path) {
    open_outcome outcome;
    Store db;
    db.open(path, outcome.code);
    outcome.opened = db.is_open();
    outcome.message = kvforge::last_error_message();
    try {
        Store again(path);
        outcome.opened = true;
    } catch (const kvforge::error& e) {
        outcome.thrown = e.code();
        outcome.what = e.what();
    }
    return outcome;
}

/// Runs try_open in a child that has given up root's privileges (so that permissions
/// bind it), and returns what it saw. Without root, runs it here.
template <class Store>
open_outcome try_open_unprivileged(const std::string& path) {
    if (::getuid() != 0) return try_open<Store>(path);
    int channel[2];
    REQUIRE(::pipe(channel) == 0);
    const pid_t child = ::fork();
    REQUIRE(child >= 0);
    if (child == 0) {
        ::close(channel[0]);
        if (::setgid(65534) != 0 || ::setuid(65534) != 0) std::_Exit(2);
        const open_outcome seen = try_open<Store>(path);
        auto category = [](const std::error_code& ec) { return ec.category() == kvforge::error_category() ? 1 : 0; };
        const std::string report = std::to_string(seen.opened) + ' ' + std::to_string(seen.code.value()) + ' ' +
                                   std::to_string(category(seen.code)) + ' ' + std::to_string(seen.thrown.value()) +
                                   ' ' + std::to_string(category(seen.thrown)) + '\n' + seen.message + '\0' + seen.what;
        const bool sent = ::write(channel[1], report.data(), report.size()) == static_cast<ssize_t>(report.size());
        std::_Exit(sent ? 0 : 3);
    }
    ::close(channel[1]);
    std::string report;
    char buffer[4096];
    for (ssize_t n; (n = ::read(channel[0], buffer, sizeof buffer)) > 0;)
        report.append(buffer, static_cast<std::size_t>(n));
    ::close(channel[0]);
    int status = 0;
    REQUIRE(::waitpid(child, &status, 0) == child);
    REQUIRE(WIFEXITED(status));
    REQUIRE(WEXITSTATUS(status) == 0);

    open_outcome outcome;
    int opened = 0;
    int code = 0;
    int code_is_kvforge = 0;
    int thrown = 0;
    int thrown_is_kvforge = 0;
    REQUIRE(std::sscanf(report.c_str(), "%d %d %d %d %d", &opened, &code, &code_is_kvforge, &thrown,
                        &thrown_is_kvforge) == 5);
    auto category = [](int is_kvforge) -> const std::error_category& {
        return is_kvforge != 0 ? kvforge::error_category() : std::system_category();
    };
    outcome.opened = opened != 0;
    outcome.code = {code, category(code_is_kvforge)};
    outcome.thrown = {thrown, category(thrown_is_kvforge)};
    const std::size_t message_start = report.find('\n') + 1;
    const std::size_t what_start = report.find('\0', message_start);
    outcome.message = report.substr(message_start, what_start - message_start);
    outcome.what = report.substr(what_start + 1);
    return outcome;
}

}  // namespace

TEMPLATE_TEST_CASE("every refused open gives its documented error, says why, and changes no file", "[bad_input][open]",
                   sorted_sync_store<kvforge::file_log>, sorted_sync_store<kvforge::mmap_file>) {
    for (const refused_open& input : refused_opens<TestType>()) {
        INFO("input: " << input.input);
        temp_dir dir;
        std::shared_ptr<void> keep;
        const std::string path = input.prepare(dir, keep);
        const auto before = tree(dir.path());

        const open_outcome outcome =
            input.unprivileged ? try_open_unprivileged<TestType>(path) : try_open<TestType>(path);

        CHECK_FALSE(outcome.opened);
        CHECK(outcome.code == input.expected);
        CHECK(outcome.thrown == input.expected);
        CHECK_THAT(outcome.message, Catch::Contains(input.detail));
        CHECK_THAT(outcome.message, Catch::Contains(path));  // it names the store or a file in it
        CHECK_THAT(outcome.what, Catch::Contains(input.detail));
        CHECK(tree(dir.path()) == before);
        if (input.unprivileged) fs::permissions(path, fs::perms::owner_all);  // so that it can be removed
    }
}

TEMPLATE_TEST_CASE("a missing directory and a stale lock do not stop an open", "[bad_input][open]",
                   sorted_sync_store<kvforge::file_log>, sorted_sync_store<kvforge::mmap_file>) {
    temp_dir dir;
    const std::string path = dir / "db";

    SECTION("a missing store directory is created when its parent exists") {
        {
            TestType db(path);
            db.put("key", "value");
        }
        CHECK(fs::is_directory(path));
        CHECK(TestType(path).get("key") == std::optional<std::string>("value"));
    }
    SECTION("the owner died holding the lock") {
        write_one_record<TestType>(path);
        store_held_elsewhere::start<TestType>(path).reset();  // killed while open
        TestType db(path);
        CHECK(db.get("key") == std::optional<std::string>("value"));
        CHECK(db.get("owner") == std::optional<std::string>("child"));
    }
    SECTION("the lock was released by close in this process") {
        TestType first(path);
        first.put("key", "value");
        std::error_code ec;
        TestType second;
        second.open(path, ec);
        REQUIRE(ec == kvforge::errc::store_locked);
        first.close();
        second.open(path, ec);
        REQUIRE_FALSE(ec);
        CHECK(second.get("key") == std::optional<std::string>("value"));
    }
}

namespace {

/// A store under test for keys and values, reopened from its files when it has any.
template <class Store>
class reopenable {
public:
    reopenable() { open(); }
    Store& operator*() { return *db_; }
    Store* operator->() { return db_.get(); }
    void reopen() {
        if constexpr (Store::persistent) {
            db_.reset();
            open();
        }
    }
    /// The store's files as they are now (none for memory).
    std::map<std::string, std::string> files() const {
        if constexpr (Store::persistent) return tree(dir_ / "db");
        return {};
    }

private:
    void open() {
        if constexpr (Store::persistent) {
            db_ = std::make_unique<Store>(dir_ / "db");
        } else {
            db_ = std::make_unique<Store>();
        }
    }
    temp_dir dir_;
    std::unique_ptr<Store> db_;
};

}  // namespace

TEMPLATE_TEST_CASE("keys and values over their size limits are refused and change nothing", "[bad_input][limits]",
                   (kvforge::store<std::string, std::string, kvforge::memory, kvforge::sorted_index>),
                   sorted_sync_store<kvforge::file_log>, sorted_sync_store<kvforge::mmap_file>) {
    reopenable<TestType> db;
    db->put("kept", "as it was");
    const auto files = db.files();
    const std::string long_key(kvforge::max_key_size + 1, 'k');
    const std::string long_value(kvforge::max_value_size + 1, 'v');

    struct refused_write {
        const char* input;
        std::string key;
        std::string value;
        kvforge::errc expected;
        const char* limit;
    };
    for (const refused_write& input : {refused_write{"a key one byte over max_key_size", long_key, "v",
                                                     kvforge::errc::key_too_large, "kvforge::max_key_size"},
                                       refused_write{"a value one byte over max_value_size", "k", long_value,
                                                     kvforge::errc::value_too_large, "kvforge::max_value_size"}}) {
        INFO("input: " << input.input);
        std::error_code ec;
        db->put(input.key, input.value, ec);
        CHECK(ec == input.expected);
        CHECK_THAT(kvforge::last_error_message(),
                   Catch::Contains(input.limit) && Catch::Contains("nothing was written"));
        CHECK_THROWS_MATCHES(
            db->put(input.key, input.value), kvforge::error,
            Catch::Predicate<kvforge::error>([&](const kvforge::error& e) { return e.code() == input.expected; }));

        typename TestType::batch_type batch;
        batch.put("fine", "fine");
        batch.put(input.key, input.value, ec);
        CHECK(ec == input.expected);
        CHECK(batch.size() == 1);  // the refused put was not added
    }
    // A key over the limit can never have been written: lookups find nothing, without error.
    std::error_code ec;
    CHECK_FALSE(db->get(long_key, ec).has_value());
    CHECK_FALSE(ec);
    CHECK_FALSE(db->contains(long_key, ec));
    CHECK_FALSE(ec);
    CHECK_FALSE(db->erase(long_key, ec));
    CHECK_FALSE(ec);
    // ...but a batch refuses to carry its erase.
    typename TestType::batch_type batch;
    batch.erase(long_key, ec);
    CHECK(ec == kvforge::errc::key_too_large);

    CHECK(db->size() == 1);
    CHECK(db->get("kept") == std::optional<std::string>("as it was"));
    CHECK(db.files() == files);
    db.reopen();
    CHECK(db->size() == 1);
    CHECK(db->get("kept") == std::optional<std::string>("as it was"));
}

TEMPLATE_TEST_CASE("awkward keys and values are stored exactly and survive reopening", "[bad_input][limits]",
                   (kvforge::store<std::string, std::string, kvforge::memory, kvforge::sorted_index>),
                   sorted_sync_store<kvforge::file_log>, sorted_sync_store<kvforge::mmap_file>) {
    const std::map<std::string, std::string> records = {
        {"", "the empty key"},
        {"empty value", ""},
        {std::string(kvforge::max_key_size, 'k'), "a key of exactly max_key_size bytes"},
        {"largest value", std::string(kvforge::max_value_size, 'v')},
        {"\0"s, "a key that is one NUL byte"},
        {"nul\0inside"s, "\0value\0with NULs\0"s},
        {"nul", "a prefix of the key with a NUL after it"},
        {"\xff\xfe\x80 not UTF-8"s, "\xc3\x28 \xa0\xa1 \xf0\x28\x8c\x28"s},
        {"\xff"s, "\xff"s},
    };
    reopenable<TestType> db;
    for (const auto& [key, value] : records) db->put(key, value);

    auto check_records = [&] {
        CHECK(db->size() == records.size());
        for (const auto& [key, value] : records) {
            INFO("key of " << key.size() << " bytes");
            const auto read = db->get(key);
            REQUIRE(read.has_value());
            CHECK(read->size() == value.size());
            CHECK(*read == value);
        }
        // A sorted index orders keys by their bytes, unsigned: NUL first, 0xff last.
        std::vector<std::string> keys;
        for (auto&& [key, value] : db->scan()) keys.push_back(key);
        std::vector<std::string> expected;
        for (const auto& record : records) expected.push_back(record.first);
        CHECK(keys == expected);
        std::vector<std::string> with_prefix;
        for (auto&& [key, value] : db->scan_prefix("nul")) with_prefix.push_back(key);
        CHECK(with_prefix == std::vector<std::string>{"nul", "nul\0inside"s});
    };
    check_records();
    db.reopen();
    check_records();
}
