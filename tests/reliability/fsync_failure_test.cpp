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

using faulty_io = kvforge::fault_injecting_io<>;

bool long_fsync_run() {
    const char* setting = std::getenv("KVFORGE_TEST_FAULTS");
    return setting != nullptr && std::string_view(setting) == "long";
}

std::string fsync_key(int i) { return "key" + std::to_string(i); }
std::string fsync_value(int i) {
    return "value of " + std::to_string(i) + std::string(static_cast<std::size_t>(i % 7) * 40, '.');
}

template <class StorePolicy, class Durability>
struct fsync_config {
    template <class IO>
    using store_type = kvforge::store<std::string, std::string, StorePolicy, Durability, IO>;
};

using configs = std::tuple<
    fsync_config<kvforge::file_log, kvforge::sync_each>, fsync_config<kvforge::file_log, kvforge::buffered<>>,
    fsync_config<kvforge::file_log, kvforge::async_worker<>>, fsync_config<kvforge::mmap_file, kvforge::sync_each>,
    fsync_config<kvforge::mmap_file, kvforge::buffered<>>, fsync_config<kvforge::mmap_file, kvforge::async_worker<>>>;

/// The number of pwrite and fdatasync calls made so far.
std::uint64_t writes_and_syncs(const faulty_io& io) {
    return io.calls(kvforge::io_call::pwrite) + io.calls(kvforge::io_call::fdatasync);
}

}  // namespace

TEMPLATE_LIST_TEST_CASE("a failed fdatasync is reported, never retried, and stops all writes until reopened",
                        "[reliability][faults][fsync]", configs) {
    using faulty_store = typename TestType::template store_type<faulty_io>;
    using plain_store = typename TestType::template store_type<kvforge::posix_io>;
    constexpr bool sequenced = faulty_store::sequenced;
    constexpr bool syncs_each_write = std::is_same_v<typename faulty_store::durability_policy, kvforge::sync_each>;
    const int steps = long_fsync_run() ? 200 : 24;

    for (std::uint64_t n = 1;; ++n) {
        INFO("the fdatasync made to fail: number " << n << " after open");
        kvforge_test::temp_dir dir;
        const std::string path = dir / "db";
        faulty_io io;
        int attempted = 0;     // fsync_key(0) .. fsync_key(attempted - 1) were written
        int acknowledged = 0;  // fsync_key(0) .. fsync_key(acknowledged - 1) are durable
        bool failed = false;
        bool in_worker = false;  // async_worker's thread met the failure
        {
            faulty_store db(path, {}, io);
            io.inject({.at = n, .calls = kvforge::io_call::fdatasync, .error = EIO});
            std::uint64_t last_sequence = 0;
            std::error_code ec;
            for (int i = 0; i < steps && !failed; ++i) {
                if constexpr (sequenced) {
                    const std::uint64_t sequence = db.put(fsync_key(i), fsync_value(i), ec);
                    if (!ec) last_sequence = sequence;
                } else {
                    db.put(fsync_key(i), fsync_value(i), ec);
                }
                if (ec) {
                    // Only sync_each waits for the disk in put(); async_worker may refuse a
                    // write once its worker failed, reporting the failed fdatasync.
                    if constexpr (syncs_each_write) {
                        CHECK(ec == std::errc::io_error);
                        attempted = i + 1;
                    } else {
                        REQUIRE(sequenced);
                        CHECK(ec == kvforge::errc::store_failed);
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
                    in_worker = sequenced && ec == kvforge::errc::store_failed;
                    CHECK((ec == std::errc::io_error || in_worker));
                    failed = true;
                } else if (i % 3 == 2 || i == 7) {
                    acknowledged = attempted;
                }
            }
            if (!failed) {
                db.sync(ec);
                in_worker = sequenced && ec == kvforge::errc::store_failed;
                failed = static_cast<bool>(ec);
                if (!failed) acknowledged = attempted;
            }
            if (io.injected().empty()) break;  // the workload needed fewer than n syncs
            REQUIRE(io.injected().size() == 1);
            if (!failed) {
                // The failed fdatasync was a hint file's, which only speeds up opening: the
                // store drops that hint and goes on, and loses nothing.
                CHECK(db.get(fsync_key(0)) == fsync_value(0));
            } else {
                CHECK_THAT(kvforge::last_error_message(), Catch::Contains("fdatasync"));
                std::uint64_t durable_at_failure = 0;
                if constexpr (sequenced) {
                    // fsync_key(i) has sequence number i + 1; a group that failed in the worker is not durable.
                    durable_at_failure = db.durable_seq();
                    if (in_worker) CHECK(durable_at_failure < last_sequence);
                    acknowledged = std::max(acknowledged, static_cast<int>(durable_at_failure));
                }

                // Every write is refused without touching the file; reads go on.
                const std::uint64_t calls_at_failure = writes_and_syncs(io);
                db.put("after", "refused", ec);
                CHECK(ec == kvforge::errc::store_failed);
                CHECK_FALSE(db.erase(fsync_key(0), ec));
                CHECK(ec == kvforge::errc::store_failed);
                typename faulty_store::batch_type b;
                b.put("batch", "refused");
                db.write(b, ec);
                CHECK(ec == kvforge::errc::store_failed);
                db.sync(ec);
                CHECK(ec == kvforge::errc::store_failed);
                db.flush(ec);
                CHECK(ec == kvforge::errc::store_failed);
                db.compact(ec);
                CHECK(ec == kvforge::errc::store_failed);
                // Every write that returned success is still read back, durable or not.
                for (int i = 0; i < attempted; ++i) {
                    const std::optional<std::string> read = db.get(fsync_key(i), ec);
                    INFO("reading " << fsync_key(i) << " of " << attempted
                                    << " written: " << kvforge::last_error_message());
                    REQUIRE_FALSE(ec);
                    CHECK(read == fsync_value(i));
                }
                CHECK_FALSE(db.contains("after"));
                if constexpr (sequenced) CHECK(db.durable_seq() == durable_at_failure);  // it never advances again
                db.close(ec);
                CHECK(ec == kvforge::errc::store_failed);  // what was not durable is lost: close says so
                CHECK(writes_and_syncs(io) == calls_at_failure);
            }
        }

        // Reopened from the file: the acknowledged writes and a prefix of the others.
        plain_store db(path);
        CHECK(db.verify().damaged.empty());
        int present = 0;
        while (present < attempted && db.contains(fsync_key(present))) ++present;
        CHECK(present >= acknowledged);
        for (int i = 0; i < present; ++i) CHECK(db.get(fsync_key(i)) == fsync_value(i));
        CHECK(db.size() == static_cast<std::size_t>(present));
        if constexpr (!sequenced) {
            // The failed fdatasync came after its pwrite, and the page cache still has those bytes.
            CHECK(present == attempted);
        }
        db.put("after reopening", "accepted");
        CHECK(db.get("after reopening") == std::optional<std::string>("accepted"));
    }
}
