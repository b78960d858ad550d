// A hint file is used only for the exact data file it was written for. When a data
// file is lost (deleted by hand) and the store starts again in the same generation, the
// old hint of that generation must not describe the new file: it is removed when the new
// data file is created, and should it come back (a crash before the removal reached the
// disk, a backup restored by hand) the file id in both headers tells it apart.

#include <catch2/catch.hpp>

#include <kvforge/kvforge.hpp>

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <tuple>
#include <vector>

#include "../support/file_bytes.hpp"
#include "../support/temp_dir.hpp"

namespace fs = std::filesystem;
using kvforge_test::read_file;
using kvforge_test::temp_dir;
using kvforge_test::write_file;

namespace {

using hint_configs =
    std::tuple<kvforge::store<std::string, std::string, kvforge::file_log, kvforge::hash_index, kvforge::sync_each>,
               kvforge::store<std::string, std::string, kvforge::file_log, kvforge::sorted_index, kvforge::sync_each>,
               kvforge::store<std::string, std::string, kvforge::mmap_file, kvforge::hash_index, kvforge::sync_each>,
               kvforge::store<std::string, std::string, kvforge::mmap_file, kvforge::sorted_index, kvforge::sync_each>>;

constexpr const char* hinted_data_name = "data-0000000001.kvlog";
constexpr const char* stale_hint_name = "data-0000000001.kvhint";

}  // namespace

TEMPLATE_LIST_TEST_CASE("a hint written for a lost data file is never used for its successor", "[stale_hint]",
                        hint_configs) {
    temp_dir dir;
    const std::string path = dir / "db";
    {
        TestType db(path);
        for (int i = 0; i < 100; ++i) db.put("old" + std::to_string(i), "old value " + std::to_string(i));
    }
    const std::string stale_hint = read_file(path + "/" + stale_hint_name);
    REQUIRE_FALSE(stale_hint.empty());

    // The data file is lost: an open names the loss; a salvaging one starts over in generation 1.
    fs::remove(path + "/" + hinted_data_name);
    {
        TestType db;
        std::error_code ec;
        db.open(path, {}, {}, ec);
        CHECK(ec == kvforge::errc::corrupt_record);
    }
    std::string crashed_data;
    {
        kvforge::options salvage;
        salvage.salvage = true;
        TestType db(path, salvage);
        CHECK(db.size() == 0);
        CHECK_FALSE(fs::exists(path + "/" + stale_hint_name));  // the stale hint went with the new data file
        for (int i = 0; i < 300; ++i) db.put("new" + std::to_string(i), "new value, longer " + std::to_string(i));
        crashed_data = read_file(path + "/" + hinted_data_name);  // sync_each: what a crash now would leave
    }
    REQUIRE(crashed_data.size() > 3000);

    // A crash before close, with the old hint back beside the new data file.
    write_file(path + "/" + hinted_data_name, crashed_data);
    write_file(path + "/" + stale_hint_name, stale_hint);

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
    // Earlier releases wrote zeros where the file id is now: clear it in both headers. They
    // wrote no list of segments either, which would name the file id.
    fs::remove(path + "/SEGMENTS");
    for (const char* name : {hinted_data_name, stale_hint_name}) {
        std::string bytes = read_file(path + "/" + name);
        for (int i = 12; i < 16; ++i) bytes[static_cast<std::size_t>(i)] = 0;
        const std::uint32_t crc = kvforge::detail::crc32c(std::string_view(bytes).substr(0, 28));
        for (int i = 0; i < 4; ++i) bytes[static_cast<std::size_t>(28 + i)] = static_cast<char>(crc >> (8 * i));
        write_file(path + "/" + name, bytes);
    }
    // Damage a value the hint covers: if the hint is used, the log is not scanned and the
    // damage shows only when that value is read.
    std::string bytes = read_file(path + "/" + hinted_data_name);
    bytes[bytes.find("value 42")] ^= 0x01;
    write_file(path + "/" + hinted_data_name, bytes);

    TestType db(path);
    CHECK(db.size() == 100);
    CHECK(db.stats().recovered_records == 100);
    std::error_code ec;
    CHECK_FALSE(db.get("key42", ec).has_value());
    CHECK(ec == kvforge::errc::corrupt_record);
    CHECK(db.get("key7") == std::optional<std::string>("value 7"));
}

namespace {

/// The closed segments' hint files of the store at path, in segment order.
std::vector<std::string> hint_files(const std::string& path) {
    std::vector<std::string> hints;
    for (const auto& entry : fs::directory_iterator(path)) {
        if (entry.path().extension() == ".kvhint") hints.push_back(entry.path().string());
    }
    std::sort(hints.begin(), hints.end());
    return hints;
}

/// Rewrites the entry count of the hint at file to count, with its body's checksum made
/// right again, so that only the entries themselves can show the count is wrong.
void set_hint_count(const std::string& file, std::uint64_t count) {
    std::string bytes = read_file(file);
    const std::size_t counts = kvforge::detail::file_header::size;
    kvforge::detail::file_header::put_le64(bytes.data() + counts + 8, count);
    const std::string_view body = std::string_view(bytes).substr(counts, bytes.size() - counts - 4);
    kvforge::detail::file_header::put_le32(bytes.data() + bytes.size() - 4, kvforge::detail::crc32c(body));
    write_file(file, bytes);
}

std::uint64_t hint_count(const std::string& file) {
    return kvforge::detail::file_header::get_le64(read_file(file).data() + kvforge::detail::file_header::size + 8);
}

}  // namespace

TEMPLATE_LIST_TEST_CASE("a hint whose entry count is wrong, or that is torn, is ignored and its segment read",
                        "[stale_hint]", hint_configs) {
    temp_dir dir;
    const std::string path = dir / "db";
    kvforge::options opts;
    opts.segment_bytes = std::uint64_t{64} << 10;
    constexpr int keys = 6000;
    const auto value_of = [](int i) { return "value of key " + std::to_string(i) + std::string(40, 'v'); };
    {
        TestType db(path, opts);
        for (int i = 0; i < keys; ++i) db.put("key" + std::to_string(i), value_of(i));
    }
    const std::vector<std::string> hints = hint_files(path);
    REQUIRE(hints.size() >= 5);
    set_hint_count(hints[0], hint_count(hints[0]) + 1);
    set_hint_count(hints[1], hint_count(hints[1]) - 1);
    set_hint_count(hints[2], std::uint64_t{1} << 62);  // far more than the file can list
    const std::uint64_t torn_count = hint_count(hints[3]);
    const std::string torn = read_file(hints[3]);
    write_file(hints[3], std::string_view(torn).substr(0, torn.size() / 2));

    {
        TestType db(path, opts);
        CHECK(db.size() == keys);
        for (int i = 0; i < keys; ++i) {
            REQUIRE(db.get("key" + std::to_string(i)) == std::optional<std::string>(value_of(i)));
        }
        CHECK(db.verify().ok());
    }
    // The segments read whole got their hints written anew, and the next open uses them.
    CHECK(hint_count(hints[3]) == torn_count);
    TestType db(path, opts);
    CHECK(db.size() == keys);
    CHECK(db.get("key4321") == std::optional<std::string>(value_of(4321)));
}
