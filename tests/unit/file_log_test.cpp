// file_log specifics: the files it writes, bad input, the lock, damage and salvage.

#include <catch2/catch.hpp>

#include <kvforge/kvforge.hpp>

#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <csignal>
#include <cstring>
#include <memory>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <string>

#include "../support/temp_dir.hpp"

namespace fs = std::filesystem;
using kvforge_test::temp_dir;
using log_store = kvforge::store<std::string, std::string, kvforge::file_log, kvforge::sync_each>;

namespace {

std::string read_file(const fs::path& path) {
    std::ifstream in(path, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), {}};
}

void write_file(const fs::path& path, const std::string& bytes) {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out << bytes;
}

std::map<std::string, std::string> snapshot(const fs::path& directory) {
    std::map<std::string, std::string> files;
    for (const auto& entry : fs::directory_iterator(directory)) {
        files[entry.path().filename().string()] = read_file(entry.path());
    }
    return files;
}

fs::path data_file_of(const fs::path& directory) {
    for (const auto& entry : fs::directory_iterator(directory)) {
        if (entry.path().extension() == ".kvlog") return entry.path();
    }
    return {};
}

/// Opens a store expected to fail; returns the error and checks the directory is unchanged.
std::error_code open_fails(const std::string& path) {
    const bool existed = fs::exists(path);
    const auto before = existed && fs::is_directory(path) ? snapshot(path) : std::map<std::string, std::string>{};
    log_store db;
    std::error_code ec;
    db.open(path, ec);
    CHECK_FALSE(db.is_open());
    if (existed && fs::is_directory(path)) {
        auto after = snapshot(path);
        after.erase("LOCK");
        auto expected = before;
        expected.erase("LOCK");
        CHECK(after == expected);
    }
    return ec;
}

}  // namespace

TEST_CASE("a new store is a directory with a lock file and one data file of known bytes", "[file_log]") {
    temp_dir dir;
    {
        log_store db(dir / "db");
        db.put("k", "v");
    }
    const auto files = snapshot(dir / "db");
    REQUIRE(files.count("LOCK") == 1);
    REQUIRE(files.count("data-0000000001.kvlog") == 1);
    REQUIRE(files.count("data-0000000001.kvhint") == 1);
    const std::string& data = files.at("data-0000000001.kvlog");
    REQUIRE(data.size() == 32 + 4 + 1 + 1 + 1 + 1 + 1);
    CHECK(data.substr(0, 8) == "kvforgeL");
    CHECK(data[8] == 1);   // format version, little-endian
    CHECK(data[9] == 0);
    CHECK(data[36] == 1);  // record type: put
    CHECK(data.substr(37) == std::string("\x01\x01kv", 4));
}

TEST_CASE("bad input is refused with its documented error and changes no file", "[file_log][bad_input]") {
    temp_dir dir;

    SECTION("a missing parent directory") {
        const std::error_code ec = open_fails(dir / "missing/db");
        CHECK(ec == std::errc::no_such_file_or_directory);
        CHECK_THAT(kvforge::last_error_message(), Catch::Contains("parent directory does not exist"));
        CHECK_FALSE(fs::exists(dir / "missing"));
    }
    SECTION("a path that is a regular file") {
        write_file(dir / "file", "not a directory");
        const std::error_code ec = open_fails(dir / "file");
        CHECK(ec == std::errc::not_a_directory);
        CHECK(read_file(dir / "file") == "not a directory");
    }
    SECTION("a read-only directory") {
        fs::create_directory(dir / "ro");
        fs::permissions(dir.path(), fs::perms::owner_all | fs::perms::others_read | fs::perms::others_exec);
        fs::permissions(dir / "ro", fs::perms::owner_read | fs::perms::owner_exec | fs::perms::others_read |
                                        fs::perms::others_exec);
        // Root writes through permissions, so as root the attempt is made by a child
        // that has given its privileges up.
        const pid_t child = ::getuid() == 0 ? ::fork() : 0;
        REQUIRE(child >= 0);
        if (child == 0) {
            if (::getuid() == 0 && (::setgid(65534) != 0 || ::setuid(65534) != 0)) std::_Exit(2);
            log_store db;
            std::error_code ec;
            db.open(dir / "ro", ec);
            const bool refused = ec == std::errc::permission_denied && !db.is_open() &&
                                 kvforge::last_error_message().find("LOCK") != std::string::npos;
            if (::getuid() != 65534) {
                CHECK(refused);
            } else {
                std::_Exit(refused ? 0 : 1);
            }
        } else {
            int status = 0;
            REQUIRE(::waitpid(child, &status, 0) == child);
            CHECK(WIFEXITED(status));
            CHECK(WEXITSTATUS(status) == 0);
        }
        CHECK(fs::is_empty(dir / "ro"));  // nothing was created
        fs::permissions(dir / "ro", fs::perms::owner_all);
    }
    SECTION("a file that is not a kvforge store") {
        fs::create_directory(dir / "db");
        write_file(dir / "db/data-0000000001.kvlog", std::string(64, 'x'));
        CHECK(open_fails(dir / "db") == kvforge::errc::not_a_store);
        CHECK_THAT(kvforge::last_error_message(), Catch::Contains("data-0000000001.kvlog"));
    }
    SECTION("a newer format version") {
        { log_store db(dir / "db"); }
        const fs::path data = data_file_of(dir / "db");
        std::string bytes = read_file(data);
        bytes[8] = 2;  // version 2; the header checksum must match for the version to be read
        const std::uint32_t crc = kvforge::detail::crc32c(std::string_view(bytes).substr(0, 28));
        std::memcpy(bytes.data() + 28, &crc, 4);
        write_file(data, bytes);
        CHECK(open_fails(dir / "db") == kvforge::errc::unsupported_version);
        CHECK(read_file(data) == bytes);
    }
    SECTION("an empty data file") {
        fs::create_directory(dir / "db");
        write_file(dir / "db/data-0000000001.kvlog", "");
        CHECK(open_fails(dir / "db") == kvforge::errc::corrupt_header);
    }
    SECTION("a truncated header") {
        { log_store db(dir / "db"); }
        const fs::path data = data_file_of(dir / "db");
        fs::resize_file(data, 20);
        CHECK(open_fails(dir / "db") == kvforge::errc::corrupt_header);
        CHECK(fs::file_size(data) == 20);
    }
    SECTION("a header that fails its checksum") {
        { log_store db(dir / "db"); }
        const fs::path data = data_file_of(dir / "db");
        std::string bytes = read_file(data);
        bytes[20] ^= 0x10;
        write_file(data, bytes);
        CHECK(open_fails(dir / "db") == kvforge::errc::corrupt_header);
    }
    SECTION("other key or value types") {
        { log_store db(dir / "db"); }
        kvforge::store<std::uint64_t, std::string, kvforge::file_log> other;
        std::error_code ec;
        other.open(dir / "db", ec);
        CHECK(ec == kvforge::errc::codec_mismatch);
    }
}

TEST_CASE("one store object at a time: the lock", "[file_log][lock]") {
    temp_dir dir;
    log_store first(dir / "db");
    first.put("k", "v");
    log_store second;
    std::error_code ec;
    second.open(dir / "db", ec);
    CHECK(ec == kvforge::errc::store_locked);
    CHECK_THROWS_AS(log_store(dir / "db"), kvforge::error);
    first.close();
    second.open(dir / "db", ec);
    CHECK_FALSE(ec);
    CHECK(second.get("k") == std::optional<std::string>("v"));
}

TEST_CASE("another process holding the store makes open fail until it is gone", "[file_log][lock]") {
    temp_dir dir;
    const std::string path = dir / "db";
    int ready[2];
    int release[2];
    REQUIRE(::pipe(ready) == 0);
    REQUIRE(::pipe(release) == 0);
    const pid_t child = ::fork();
    REQUIRE(child >= 0);
    if (child == 0) {
        log_store db(path);
        db.put("owner", "child");
        db.flush();
        char byte = 1;
        if (::write(ready[1], &byte, 1) != 1) std::_Exit(2);
        if (::read(release[0], &byte, 1) < 0) std::_Exit(2);  // hold the store until told
        std::_Exit(0);
    }
    char byte = 0;
    REQUIRE(::read(ready[0], &byte, 1) == 1);
    log_store db;
    std::error_code ec;
    db.open(path, ec);
    CHECK(ec == kvforge::errc::store_locked);
    ::kill(child, SIGKILL);
    int status = 0;
    REQUIRE(::waitpid(child, &status, 0) == child);
    db.open(path, ec);
    REQUIRE_FALSE(ec);
    CHECK(db.get("owner") == std::optional<std::string>("child"));
}

TEST_CASE("damage before the tail fails the open unless salvaging", "[file_log][corruption]") {
    temp_dir dir;
    {
        log_store db(dir / "db");
        for (int i = 0; i < 10; ++i) db.put("key" + std::to_string(i), "value" + std::to_string(i));
    }
    fs::remove(dir / "db/data-0000000001.kvhint");
    const fs::path data = data_file_of(dir / "db");
    std::string bytes = read_file(data);
    const std::size_t damaged = bytes.find("value3");
    REQUIRE(damaged != std::string::npos);
    bytes[damaged] ^= 0x01;
    write_file(data, bytes);

    log_store db;
    std::error_code ec;
    db.open(dir / "db", ec);
    CHECK(ec == kvforge::errc::corrupt_record);
    CHECK_THAT(kvforge::last_error_message(), Catch::Contains("data-0000000001.kvlog"));
    CHECK_THAT(kvforge::last_error_message(), Catch::Contains("offset"));
    CHECK(read_file(data) == bytes);  // refused without changing the file

    kvforge::options salvage;
    salvage.salvage = true;
    db.open(dir / "db", salvage, {}, ec);
    REQUIRE_FALSE(ec);
    CHECK(db.size() == 9);
    CHECK_FALSE(db.contains("key3"));
    CHECK(db.get("key9") == std::optional<std::string>("value9"));
    CHECK(db.verify().ok());  // the damaged record was rewritten away
}

TEST_CASE("a damaged record is reported by get and verify, never returned", "[file_log][corruption]") {
    temp_dir dir;
    log_store db(dir / "db");
    db.put("good", "fine");
    db.put("bad", "soon damaged");
    const fs::path data = data_file_of(dir / "db");
    std::string bytes = read_file(data);
    bytes[bytes.find("soon damaged")] ^= 0x20;
    write_file(data, bytes);

    std::error_code ec;
    CHECK_FALSE(db.get("bad", ec).has_value());
    CHECK(ec == kvforge::errc::corrupt_record);
    std::string out;
    CHECK_FALSE(db.get("bad", out, ec));
    CHECK(ec == kvforge::errc::corrupt_record);
    CHECK(db.get("good") == std::optional<std::string>("fine"));

    const kvforge::verify_report report = db.verify();
    CHECK_FALSE(report.ok());
    REQUIRE(report.damaged.size() == 1);
    CHECK(report.damaged[0].file == data.string());
    CHECK(report.damaged[0].offset == bytes.find("bad") - 7);
}

TEST_CASE("a bad hint file is ignored and the log is read instead", "[file_log][hint]") {
    temp_dir dir;
    {
        log_store db(dir / "db");
        for (int i = 0; i < 100; ++i) db.put("key" + std::to_string(i), std::to_string(i));
    }
    const fs::path hint = dir / "db/data-0000000001.kvhint";
    REQUIRE(fs::exists(hint));
    std::string bytes = read_file(hint);
    bytes[bytes.size() / 2] ^= 0x04;
    write_file(hint, bytes);
    log_store db(dir / "db");
    CHECK(db.size() == 100);
    CHECK(db.get("key42") == std::optional<std::string>("42"));
}

namespace {

/// POSIX I/O whose fdatasync fails once the shared countdown reaches zero.
struct failing_sync_io : kvforge::posix_io {
    std::shared_ptr<int> syncs_left = std::make_shared<int>(1000000);
    int fdatasync(int fd) noexcept {
        if (--*syncs_left < 0) {
            errno = EIO;
            return -1;
        }
        return kvforge::posix_io::fdatasync(fd);
    }
};

}  // namespace

TEST_CASE("after a failed fdatasync the store refuses writes until reopened", "[file_log][failure]") {
    temp_dir dir;
    using failing_store = kvforge::store<std::string, std::string, kvforge::file_log, kvforge::sync_each, failing_sync_io>;
    failing_sync_io io;
    failing_store db(dir / "db", {}, io);
    db.put("before", "ok");
    *io.syncs_left = 0;

    std::error_code ec;
    db.put("during", "fails", ec);
    CHECK(ec == std::errc::io_error);
    CHECK_THAT(kvforge::last_error_message(), Catch::Contains("fdatasync"));
    // No retry that could pretend success: every later write is refused.
    *io.syncs_left = 1000000;
    db.put("after", "refused", ec);
    CHECK(ec == kvforge::errc::store_failed);
    CHECK_FALSE(db.erase("before", ec));
    CHECK(ec == kvforge::errc::store_failed);
    CHECK(db.get("before") == std::optional<std::string>("ok"));  // reads go on

    db.close(ec);
    db.open(dir / "db", {}, io, ec);
    REQUIRE_FALSE(ec);
    CHECK(db.get("before") == std::optional<std::string>("ok"));
    db.put("after", "accepted");
    CHECK(db.get("after") == std::optional<std::string>("accepted"));
}
