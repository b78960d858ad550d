// expiring<> over a sync_each store: writers of different keys wait for their sync side
// by side, so concurrent puts still share syncs (group commit) as they do without expiry;
// and writers of the same key, racing, leave the deadline index matching the record
// that won.

#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <kvforge/kvforge.hpp>

#include "../support/temp_dir.hpp"
#include "../support/test_clock.hpp"

using namespace std::chrono_literals;
using kvforge_test::temp_dir;
using kvforge_test::test_clock;

namespace {

/// POSIX I/O whose syncs take as long as a disk's (2 ms), counted from every thread;
/// copies share the count. Without the delay a sync on tmpfs is over before a second
/// writer arrives, and no two writers ever share one.
struct slow_sync_io : kvforge::posix_io {
    std::shared_ptr<std::atomic<std::uint64_t>> syncs = std::make_shared<std::atomic<std::uint64_t>>(0);
    int fdatasync(int fd) noexcept {
        ++*syncs;
        std::this_thread::sleep_for(2ms);
        return kvforge::posix_io::fdatasync(fd);
    }
    int fsync(int fd) noexcept {
        ++*syncs;
        return kvforge::posix_io::fsync(fd);
    }
};

template <class... Policies>
using synced_log = kvforge::store<std::string, std::string, kvforge::file_log, kvforge::sync_each,
                                  kvforge::thread_safe, slow_sync_io, Policies...>;

constexpr int writer_count = 8;
constexpr int puts_per_writer = 40;

/// The syncs writer_count threads of puts_per_writer puts each take in a fresh Store.
template <class Store>
std::uint64_t syncs_of_concurrent_puts(const std::string& path) {
    slow_sync_io io;
    Store db(path, kvforge::options{}, io);
    const std::uint64_t before = io.syncs->load();
    std::vector<std::thread> writers;
    for (int t = 0; t < writer_count; ++t) {
        writers.emplace_back([&db, t] {
            for (int i = 0; i < puts_per_writer; ++i) {
                const std::string key = "w" + std::to_string(t) + "-" + std::to_string(i);
                if constexpr (Store::expiring) {
                    db.put(key, "value", 1h);
                } else {
                    db.put(key, "value");
                }
            }
        });
    }
    for (std::thread& writer : writers) writer.join();
    const std::uint64_t syncs = io.syncs->load() - before;
    CHECK(db.size() == writer_count * puts_per_writer);
    if constexpr (Store::expiring) {
        CHECK(db.expiry("w3-7").has_value());
        test_clock::advance(2h);
        CHECK(db.purge_expired() == writer_count * puts_per_writer);
        CHECK(db.size() == 0);
    }
    return syncs;
}

}  // namespace

TEST_CASE("concurrent puts to an expiring sync_each store share syncs as a plain store's do",
          "[expiry][durability][threads]") {
    temp_dir dir;
    const std::uint64_t plain = syncs_of_concurrent_puts<synced_log<>>(dir / "plain");
    const std::uint64_t expiring = syncs_of_concurrent_puts<synced_log<kvforge::expiring<test_clock>>>(dir / "expiring");
    INFO("syncs without expiry: " << plain << ", with expiry: " << expiring << ", puts: "
                                  << writer_count * puts_per_writer);
    // Without sharing, every put takes its own sync.
    CHECK(plain < writer_count * puts_per_writer / 2);
    CHECK(expiring <= 2 * plain);
}

TEST_CASE("racing writers of the same keys leave the deadline index matching the records that won",
          "[expiry][threads]") {
    using store_type = kvforge::store<std::string, std::string, kvforge::file_log, kvforge::thread_safe,
                                      kvforge::expiring<test_clock>>;
    temp_dir dir;
    store_type db(dir / "store");
    constexpr int key_count = 16;
    constexpr int rounds = 300;
    const test_clock::time_point start = test_clock::now();
    std::vector<std::thread> writers;
    for (int t = 0; t < 4; ++t) {
        writers.emplace_back([&db, t, start] {
            for (int r = 0; r < rounds; ++r) {
                const std::string key = "k" + std::to_string((r * 7 + t) % key_count);
                switch ((r + t) % 4) {
                    case 0: db.put(key, "plain"); break;
                    case 1: db.put(key, "soon", start + std::chrono::seconds(1 + t)); break;
                    case 2: db.put(key, "later", start + std::chrono::seconds(100 + t)); break;
                    default: {
                        store_type::batch_type b;
                        b.put(key, "batch", start + std::chrono::seconds(50 + t));
                        db.write(b);
                    }
                }
            }
        });
    }
    for (std::thread& writer : writers) writer.join();

    // Each key's record holds a deadline or none; purging past every deadline must remove
    // exactly the keys with one, and leave the others.
    int with_deadline = 0;
    for (int k = 0; k < key_count; ++k) {
        if (db.expiry("k" + std::to_string(k))) ++with_deadline;
    }
    CHECK(db.size() == key_count);
    test_clock::set(start + std::chrono::seconds(1000));
    CHECK(db.size() == static_cast<std::size_t>(key_count - with_deadline));
    CHECK(db.purge_expired() == static_cast<std::size_t>(with_deadline));
    CHECK(db.size() == static_cast<std::size_t>(key_count - with_deadline));
    for (int k = 0; k < key_count; ++k) {
        const std::optional<std::string> value = db.get("k" + std::to_string(k));
        if (value) CHECK(*value == "plain");
    }
    CHECK(db.purge_expired() == 0);
}
