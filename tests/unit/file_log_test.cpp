// file_log specifics: the files it writes, damage and salvage, a failed sync.
// Bad input (refused opens, the lock, size limits) is in tests/reliability/bad_input_test.cpp.

#include <catch2/catch.hpp>

#include <kvforge/kvforge.hpp>

#include <cerrno>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "../support/file_bytes.hpp"
#include "../support/temp_dir.hpp"

namespace fs = std::filesystem;
using kvforge_test::temp_dir;
using synced_log_store = kvforge::store<std::string, std::string, kvforge::file_log, kvforge::sync_each>;

namespace {

using kvforge_test::read_file;
using kvforge_test::write_file;

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

}  // namespace

TEST_CASE("a new store is a directory with a lock file and one data file of known bytes", "[file_log]") {
    temp_dir dir;
    {
        synced_log_store db(dir / "db");
        db.put("k", "v");
    }
    const auto files = snapshot(dir / "db");
    REQUIRE(files.count("LOCK") == 1);
    REQUIRE(files.count("data-0000000001.kvlog") == 1);
    REQUIRE(files.count("data-0000000001.kvhint") == 1);
    const std::string& data = files.at("data-0000000001.kvlog");
    REQUIRE(data.size() == 64 + 4 + 1 + 1 + 1 + 1 + 1);
    CHECK(data.substr(0, 8) == "kvforgeL");
    CHECK(data[8] == 2);   // format version, little-endian
    CHECK(data[9] == 0);
    CHECK(data.substr(32, 8) == std::string("\x01\0\0\0\0\0\0\0", 8));  // order: the generation
    // layers: the fingerprint of the store's expiry and compression, little-endian
    const std::uint64_t layers = kvforge::detail::layers_fingerprint("none", "none");
    for (int i = 0; i < 8; ++i) CHECK(static_cast<unsigned char>(data[40 + i]) == ((layers >> (8 * i)) & 0xff));
    CHECK(data.substr(48, 12) == std::string(12, '\0'));  // reserved
    CHECK(data[68] == 1);  // record type: put, no flags
    CHECK(data.substr(69) == std::string("\x01\x01kv", 4));
}

TEST_CASE("damage before the tail fails the open unless salvaging", "[file_log][corruption]") {
    temp_dir dir;
    {
        synced_log_store db(dir / "db");
        for (int i = 0; i < 10; ++i) db.put("key" + std::to_string(i), "value" + std::to_string(i));
    }
    fs::remove(dir / "db/data-0000000001.kvhint");
    const fs::path data = data_file_of(dir / "db");
    std::string bytes = read_file(data);
    const std::size_t damaged = bytes.find("value3");
    REQUIRE(damaged != std::string::npos);
    bytes[damaged] ^= 0x01;
    write_file(data, bytes);

    synced_log_store db;
    std::error_code ec;
    db.open(dir / "db", ec);
    CHECK(ec == kvforge::errc::corrupt_record);
    CHECK_THAT(kvforge::last_error_message(), Catch::Contains("data-0000000001.kvlog"));
    CHECK_THAT(kvforge::last_error_message(), Catch::Contains("offset"));
    CHECK(read_file(data) == bytes);  // refused without changing the file

    kvforge::options salvage;
    salvage.salvage = true;
    db.open(dir / "db", salvage, ec);  // the options without an I/O policy
    REQUIRE_FALSE(ec);
    CHECK(db.size() == 9);
    CHECK_FALSE(db.contains("key3"));
    CHECK(db.get("key9") == std::optional<std::string>("value9"));
    CHECK(db.verify().ok());  // the damaged record was rewritten away
}

TEST_CASE("a damaged record is reported by get and verify, never returned", "[file_log][corruption]") {
    temp_dir dir;
    synced_log_store db(dir / "db");
    db.put("good", "fine");
    db.put("bad", "soon damaged");
    const fs::path data = data_file_of(dir / "db");
    std::string bytes = read_file(data);
    bytes[bytes.find("soon damaged")] ^= 0x20;
    write_file(data, bytes);

    std::error_code ec;
    CHECK_FALSE(db.get("bad", ec).has_value());
    CHECK(ec == kvforge::errc::corrupt_record);
    // Nothing of the damaged value reaches a caller's buffer: it is left empty.
    std::string out = "the caller's own bytes";
    CHECK_FALSE(db.get("bad", out, ec));
    CHECK(ec == kvforge::errc::corrupt_record);
    CHECK(out.empty());
    CHECK(db.get("good") == std::optional<std::string>("fine"));

    const kvforge::verify_report report = db.verify();
    CHECK_FALSE(report.ok());
    REQUIRE(report.damaged.size() == 1);
    CHECK(report.damaged[0].file == data.string());
    CHECK(report.damaged[0].offset == bytes.find("bad") - 7);
}

TEST_CASE("verify reports a byte flipped inside a batch once, at the batch", "[file_log][corruption][batch]") {
    temp_dir dir;
    synced_log_store db(dir / "db");
    db.put("before", "intact");
    kvforge::batch<std::string, std::string> b;
    for (int i = 0; i < 40; ++i) b.put("key" + std::to_string(i), "value of key " + std::to_string(i));
    db.write(b);
    db.put("after", "intact too");
    const fs::path data = data_file_of(dir / "db");
    std::string bytes = read_file(data);
    // Inside an operation of the batch: both the batch's checksum and the operation's fail.
    const std::size_t flipped = bytes.find("value of key 20");
    bytes[flipped] ^= 0x20;
    write_file(data, bytes);
    const std::size_t batch_at = bytes.find("before") + std::string("before").size() + std::string("intact").size();

    const kvforge::verify_report report = db.verify();
    REQUIRE(report.damaged.size() == 1);
    CHECK(report.damaged[0].offset == batch_at);
    CHECK(report.damaged[0].offset < flipped);
    db.close();

    // Salvage keeps the intact records, the batch's intact operations among them.
    kvforge::options salvage;
    salvage.salvage = true;
    std::error_code ec;
    db.open(dir / "db", salvage, {}, ec);
    REQUIRE_FALSE(ec);
    CHECK(db.size() == 41);
    CHECK_FALSE(db.contains("key20"));
    CHECK(db.get("key21") == std::optional<std::string>("value of key 21"));
    CHECK(db.get("after") == std::optional<std::string>("intact too"));
}

TEST_CASE("the hint written at close lets the next open skip the log", "[file_log][hint]") {
    temp_dir dir;
    // Enough keys for a hint of several blocks, written one at a time.
    constexpr int count = 120000;
    {
        kvforge::store<std::string, std::string, kvforge::file_log> db(dir / "db");
        for (int i = 0; i < count; ++i) db.put("key" + std::to_string(i), "value" + std::to_string(i));
    }
    REQUIRE(fs::file_size(dir / "db/data-0000000001.kvhint") > 2 * (std::size_t{256} << 10));
    // A damaged value fails an open that reads the log (see above), not one the hint serves.
    const fs::path data = data_file_of(dir / "db");
    std::string bytes = read_file(data);
    const std::size_t damaged = bytes.find("value3");
    REQUIRE(damaged != std::string::npos);
    bytes[damaged] ^= 0x01;
    write_file(data, bytes);

    synced_log_store db(dir / "db");
    CHECK(db.size() == count);
    CHECK(db.get("key119999") == std::optional<std::string>("value119999"));
    std::error_code ec;
    CHECK(!db.get("key3", ec));
    CHECK(ec == kvforge::errc::corrupt_record);
}

TEST_CASE("a bad hint file is ignored and the log is read instead", "[file_log][hint]") {
    temp_dir dir;
    {
        synced_log_store db(dir / "db");
        for (int i = 0; i < 100; ++i) db.put("key" + std::to_string(i), std::to_string(i));
    }
    const fs::path hint = dir / "db/data-0000000001.kvhint";
    REQUIRE(fs::exists(hint));
    std::string bytes = read_file(hint);
    bytes[bytes.size() / 2] ^= 0x04;
    write_file(hint, bytes);
    synced_log_store db(dir / "db");
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
