// A failed fdatasync, for every durability policy on file_log and mmap_file: after it
// the kernel may have dropped the dirty pages it was to write, so a store that retried
// it and reported success would claim durability for bytes that may be gone. The n-th
// fdatasync after open is made to fail (n = 1, 2, ... until the workload needs fewer)
// and the store must report the error on the call that waited for it, never count the
// failed writes as durable, refuse every later write with errc::store_failed without
// making one more pwrite or fdatasync, keep serving reads, and after reopening hold
// what the file holds: every acknowledged write and a prefix of the others.
//
// KVFORGE_TEST_FAULTS=long runs a longer workload.

#include <catch2/catch.hpp>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <tuple>
#include <type_traits>

#include <kvforge/io/fault_injection.hpp>
#include <kvforge/kvforge.hpp>

#include "../support/temp_dir.hpp"

namespace {

using namespace kvforge;
using faulty_io = fault_injecting_io<>;

bool long_run() {
    const char* setting = std::getenv("KVFORGE_TEST_FAULTS");
    return setting != nullptr && std::string_view(setting) == "long";
}

std::string key(int i) { return "key" + std::to_string(i); }
std::string value(int i) {
    return "value of " + std::to_string(i) + std::string(static_cast<std::size_t>(i % 7) * 40, '.');
}

template <class StorePolicy, class Durability>
struct config {
    template <class IO>
    using store_type = store<std::string, std::string, StorePolicy, Durability, IO>;
};

using configs =
    std::tuple<config<file_log, sync_each>, config<file_log, buffered<>>, config<file_log, async_worker<>>,
               config<mmap_file, sync_each>, config<mmap_file, buffered<>>, config<mmap_file, async_worker<>>>;

/// The number of pwrite and fdatasync calls made so far.
std::uint64_t writes_and_syncs(const faulty_io& io) { return io.calls(io_call::pwrite) + io.calls(io_call::fdatasync); }

}  // namespace

TEMPLATE_LIST_TEST_CASE("a failed fdatasync is reported, never retried, and stops all writes until reopened",
                        "[reliability][faults][fsync]", configs) {
    using faulty_store = typename TestType::template store_type<faulty_io>;
    using plain_store = typename TestType::template store_type<posix_io>;
    constexpr bool sequenced = faulty_store::sequenced;
    constexpr bool syncs_each_write = std::is_same_v<typename faulty_store::durability_policy, sync_each>;
    const int steps = long_run() ? 200 : 24;

    for (std::uint64_t n = 1;; ++n) {
        INFO("the fdatasync made to fail: number " << n << " after open");
        kvforge_test::temp_dir dir;
        const std::string path = dir / "db";
        faulty_io io;
        int attempted = 0;     // key(0) .. key(attempted - 1) were written
        int acknowledged = 0;  // key(0) .. key(acknowledged - 1) are durable
        bool failed = false;
        bool in_worker = false;  // async_worker's thread met the failure
        {
            faulty_store db(path, {}, io);
            io.inject({.at = n, .calls = io_call::fdatasync, .error = EIO});
            std::uint64_t last_sequence = 0;
            std::error_code ec;
            for (int i = 0; i < steps && !failed; ++i) {
                if constexpr (sequenced) {
                    const std::uint64_t sequence = db.put(key(i), value(i), ec);
                    if (!ec) last_sequence = sequence;
                } else {
                    db.put(key(i), value(i), ec);
                }
                if (ec) {
                    // Only sync_each waits for the disk in put(); async_worker may refuse a
                    // write once its worker failed, reporting the failed fdatasync.
                    if constexpr (syncs_each_write) {
                        CHECK(ec == std::errc::io_error);
                        attempted = i + 1;
                    } else {
                        REQUIRE(sequenced);
                        CHECK(ec == errc::store_failed);
                        attempted = i;
                        in_worker = true;
                    }
                    failed = true;
                    break;
                }
                attempted = i + 1;
                if (syncs_each_write) acknowledged = attempted;
                // Every third write, wait for the disk; once, rewrite the log in a compaction.
                if (i % 3 == 2) {
                    if constexpr (sequenced) {
                        db.wait_durable(last_sequence, ec);
                    } else {
                        db.sync(ec);
                    }
                } else if (i == 7) {
                    db.compact(ec);
                }
                if (ec) {
                    // async_worker reports its thread's failure as store_failed, naming the cause;
                    // a compaction reports the failed sync of its new file itself.
                    in_worker = sequenced && ec == errc::store_failed;
                    CHECK((ec == std::errc::io_error || in_worker));
                    failed = true;
                } else if (i % 3 == 2 || i == 7) {
                    acknowledged = attempted;
                }
            }
            if (!failed) {
                db.sync(ec);
                in_worker = sequenced && ec == errc::store_failed;
                failed = static_cast<bool>(ec);
                if (!failed) acknowledged = attempted;
            }
            if (io.injected().empty()) break;  // the workload needed fewer than n syncs
            REQUIRE(io.injected().size() == 1);
            if (!failed) {
                // The failed fdatasync was a hint file's, which only speeds up opening: the
                // store drops that hint and goes on, and loses nothing.
                CHECK(db.get(key(0)) == value(0));
            } else {
                CHECK_THAT(last_error_message(), Catch::Contains("fdatasync"));
                std::uint64_t durable_at_failure = 0;
                if constexpr (sequenced) {
                    // key(i) has sequence number i + 1; a group that failed in the worker is not durable.
                    durable_at_failure = db.durable_seq();
                    if (in_worker) CHECK(durable_at_failure < last_sequence);
                    acknowledged = std::max(acknowledged, static_cast<int>(durable_at_failure));
                }

                // Every write is refused without touching the file; reads go on.
                const std::uint64_t calls_at_failure = writes_and_syncs(io);
                db.put("after", "refused", ec);
                CHECK(ec == errc::store_failed);
                CHECK_FALSE(db.erase(key(0), ec));
                CHECK(ec == errc::store_failed);
                typename faulty_store::batch_type b;
                b.put("batch", "refused");
                db.write(b, ec);
                CHECK(ec == errc::store_failed);
                db.sync(ec);
                CHECK(ec == errc::store_failed);
                db.flush(ec);
                CHECK(ec == errc::store_failed);
                db.compact(ec);
                CHECK(ec == errc::store_failed);
                // Every write that returned success is still read back, durable or not.
                for (int i = 0; i < attempted; ++i) {
                    const std::optional<std::string> read = db.get(key(i), ec);
                    INFO("reading " << key(i) << " of " << attempted << " written: " << last_error_message());
                    REQUIRE_FALSE(ec);
                    CHECK(read == value(i));
                }
                CHECK_FALSE(db.contains("after"));
                if constexpr (sequenced) CHECK(db.durable_seq() == durable_at_failure);  // it never advances again
                db.close(ec);
                CHECK(ec == errc::store_failed);  // what was not durable is lost: close says so
                CHECK(writes_and_syncs(io) == calls_at_failure);
            }
        }

        // Reopened from the file: the acknowledged writes and a prefix of the others.
        plain_store db(path);
        CHECK(db.verify().damaged.empty());
        int present = 0;
        while (present < attempted && db.contains(key(present))) ++present;
        CHECK(present >= acknowledged);
        for (int i = 0; i < present; ++i) CHECK(db.get(key(i)) == value(i));
        CHECK(db.size() == static_cast<std::size_t>(present));
        if constexpr (!sequenced) {
            // The failed fdatasync came after its pwrite, and the page cache still has those bytes.
            CHECK(present == attempted);
        }
        db.put("after reopening", "accepted");
        CHECK(db.get("after reopening") == std::optional<std::string>("accepted"));
    }
}
