// store<K, V, file_log, disk_index>: the store over sorted tables through the store's calls,
// its MANIFEST against other compositions, whole batches and clear().

#include <catch2/catch.hpp>

#include <kvforge/index/disk_index.hpp>
#include <kvforge/kvforge.hpp>

#include "../support/file_bytes.hpp"
#include "../support/held_call.hpp"
#include "../support/numbered_keys.hpp"
#include "../support/open_store_once.hpp"
#include "../support/temp_dir.hpp"
#include "../support/writers_sharing_syncs.hpp"

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <future>
#include <map>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <system_error>
#include <thread>

namespace {

using table_store = kvforge::store<std::string, std::string, kvforge::file_log, kvforge::disk_index>;
using log_store = kvforge::store<std::string, std::string, kvforge::file_log, kvforge::hash_index>;

/// The table files in the store directory at path.
int table_files(const std::string& path) {
    int count = 0;
    for (const auto& entry : std::filesystem::directory_iterator(path)) {
        count += entry.path().extension() == ".kvtable" ? 1 : 0;
    }
    return count;
}

/// The error an open of Store at path throws (none when it opens).
template <class Store>
kvforge::error open_error(const std::string& path) {
    try {
        Store store(path);
    } catch (const kvforge::error& e) {
        return e;
    }
    return kvforge::error(std::error_code(), "");
}

/// The newest log file of a store's directory.
std::filesystem::path newest_log(const std::filesystem::path& directory) {
    std::filesystem::path newest;
    for (const auto& entry : std::filesystem::directory_iterator(directory)) {
        if (entry.path().extension() == ".kvlog" && entry.path() > newest) newest = entry.path();
    }
    return newest;
}

/// Writes keys "key0" to "key<keys - 1>", each with 100 bytes of 'v', into a new store at
/// path and compacts it, so that every key is in its tables.
void write_keys_into_tables(const std::string& path, int keys) {
    kvforge::options opts;
    opts.segment_bytes = 1 << 20;
    table_store store(path, opts);
    for (int i = 0; i < keys; ++i) store.put("key" + std::to_string(i), std::string(100, 'v'));
    store.compact();
}

/// posix_io, but the creation of a table file, once armed, waits for release(): a flush or
/// a compaction held as it starts to write its first table. The first let_through table
/// files created are not held (an open's table of the records it replayed, say).
struct table_holding_io : kvforge::posix_io {
    std::shared_ptr<kvforge_test::held_call> point = std::make_shared<kvforge_test::held_call>();
    std::shared_ptr<std::atomic<int>> tables_created = std::make_shared<std::atomic<int>>(0);
    int let_through = 0;

    int open(const char* path, int flags, mode_t mode) noexcept {
        if ((flags & O_CREAT) != 0 && std::string_view(path).ends_with(".kvtable") &&
            tables_created->fetch_add(1) >= let_through) {
            point->pass();
        }
        return kvforge::posix_io::open(path, flags, mode);
    }
};

using held_table_store = kvforge::store<std::string, std::string, kvforge::file_log, kvforge::disk_index,
                                        kvforge::buffered<>, kvforge::thread_safe, table_holding_io>;

/// posix_io, but the creation of a file in a directory named held-backup, once armed,
/// waits for release(): a backup held as it starts to write its copy.
struct backup_holding_io : kvforge::posix_io {
    std::shared_ptr<kvforge_test::held_call> point = std::make_shared<kvforge_test::held_call>();

    int open(const char* path, int flags, mode_t mode) noexcept {
        if ((flags & O_CREAT) != 0 && std::string_view(path).find("/held-backup/") != std::string_view::npos) {
            point->pass();
        }
        return kvforge::posix_io::open(path, flags, mode);
    }
};

/// Puts `count` keys from another thread while point holds a job, and says how many
/// returned before the job was let go (or a minute passed).
template <class Store>
int puts_while_held(Store& db, kvforge_test::held_call& point, const std::string& prefix, int count) {
    REQUIRE(point.wait_held(std::chrono::seconds(60)));
    std::atomic<int> done{0};
    std::thread writer([&] {
        for (int i = 0; i < count; ++i) {
            db.put(prefix + std::to_string(i), std::string(40, 'w'));
            done.fetch_add(1);
        }
    });
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    while (done.load() < count && std::chrono::steady_clock::now() < deadline) std::this_thread::yield();
    const int returned = done.load();
    point.release();
    writer.join();
    return returned;
}

}  // namespace

TEST_CASE("disk_index: a thread_safe store's writers go on while its jobs run", "[table][disk_index]") {
    kvforge_test::temp_dir dir;
    const std::string path = dir.path().string();
    kvforge::options opts;
    opts.segment_bytes = 512 << 10;  // two write buffers of 256 KiB
    table_holding_io io;
    const std::shared_ptr<kvforge_test::held_call> point = io.point;

    SECTION("a flush of a full buffer") {
        {
            held_table_store db(path, opts, io);
            point->arm();
            // Enough to fill the buffer once: the flush is held as it creates its table.
            std::thread filler([&] {
                for (int i = 0; i < 3000; ++i) db.put("fill" + std::to_string(i), std::string(100, 'f'));
            });
            // 500 puts of 50 bytes fit in the new buffer, so none waits for the flush.
            CHECK(puts_while_held(db, *point, "during", 500) == 500);
            filler.join();
            CHECK(db.size() == 3500);
        }
        held_table_store db(path, opts, io);
        CHECK(db.size() == 3500);
        CHECK(db.get("during499") == std::string(40, 'w'));
    }
    SECTION("compact()") {
        held_table_store db(path, opts, io);
        for (int i = 0; i < 1000; ++i) db.put("old" + std::to_string(i), std::string(100, 'o'));
        point->arm();
        std::error_code compact_error;
        std::thread compactor([&] { db.compact(compact_error); });
        CHECK(puts_while_held(db, *point, "during", 500) == 500);
        compactor.join();
        CHECK_FALSE(compact_error);
        CHECK(db.stats().compactions >= 1);
        CHECK(db.size() == 1500);
        CHECK(db.get("old999") == std::string(100, 'o'));
        CHECK(db.verify().ok());
    }
}

TEST_CASE("disk_index: a thread_safe store's open leaves the merges due to the store's thread, and returns at once",
          "[table][disk_index]") {
    kvforge_test::temp_dir dir;
    const std::string path = dir.path().string();
    kvforge::options opts;
    opts.segment_bytes = 64 << 10;
    int keys = 0;
    {
        // Three tables in level 0 (its fourth starts a merge), and records in the log.
        table_store store(path, opts);
        while (table_files(path) < 3) store.put("key" + std::to_string(keys++), std::string(100, 'v'));
        for (int i = 0; i < 10; ++i) store.put("key" + std::to_string(keys++), std::string(100, 'v'));
        REQUIRE(table_files(path) == 3);
    }
    // The open flushes the records it replayed into a fourth table, so a merge is due; the
    // table files created after that one are held.
    table_holding_io io;
    io.let_through = 1;
    io.point->arm();
    std::optional<held_table_store> db;
    std::promise<void> opened;
    std::thread opener([&] {
        db.emplace(path, opts, io);
        opened.set_value();
    });
    const bool open_returned = opened.get_future().wait_for(std::chrono::seconds(20)) == std::future_status::ready;
    // The open returns while the store's thread runs the merge (held); an open that ran
    // the merge itself would be held in it.
    CHECK(open_returned);
    CHECK(io.point->wait_held(std::chrono::seconds(60)));
    if (open_returned) {
        // While the merge is held, the store serves reads and takes writes.
        CHECK(db->get("key0") == std::string(100, 'v'));
        CHECK(db->get("key" + std::to_string(keys - 1)) == std::string(100, 'v'));
        db->put("during", "the merge");
    }
    io.point->release();
    opener.join();
    CHECK(db->get("during") == "the merge");
    CHECK(db->size() == static_cast<std::size_t>(keys + 1));
    db.reset();
    table_store reopened(path, opts);
    CHECK(reopened.size() == static_cast<std::size_t>(keys + 1));
    CHECK(reopened.verify().ok());
}

TEST_CASE("disk_index: a thread_safe store's two write buffers hold segment_bytes at most; writers wait beyond",
          "[table][disk_index]") {
    kvforge_test::temp_dir dir;
    const std::string path = dir.path().string();
    kvforge::options opts;
    opts.segment_bytes = 256 << 10;
    opts.block_cache_bytes = 0;  // stats().memory_bytes is then the buffers' alone, until a table exists
    table_holding_io io;
    const std::shared_ptr<kvforge_test::held_call> point = io.point;
    constexpr int count = 4000;  // about twice segment_bytes of entries
    const std::string value(100, 'v');
    {
        held_table_store db(path, opts, io);
        point->arm();
        std::thread writer([&] {
            for (int i = 0; i < count; ++i) db.put("key" + std::to_string(i), value);
        });
        // The first flush is held as it creates its table: the writer fills the second
        // buffer, then waits for the flush.
        const bool held = point->wait_held(std::chrono::seconds(60));
        const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
        while (held && db.stats().write_stalls == 0 && std::chrono::steady_clock::now() < deadline) {
            std::this_thread::yield();
        }
        const kvforge::stats waiting = db.stats();
        point->release();
        writer.join();
        REQUIRE(held);
        REQUIRE(waiting.write_stalls >= 1);
        // A buffer's memory grows by chunks of up to an eighth of what it holds, so each
        // may pass its half by one chunk.
        const std::uint64_t chunk_slack = opts.segment_bytes / 8;
        INFO(waiting.memory_bytes << " bytes in the buffers, after " << waiting.puts << " puts");
        CHECK(waiting.memory_bytes <= opts.segment_bytes + chunk_slack);
        CHECK(waiting.memory_bytes >= opts.segment_bytes);  // both were full
        CHECK(waiting.puts < static_cast<std::uint64_t>(count));
        CHECK(db.size() == static_cast<std::size_t>(count));
    }
    held_table_store db(path, opts, io);
    CHECK(db.size() == static_cast<std::size_t>(count));
    CHECK(db.get("key" + std::to_string(count - 1)) == value);
    CHECK(db.stats().write_stalls == 0);
}

TEST_CASE("disk_index: a thread_safe store's writers and jobs go on while backup() copies", "[table][disk_index]") {
    kvforge_test::temp_dir dir;
    const std::string path = (dir.path() / "db").string();
    const std::string dest = (dir.path() / "held-backup").string();
    kvforge::options opts;
    opts.segment_bytes = 64 << 10;  // the write buffer: the writes below flush it several times
    backup_holding_io io;
    const std::shared_ptr<kvforge_test::held_call> point = io.point;
    using store_type = kvforge::store<std::string, std::string, kvforge::file_log, kvforge::disk_index,
                                      kvforge::buffered<>, kvforge::thread_safe, backup_holding_io>;
    store_type db(path, opts, io);
    for (int i = 0; i < 2000; ++i) db.put("before" + std::to_string(i), std::string(100, 'b'));
    point->arm();
    std::error_code backup_error;
    std::thread backing_up([&] { db.backup(dest, backup_error); });
    // Held as it writes its first file: the cut is taken, and the writes that follow fill
    // the buffer again and again, their flushes removing the log the backup copies.
    CHECK(puts_while_held(db, *point, "during", 3000) == 3000);
    backing_up.join();
    REQUIRE_FALSE(backup_error);
    CHECK(db.size() == 5000);

    // The backup is the store at its cut: every write before it, none after.
    table_store copy(dest);
    CHECK(copy.verify().ok());
    CHECK(copy.size() == 2000);
    CHECK(copy.get("before1999") == std::string(100, 'b'));
    CHECK_FALSE(copy.contains("during0"));
}

TEST_CASE("disk_index: sync_each writers that keep writing share nearly every sync",
          "[table][disk_index][durability][group_commit]") {
    // A write commits its record once the store's lock is released: under the lock, each
    // write synced alone while the others waited for the lock.
    using grouped = kvforge::store<std::string, std::string, kvforge::file_log, kvforge::disk_index, kvforge::sync_each,
                                   kvforge::thread_safe, kvforge_test::slow_flush_io<>>;
    kvforge_test::temp_dir dir;
    grouped db((dir.path() / "db").string());
    constexpr int writes = 80;
    const std::uint64_t syncs = kvforge_test::syncs_of_writers(db, 2, writes / 2);
    INFO(syncs << " syncs for " << writes << " writes");
    CHECK(syncs <= writes * 2 / 3);
    CHECK(db.size() == writes);
    std::string value;
    CHECK(db.get("t1/39", value));
}

TEST_CASE("disk_index: a file_log store over sorted tables, through the store's calls", "[table][disk_index]") {
    using db = kvforge::store<std::uint64_t, std::string, kvforge::file_log, kvforge::disk_index>;
    kvforge_test::temp_dir dir;
    kvforge::options opts;
    opts.segment_bytes = 1 << 20;
    std::map<std::uint64_t, std::string> model;
    std::mt19937_64 random(5);
    for (int round = 0; round < 3; ++round) {
        db store(dir.path().string(), opts);
        REQUIRE(store.size() == model.size());
        for (int i = 0; i < 30000; ++i) {
            const std::uint64_t key = random() % 20000;
            if (random() % 6 == 0) {
                REQUIRE(store.erase(key) == (model.erase(key) == 1));
            } else {
                const std::string value = std::to_string(i) + std::string(random() % 80, 'd');
                store.put(key, value);
                model[key] = value;
            }
        }
        REQUIRE(store.size() == model.size());
        for (std::uint64_t key = 0; key < 20000; key += 7) {
            const auto it = model.find(key);
            REQUIRE(store.get(key) == (it == model.end() ? std::nullopt : std::optional<std::string>(it->second)));
            REQUIRE(store.contains(key) == (it != model.end()));
        }
        auto expected = model.begin();
        for (const auto& [key, value] : store.scan(kvforge::ascending)) {
            REQUIRE(key == expected->first);
            REQUIRE(value == expected->second);
            ++expected;
        }
        REQUIRE(expected == model.end());
        auto back = model.rbegin();
        for (const auto& [key, value] : store.scan(std::uint64_t{20000}, std::uint64_t{0}, kvforge::descending)) {
            (void)value;
            REQUIRE(key == back->first);
            ++back;
        }
    }
}

TEST_CASE("disk_index: the MANIFEST records format 3 and the index, and binds them", "[table][disk_index]") {
    kvforge_test::temp_dir dir;
    const std::string tables = (dir.path() / "tables").string();
    const std::string logs = (dir.path() / "logs").string();
    {
        table_store store(tables);
        store.put("k", "v");
        log_store other(logs);
        other.put("k", "v");
    }
    const std::string manifest = kvforge_test::read_file(std::filesystem::path(tables) / "MANIFEST");
    CHECK_THAT(manifest, Catch::Contains("\nformat 3\n") && Catch::Contains("\nindex disk_index\n"));

    SECTION("a log store's index does not open a table store, nor the other way round") {
        kvforge::error e = open_error<log_store>(tables);
        CHECK(e.code() == kvforge::errc::codec_mismatch);
        CHECK_THAT(e.what(), Catch::Contains("index: written with 'disk_index', opened with 'hash_index'") &&
                                 Catch::Contains("only kvforge::disk_index reads"));
        e = open_error<table_store>(logs);
        CHECK(e.code() == kvforge::errc::codec_mismatch);
        CHECK_THAT(e.what(), Catch::Contains("kvforge::disk_index does not read"));
        // Refused without a change: each opens as it was written.
        CHECK(table_store(tables).get("k") == "v");
        CHECK(log_store(logs).get("k") == "v");
    }
    SECTION("open_store, whose compositions have no disk_index, names the index to open it with") {
        std::error_code ec;
        const auto opened = kvforge::open_store<std::string, std::string>(tables, ec);
        CHECK_FALSE(opened.is_open());
        CHECK(ec == kvforge::errc::codec_mismatch);
        CHECK_THAT(kvforge::last_error_message(),
                   Catch::Contains("written with 'disk_index'") && Catch::Contains("only kvforge::disk_index reads"));
    }
    SECTION("a table store that lost its MANIFEST is opened by neither") {
        table_store{tables}.close();  // its open flushes the log into a table, and starts a new log
        std::filesystem::remove(std::filesystem::path(tables) / "MANIFEST");
        kvforge::error e = open_error<log_store>(tables);
        CHECK(e.code() == kvforge::errc::corrupt_header);
        CHECK_THAT(e.what(), Catch::Contains("TABLES lists sorted tables") &&
                                 Catch::Contains("`kvforge repair " + tables + "`"));
        e = open_error<table_store>(tables);
        CHECK(e.code() == kvforge::errc::corrupt_header);
        CHECK_THAT(e.what(),
                   Catch::Contains("MANIFEST is missing") && Catch::Contains("`kvforge repair " + tables + "`"));
        // The headers of its log and tables record what the MANIFEST did, for the repair.
        const std::uint64_t layers = kvforge::detail::layers_fingerprint("none", "none");
        const std::uint64_t codecs = kvforge::detail::codec_fingerprint("bytes", "bytes");
        int headers = 0;
        for (const auto& entry : std::filesystem::directory_iterator(tables)) {
            const std::string name = entry.path().filename().string();
            if (name.find("data-") != 0) continue;
            const std::string bytes = kvforge_test::read_file(entry.path());
            REQUIRE(bytes.size() >= 64);
            INFO(name);
            CHECK(kvforge::detail::file_header::get_le64(bytes.data() + 16) == codecs);
            CHECK(kvforge::detail::file_header::get_le64(bytes.data() + 40) == layers);
            ++headers;
        }
        CHECK(headers == 2);  // the table and the new log
    }
    // The MANIFEST with one line replaced, its checksum made again.
    const auto rewritten = [&](std::string_view from, std::string_view to) {
        std::string text = manifest;
        text.replace(text.find(from), from.size(), to);
        text.resize(text.find("crc32c "));
        char line[24];
        std::snprintf(line, sizeof line, "crc32c %08x\n", static_cast<unsigned>(kvforge::detail::crc32c(text)));
        return text + line;
    };
    SECTION("a MANIFEST of a newer format is refused") {
        kvforge_test::write_file(std::filesystem::path(tables) / "MANIFEST", rewritten("format 3", "format 4"));
        const kvforge::error e = open_error<table_store>(tables);
        CHECK(e.code() == kvforge::errc::unsupported_version);
        CHECK_THAT(e.what(), Catch::Contains("format version 4"));
    }
    SECTION("a reader of format 2 refuses format 3 by its number, as an earlier release does") {
        // Its index hidden, the store is one of format 3 to a log store, which reads up to 2.
        kvforge_test::write_file(std::filesystem::path(tables) / "MANIFEST",
                                 rewritten("index disk_index", "index hash_index"));
        const kvforge::error e = open_error<log_store>(tables);
        CHECK(e.code() == kvforge::errc::unsupported_version);
        CHECK_THAT(e.what(), Catch::Contains("written in format version 3"));
    }
}

TEST_CASE("disk_index: a close flushes logs of more than 1 MiB into tables, so that the next open replays none",
          "[table][disk_index]") {
    kvforge_test::temp_dir dir;
    const std::string path = dir.path().string();
    // The write buffer (32 MiB) never fills here: every record is in the log at the close.
    const auto write_and_reopen = [&](int keys) {
        {
            table_store store(path);
            for (int i = 0; i < keys; ++i) store.put("key" + std::to_string(i), std::string(100, 'v'));
        }
        table_store store(path);
        CHECK(store.size() == static_cast<std::size_t>(keys));
        CHECK(store.get("key" + std::to_string(keys - 1)) == std::string(100, 'v'));
        return store.stats().recovered_records;
    };
    SECTION("2.2 MB of records: flushed by the close") { CHECK(write_and_reopen(20000) == 0); }
    SECTION("13 KB: left in the log, which the open replays") { CHECK(write_and_reopen(100) == 100); }
}

TEST_CASE("disk_index: a batch is replayed whole or not at all, and counted once a key", "[table][disk_index]") {
    kvforge_test::temp_dir dir;
    const std::string path = dir.path().string();
    {
        table_store store(path);
        store.put("before", "1");
        store.put("gone", "x");
        kvforge::batch<std::string, std::string> ops;
        ops.put("a", "1");
        ops.put("a", "22");  // the same key twice: one live key
        ops.erase("gone");
        ops.erase("never");  // an erase of a key the store does not hold changes no count
        ops.put("b", "333");
        store.write(ops);
        CHECK(store.size() == 3);
        CHECK(store.get("a") == "22");
        CHECK_FALSE(store.contains("gone"));
        CHECK(store.stats().live_bytes == std::string("before1a22b333").size());
        CHECK(store.stats().erases == 1);  // "never" was not there to erase
        CHECK(store.stats().batches == 1);
    }
    const std::filesystem::path list = std::filesystem::path(path) / "TABLES";
    std::string list_while_open;
    {
        table_store store(path);
        CHECK(store.size() == 3);
        CHECK(store.get("a") == "22");
        CHECK(store.get("b") == "333");
        CHECK_FALSE(store.contains("gone"));
        kvforge::batch<std::string, std::string> ops;
        ops.put("c", "4");
        ops.erase("before");
        store.write(ops);
        list_while_open = kvforge_test::read_file(list);
    }
    // The newest log ends with that batch; cut one byte of it, as a power loss before the
    // close may. Such a loss leaves TABLES as the open wrote it, without the logs' sizes
    // that the close records.
    kvforge_test::write_file(list, list_while_open);
    const std::filesystem::path log = newest_log(path);
    std::filesystem::resize_file(log, std::filesystem::file_size(log) - 1);
    table_store store(path);
    CHECK(store.get("before") == "1");
    CHECK_FALSE(store.contains("c"));
    CHECK(store.size() == 3);
    CHECK(store.stats().recovered_bytes_cut > 0);
}

TEST_CASE("disk_index: clear() empties the tables and the log, through a reopen", "[table][disk_index]") {
    kvforge_test::temp_dir dir;
    const std::string path = dir.path().string();
    kvforge::options opts;
    opts.segment_bytes = 64 << 10;
    {
        table_store store(path, opts);
        for (int i = 0; i < 5000; ++i) store.put("key" + std::to_string(i), std::string(40, 'v'));
        CHECK(store.stats().disk_bytes > 200000);  // flushed into tables
        store.clear();
        CHECK(store.size() == 0);
        CHECK(store.scan(kvforge::ascending).begin() == store.scan(kvforge::ascending).end());
        store.put("after", "1");
    }
    table_store store(path, opts);
    CHECK(store.size() == 1);
    CHECK(store.get("after") == "1");
    CHECK_FALSE(store.contains("key1"));
    CHECK(store.stats().disk_bytes < 10000);
}

TEST_CASE("disk_index: a reader's refresh() returns the tables and records new to it", "[table][disk_index]") {
    kvforge_test::temp_dir dir;
    const std::string path = (dir.path() / "store").string();
    table_store writer(path);
    writer.put("k", "v");
    writer.flush();
    std::error_code ec;
    writer.refresh(ec);
    CHECK(ec == kvforge::errc::invalid_argument);
    kvforge::options read_only;
    read_only.read_only = true;
    table_store reader(path, read_only);
    CHECK(reader.get("k") == "v");
    CHECK(reader.refresh() == 0);  // nothing new
    writer.put("a", "1");
    writer.put("b", "2");
    writer.flush();
    CHECK(reader.refresh() == 2);  // two records of the log
    CHECK(reader.get("b") == "2");
    writer.compact();  // every record into one table; the logs before it removed
    const std::uint64_t applied = reader.refresh();
    CHECK(applied == 1);  // the table, and no record of a new log
    CHECK(reader.size() == 3);
    CHECK(reader.stats().disk_bytes > 0);
}

TEST_CASE("disk_index: stats count the files, and the bytes and syncs written to them", "[table][disk_index]") {
    kvforge_test::temp_dir dir;
    const std::string path = dir.path().string();
    const auto files_bytes = [&] {
        std::uint64_t bytes = 0;
        for (const auto& entry : std::filesystem::directory_iterator(path)) bytes += entry.file_size();
        return bytes;
    };
    using synced_store = kvforge::store<std::string, std::string, kvforge::file_log, kvforge::disk_index,
                                        kvforge::sync_each>;
    synced_store store(path);
    // A new store wrote its log's header, its MANIFEST and an empty TABLES.
    kvforge::stats s = store.stats();
    CHECK(s.segments == 1);
    CHECK(s.bytes_written == files_bytes());
    const std::uint64_t syncs = s.syncs;
    CHECK(syncs >= 5);  // the log and the directory, MANIFEST and TABLES each with the directory

    for (int i = 0; i < 100; ++i) store.put("key" + std::to_string(i), std::string(50, 'v'));
    s = store.stats();
    CHECK(s.bytes_written == files_bytes());
    CHECK(s.syncs == syncs + 100);  // sync_each: one a put

    store.compact();
    s = store.stats();
    CHECK(s.segments == 2);  // a new log and the one table every entry was merged into
    CHECK(s.compactions == 1);
    // Written since: the new log's header, the flushed table, the merged one, TABLES twice;
    // the flushed table and the first TABLES are gone, so more was written than is there.
    CHECK(s.bytes_written > files_bytes());
    CHECK(s.disk_bytes + std::filesystem::file_size(std::filesystem::path(path) / "MANIFEST") +
              std::filesystem::file_size(std::filesystem::path(path) / "TABLES") ==
          files_bytes());
}

TEST_CASE("disk_index: the log is flushed early for overwritten versions only, not for its records' framing",
          "[table][disk_index]") {
    kvforge_test::temp_dir dir;
    const std::string path = dir.path().string();
    using kvforge_test::key_of;  // keys of 8 bytes
    kvforge::options opts;
    opts.compact_min_bytes = 0;  // at any size; the write buffer (32 MiB) never fills here
    opts.compact_dead_ratio = 0.3;
    {
        table_store store(path, opts);
        // 1,000 keys of 8 bytes with values of 4: the log's framing is over half its bytes,
        // and none of it is an overwritten version.
        for (int i = 0; i < 1000; ++i) store.put(key_of(i), "v" + std::to_string(100 + i % 900));
        CHECK(table_files(path) == 0);
        // Each overwrite makes 12 bytes dead: 429 of them make 0.3 of the 12 * 1,429 written.
        int flushed_at = 0;
        for (int i = 0; i < 1000 && flushed_at == 0; ++i) {
            store.put(key_of(i), "w" + std::to_string(100 + i % 900));
            if (table_files(path) > 0) flushed_at = i + 1;
        }
        CHECK(flushed_at == 429);
    }
    table_store store(path, opts);
    REQUIRE(store.size() == 1000);
    for (int i = 0; i < 1000; ++i) {
        REQUIRE(store.get(key_of(i)) == (i < 429 ? "w" : "v") + std::to_string(100 + i % 900));
    }
}

TEST_CASE("disk_index: erases of keys in the tables flush the buffer early, so that a merge drops what they hide",
          "[table][disk_index]") {
    kvforge_test::temp_dir dir;
    kvforge::options opts;
    opts.compact_min_bytes = 64 << 10;  // the write buffer (32 MiB) never fills here
    table_store store(dir.path().string(), opts);
    for (int i = 0; i < 20000; ++i) store.put("key" + std::to_string(i), std::string(100, 'v'));
    store.compact();  // every record in a table, the buffer empty
    const std::uint64_t full = store.stats().disk_bytes;
    REQUIRE(full > 2'000'000);
    for (int i = 0; i < 20000; ++i) REQUIRE(store.erase("key" + std::to_string(i)));
    // The erases hide 2.2 MB of the tables; kept in the buffer, they would leave it all.
    const kvforge::stats s = store.stats();
    CHECK(s.disk_bytes < full / 2);
    CHECK(s.compactions > 1);
    CHECK(store.empty());
}

TEST_CASE("disk_index: tables of keys with empty values are not merged whole, as they hold no dead versions",
          "[table][disk_index]") {
    kvforge_test::temp_dir dir;
    const std::string path = dir.path().string();
    kvforge::options opts;
    opts.segment_bytes = 64 << 10;  // the write buffer: a table every few thousand keys
    opts.compact_min_bytes = 0;
    opts.compact_dead_ratio = 0.3;
    table_store store(path, opts);
    // Random keys of 8 bytes (no prefix to share) and empty values: the tables' framing,
    // block index and filter outweigh the keys, but none of it is a dead version.
    std::mt19937_64 random(11);
    std::string key(8, ' ');
    int written = 0;
    while (table_files(path) < 3 && written < 200'000) {
        for (char& c : key) c = static_cast<char>(random());
        store.put(key, "");
        ++written;
    }
    REQUIRE(table_files(path) == 3);  // three flushes, below level 0's four that start a compaction
    const kvforge::stats s = store.stats();
    CHECK(s.compactions == 0);
    CHECK(s.dead_bytes == 0);
    CHECK(store.size() == static_cast<std::size_t>(written));
}

TEST_CASE("disk_index: stats().dead_bytes counts the versions the files still hold, less as merges drop them",
          "[table][disk_index]") {
    kvforge_test::temp_dir dir;
    const std::string path = dir.path().string();
    kvforge::options opts;
    opts.segment_bytes = 64 << 10;
    opts.compact_dead_ratio = 0;  // no merge of every table: the compactions of levels alone drop versions
    std::mt19937_64 random(7);
    std::string value(100, ' ');
    {
        table_store store(path, opts);
        for (int round = 0; round < 20; ++round) {
            for (int i = 0; i < 500; ++i) {
                for (char& c : value) c = static_cast<char>(random());
                store.put(kvforge_test::key_of(i), value);
            }
        }
        const kvforge::stats s = store.stats();
        REQUIRE(s.compactions > 0);
        CHECK(s.live_bytes == 500 * (8 + 100));
        // Each byte counted live or dead lies in a file, which adds its framing: the values
        // do not compress. Counted at each overwrite alone, the dead bytes would be 19 times
        // the live ones.
        CHECK(s.dead_bytes > 0);
        CHECK(s.live_bytes + s.dead_bytes <= s.disk_bytes);
        store.compact();
        CHECK(store.stats().dead_bytes == 0);
    }
    table_store store(path, opts);
    CHECK(store.stats().dead_bytes == 0);
    CHECK(store.size() == 500);
}

TEST_CASE("disk_index: kvforge::copy moves a log store's records into a table store and back",
          "[table][disk_index]") {
    kvforge_test::temp_dir dir;
    log_store logs((dir.path() / "logs").string());
    for (int i = 0; i < 2000; ++i) logs.put("key" + std::to_string(i), std::to_string(i * i));
    logs.erase("key7");
    table_store tables((dir.path() / "tables").string());
    tables.put("already", "there");  // records in the destination stay
    kvforge::copy(logs, tables);
    CHECK(tables.size() == 1999 + 1);
    CHECK(tables.get("already") == "there");
    CHECK(tables.get("key1999") == std::to_string(1999 * 1999));
    CHECK_FALSE(tables.contains("key7"));
    log_store back((dir.path() / "back").string());
    kvforge::copy(tables, back);
    CHECK(back.size() == tables.size());
    CHECK(back.get("key1000") == std::to_string(1000 * 1000));
}

TEST_CASE("disk_index: keys in tables cost about 3 bytes of memory each, whatever their number",
          "[table][disk_index]") {
    kvforge_test::temp_dir dir;
    kvforge::options opts;
    opts.segment_bytes = 4 << 20;
    opts.block_cache_bytes = 0;  // the block cache's memory is its own budget (below)
    table_store store(dir.path().string(), opts);
    constexpr int keys = 200'000;
    char key[17];
    for (int i = 0; i < keys; ++i) {
        std::snprintf(key, sizeof key, "%016d", i * 7919 % keys);  // 16-byte keys in random order
        store.put(key, std::string(100, static_cast<char>('a' + i % 26)));
    }
    store.compact();  // every key in tables, the write buffer empty
    const kvforge::stats s = store.stats();
    const double per_key = static_cast<double>(s.memory_bytes) / keys;
    INFO(s.memory_bytes << " bytes of memory for " << keys << " keys: " << per_key << " a key");
    CHECK(per_key <= 3.0);
    CHECK(s.live_keys == static_cast<std::uint64_t>(keys));
}

TEST_CASE("disk_index: the block cache serves hot blocks, and holds within options::block_cache_bytes",
          "[table][disk_index]") {
    kvforge_test::temp_dir dir;
    constexpr int keys = 20'000;  // about 2.3 MB of blocks, over the budget below
    constexpr std::uint64_t budget = 256 << 10;
    write_keys_into_tables(dir.path().string(), keys);
    // Reads every key twice, then one key a hundred times; returns the stats, and the hits
    // of the hundred reads.
    const auto read_all = [&](std::uint64_t cache_bytes, std::uint64_t& hot_hits) {
        kvforge::options opts;
        opts.block_cache_bytes = cache_bytes;
        table_store store(dir.path().string(), opts);
        for (int round = 0; round < 2; ++round) {
            for (int i = 0; i < keys; ++i) REQUIRE(store.get("key" + std::to_string(i)) == std::string(100, 'v'));
        }
        const std::uint64_t before = store.stats().hits;
        for (int i = 0; i < 100; ++i) REQUIRE(store.get("key77") == std::string(100, 'v'));
        const kvforge::stats s = store.stats();
        hot_hits = s.hits - before;
        return s;
    };
    std::uint64_t hot_hits = 0;
    const kvforge::stats none = read_all(0, hot_hits);
    CHECK(none.hits == 0);
    CHECK(none.misses == 0);
    CHECK(hot_hits == 0);
    const kvforge::stats cached = read_all(budget, hot_hits);
    INFO("with the cache: " << cached.hits << " hits, " << cached.misses << " misses, " << cached.evictions
                            << " evictions, " << cached.memory_bytes << " bytes; without: " << none.memory_bytes);
    CHECK(hot_hits >= 99);        // all but perhaps the first
    CHECK(cached.misses > 0);
    CHECK(cached.evictions > 0);  // the blocks outgrow the budget
    CHECK(cached.memory_bytes > none.memory_bytes);
    CHECK(cached.memory_bytes - none.memory_bytes <= budget);

    kvforge::options tiny;
    tiny.block_cache_bytes = 16;
    try {
        table_store store(dir.path().string(), tiny);
        FAIL("a budget too small for one block opened");
    } catch (const kvforge::error& e) {
        CHECK(e.code() == kvforge::errc::invalid_argument);
        CHECK_THAT(e.what(), Catch::Contains("options::block_cache_bytes"));
    }
}

TEST_CASE("disk_index: a write's lookup of the version it hides leaves no block in the block cache",
          "[table][disk_index]") {
    // The written key's newest version is in the write buffer from then on: its block would
    // only push out the blocks that gets keep hot.
    kvforge_test::temp_dir dir;
    constexpr int keys = 20'000;  // about 2.3 MB of blocks, within the budget below
    write_keys_into_tables(dir.path().string(), keys);
    kvforge::options opts;
    opts.segment_bytes = 16 << 20;  // the overwrites below stay in the write buffer
    opts.block_cache_bytes = 4 << 20;
    // The cache misses of gets of the odd keys in a fresh open, after overwrites of the even
    // keys (each of which looks its table's version up) or after none.
    const auto odd_key_misses = [&](bool overwrite_even_keys) {
        table_store store(dir.path().string(), opts);
        if (overwrite_even_keys) {
            for (int i = 0; i < keys; i += 2) store.put("key" + std::to_string(i), std::string(100, 'w'));
        }
        const std::uint64_t before = store.stats().misses;
        for (int i = 1; i < keys; i += 2) REQUIRE(store.get("key" + std::to_string(i)) == std::string(100, 'v'));
        return store.stats().misses - before;
    };
    const std::uint64_t cold = odd_key_misses(false);
    CHECK(cold > 100);  // each block once, about 35 keys a block
    CHECK(odd_key_misses(true) == cold);
}

TEST_CASE("disk_index: the block cache lets go of the blocks of the tables a merge or clear() removes",
          "[table][disk_index]") {
    kvforge_test::temp_dir dir;
    constexpr int keys = 20'000;  // about 2.3 MB of blocks, within the budget below
    kvforge::options opts;
    opts.segment_bytes = 1 << 20;
    opts.block_cache_bytes = 4 << 20;
    table_store store(dir.path().string(), opts);
    const auto write_all = [&](char fill) {
        for (int i = 0; i < keys; ++i) store.put("key" + std::to_string(i), std::string(100, fill));
        store.compact();  // every key in new tables, the older ones removed
    };
    // The memory the store holds with every block in the cache, less what it holds without.
    const auto read_all = [&](char fill) {
        const std::uint64_t before = store.stats().memory_bytes;
        for (int i = 0; i < keys; ++i) REQUIRE(store.get("key" + std::to_string(i)) == std::string(100, fill));
        return store.stats().memory_bytes - before;
    };
    write_all('v');
    const std::uint64_t baseline = store.stats().memory_bytes;
    const std::uint64_t blocks = read_all('v');
    REQUIRE(blocks > 2'000'000);
    REQUIRE(store.stats().evictions == 0);

    write_all('w');
    INFO("blocks: " << blocks << " bytes; memory before them " << baseline << ", after the merge "
                    << store.stats().memory_bytes);
    CHECK(store.stats().memory_bytes < baseline + blocks / 10);
    CHECK(read_all('w') > 2'000'000);  // the new tables' blocks come in
    store.clear();
    CHECK(store.stats().memory_bytes < baseline + blocks / 10);
    CHECK(store.stats().evictions == 0);  // the blocks were let go, not pushed out
}

TEST_CASE("disk_index: get_view hands out a value where it lies in the block cache, valid whatever the store does "
          "next",
          "[table][disk_index]") {
    kvforge_test::temp_dir dir;
    const auto value_of = [](int i) { return "value " + std::to_string(i) + std::string(90, 'v'); };
    table_store store(dir.path().string());
    for (int i = 0; i < 2'000; ++i) store.put("key" + std::to_string(i), value_of(i));
    store.compact();  // every key in tables
    std::optional<kvforge::pinned_value> first = store.get_view("key7");
    const std::optional<kvforge::pinned_value> again = store.get_view("key7");
    REQUIRE(first);
    REQUIRE(again);
    CHECK(first->bytes() == value_of(7));
    CHECK(again->data() == first->data());  // both in the one cached block, not copies
    CHECK_FALSE(store.get_view("missing"));

    // A value in the write buffer is handed out too (as a copy: the buffer changes).
    store.put("key7", "newer");
    const std::optional<kvforge::pinned_value> newer = store.get_view("key7");
    REQUIRE(newer);
    CHECK(newer->bytes() == "newer");

    // The block stays alive for the views after a merge replaces its table and the store
    // closes (AddressSanitizer checks the reads).
    store.compact();
    store.close();
    CHECK(first->bytes() == value_of(7));
    CHECK(again->bytes() == value_of(7));
    CHECK(newer->bytes() == "newer");

    // With no block cache, a view holds a copy of the value.
    kvforge::options opts;
    opts.block_cache_bytes = 0;
    store.open(dir.path().string(), opts);
    const std::optional<kvforge::pinned_value> copied = store.get_view("key8");
    REQUIRE(copied);
    CHECK(copied->bytes() == value_of(8));
    CHECK(store.get_view("key7")->bytes() == "newer");
}

TEST_CASE("disk_index: a closed store refuses calls, and one store object opens another store afresh",
          "[table][disk_index]") {
    kvforge_test::temp_dir dir;
    const std::string first = (dir.path() / "first").string();
    const std::string second = (dir.path() / "second").string();
    table_store store(first);
    store.put("only in first", "1");
    store.close();
    std::error_code ec;
    store.put("k", "v", ec);
    CHECK(ec == kvforge::errc::store_closed);
    CHECK_FALSE(store.get("only in first", ec));
    CHECK(ec == kvforge::errc::store_closed);
    CHECK(store.size() == 0);
    // The same object, opened on another store, holds nothing of the first.
    store.open(second);
    CHECK_FALSE(store.contains("only in first"));
    CHECK(store.size() == 0);
    store.put("only in second", "2");
    store.close();
    store.open(first);
    CHECK(store.get("only in first") == "1");
    CHECK_FALSE(store.contains("only in second"));
}

TEST_CASE("disk_index: a snapshot reads on after its store object opens another store", "[table][disk_index]") {
    kvforge_test::temp_dir dir;
    const std::string first = (dir.path() / "first").string();
    const std::string second = (dir.path() / "second").string();
    kvforge::options opts;
    opts.segment_bytes = 64 << 10;  // some records in tables, some in the buffer
    table_store store(first, opts);
    for (int i = 0; i < 2000; ++i) store.put("key" + std::to_string(i), std::string(60, 'f'));
    const auto snap = store.snapshot();
    store.close();
    store.open(second, opts);  // a new engine; the snapshot holds the first one's
    store.put("key7", "second");
    CHECK(snap.size() == 2000);
    CHECK(snap.get("key7") == std::string(60, 'f'));
    CHECK(snap.get("key1999") == std::string(60, 'f'));
    std::size_t scanned = 0;
    for (const auto& [key, value] : snap.scan()) scanned += value == std::string(60, 'f') ? 1 : 0;
    CHECK(scanned == 2000);
}

TEST_CASE("disk_index: readers open and refresh while a writer flushes and compacts, and see a prefix of its writes",
          "[table][disk_index]") {
    using safe_store = kvforge::store<std::string, std::string, kvforge::file_log, kvforge::disk_index,
                                      kvforge::buffered<>, kvforge::thread_safe>;
    kvforge_test::temp_dir dir;
    const std::string path = dir.path().string();
    kvforge::options opts;
    opts.segment_bytes = 64 << 10;  // a flush every thousand or so puts, and compactions
    safe_store writer(path, opts);
    constexpr int total = 30'000;
    const auto key = [](int i) {
        char text[16];
        std::snprintf(text, sizeof text, "key%07d", i);
        return std::string(text);
    };
    std::atomic<int> written{0};
    std::thread writing([&] {
        for (int i = 0; i < total; ++i) {
            writer.put(key(i), std::to_string(i));
            if (i % 500 == 0) writer.flush();  // the OS has the records a reader reads
            written.store(i + 1);
        }
        writer.flush();
    });
    kvforge::options read_only;
    read_only.read_only = true;
    // Each reader's view holds keys 0..n-1 for some n: the writes in order, none missing.
    const auto check_prefix = [&](const safe_store& reader) {
        const std::size_t n = reader.size();
        if (n > 0) {
            REQUIRE(reader.get(key(static_cast<int>(n) - 1)) == std::to_string(n - 1));
            REQUIRE(reader.get(key(static_cast<int>(n / 2))) == std::to_string(n / 2));
        }
        REQUIRE_FALSE(reader.contains(key(static_cast<int>(n))));
        return n;
    };
    std::size_t opens = 0;
    std::size_t refreshes = 0;
    while (written.load() < total) {
        safe_store reader(path, read_only);
        ++opens;
        std::size_t seen = check_prefix(reader);
        for (int i = 0; i < 5; ++i) {
            reader.refresh();
            ++refreshes;
            const std::size_t now = check_prefix(reader);
            REQUIRE(now >= seen);
            seen = now;
        }
    }
    writing.join();
    safe_store last(path, read_only);
    CHECK(check_prefix(last) == static_cast<std::size_t>(total));
    INFO(opens << " opens, " << refreshes << " refreshes");
    CHECK(opens > 0);
    CHECK(writer.stats().compactions > 0);
}
