// A hint file is used only for the exact data file it was written for. When a data
// file is lost (deleted by hand) and the store starts again in the same generation, the
// old hint of that generation must not describe the new file: it is removed when the new
// data file is created, and should it come back (a crash before the removal reached the
// disk, a backup restored by hand) the file id in both headers tells it apart.

#include <catch2/catch.hpp>

#include <kvforge/kvforge.hpp>

#include <filesystem>
#include <optional>
#include <string>
#include <tuple>

#include "../support/file_bytes.hpp"
#include "../support/temp_dir.hpp"

namespace fs = std::filesystem;
using kvforge_test::read_file;
using kvforge_test::temp_dir;
using kvforge_test::write_file;

namespace {

using namespace kvforge;

using hint_configs = std::tuple<store<std::string, std::string, file_log, hash_index, sync_each>,
                                store<std::string, std::string, file_log, sorted_index, sync_each>,
                                store<std::string, std::string, mmap_file, hash_index, sync_each>,
                                store<std::string, std::string, mmap_file, sorted_index, sync_each>>;

constexpr const char* data_name = "data-0000000001.kvlog";
constexpr const char* hint_name = "data-0000000001.kvhint";

}  // namespace

TEMPLATE_LIST_TEST_CASE("a hint written for a lost data file is never used for its successor", "[stale_hint]",
                        hint_configs) {
    temp_dir dir;
    const std::string path = dir / "db";
    {
        TestType db(path);
        for (int i = 0; i < 100; ++i) db.put("old" + std::to_string(i), "old value " + std::to_string(i));
    }
    const std::string stale_hint = read_file(path + "/" + hint_name);
    REQUIRE_FALSE(stale_hint.empty());

    // The data file is lost; the store starts over in generation 1.
    fs::remove(path + "/" + data_name);
    std::string crashed_data;
    {
        TestType db(path);
        CHECK(db.size() == 0);
        CHECK_FALSE(fs::exists(path + "/" + hint_name));  // the stale hint went with the new data file
        for (int i = 0; i < 300; ++i) db.put("new" + std::to_string(i), "new value, longer " + std::to_string(i));
        crashed_data = read_file(path + "/" + data_name);  // sync_each: what a crash now would leave
    }
    REQUIRE(crashed_data.size() > 3000);

    // A crash before close, with the old hint back beside the new data file.
    write_file(path + "/" + data_name, crashed_data);
    write_file(path + "/" + hint_name, stale_hint);

    TestType db(path);
    CHECK(db.size() == 300);
    for (int i = 0; i < 100; ++i) REQUIRE_FALSE(db.contains("old" + std::to_string(i)));
    for (int i = 0; i < 300; ++i) {
        REQUIRE(db.get("new" + std::to_string(i)) == std::optional<std::string>("new value, longer " + std::to_string(i)));
    }
    CHECK(db.verify().ok());
}

TEMPLATE_LIST_TEST_CASE("a hint written by an earlier release (file id 0) is still used for its data file",
                        "[stale_hint]", hint_configs) {
    temp_dir dir;
    const std::string path = dir / "db";
    {
        TestType db(path);
        for (int i = 0; i < 100; ++i) db.put("key" + std::to_string(i), "value " + std::to_string(i));
    }
    // Earlier releases wrote zeros where the file id is now: clear it in both headers.
    for (const char* name : {data_name, hint_name}) {
        std::string bytes = read_file(path + "/" + name);
        for (int i = 12; i < 16; ++i) bytes[static_cast<std::size_t>(i)] = 0;
        const std::uint32_t crc = kvforge::detail::crc32c(std::string_view(bytes).substr(0, 28));
        for (int i = 0; i < 4; ++i) bytes[static_cast<std::size_t>(28 + i)] = static_cast<char>(crc >> (8 * i));
        write_file(path + "/" + name, bytes);
    }
    // Damage a value the hint covers: if the hint is used, the log is not scanned and the
    // damage shows only when that value is read.
    std::string bytes = read_file(path + "/" + data_name);
    bytes[bytes.find("value 42")] ^= 0x01;
    write_file(path + "/" + data_name, bytes);

    TestType db(path);
    CHECK(db.size() == 100);
    CHECK(db.stats().recovered_records == 100);
    std::error_code ec;
    CHECK_FALSE(db.get("key42", ec).has_value());
    CHECK(ec == kvforge::errc::corrupt_record);
    CHECK(db.get("key7") == std::optional<std::string>("value 7"));
}
