// Errno countdown: a scripted workload (open, puts, erases, a batch, sync, compact,
// close, reopen, more writes, close) runs with I/O call k made to fail, for k = 1, 2, ...
// until the workload completes without reaching call k. The faults: EIO and ENOSPC,
// once and on every call from k on; EINTR, once and on every other call from k on;
// short transfers, once and on every transfer from k on; torn writes (half of a pwrite
// written, then EIO or ENOSPC).
//
// After each run the store is reopened with plain POSIX I/O and must open cleanly, pass
// verify(), and hold the writes of some prefix of those the run attempted that includes
// every acknowledged one (sync_each: returned success; buffered: covered by a later
// successful sync, compact or close; async_worker: covered by durable_seq() or a
// successful sync). A failed write or sync must be reported, and every later write
// refused with errc::store_failed until the store is reopened. EINTR and short transfers
// are no errors: under them every call must succeed and everything must be kept.
//
// Runs under AddressSanitizer also check that no failure path leaks memory.
// KVFORGE_TEST_FAULTS=long runs a longer workload on more store configurations.

#include <catch2/catch.hpp>

#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <iostream>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

#include <kvforge/index/disk_index.hpp>
#include <kvforge/io/fault_injection.hpp>
#include <kvforge/kvforge.hpp>

#include "../support/temp_dir.hpp"

namespace {

using faulty_io = kvforge::fault_injecting_io<>;
using contents = std::map<std::string, std::string>;

bool long_countdown() {
    const char* setting = std::getenv("KVFORGE_TEST_FAULTS");
    return setting != nullptr && std::string_view(setting) == "long";
}

/// One write of the workload: its puts (with a value) and erases (without), applied together.
using mutation = std::vector<std::pair<std::string, std::optional<std::string>>>;

void apply_write(contents& state, const mutation& write) {
    for (const auto& [key, value] : write) {
        if (value) {
            state[key] = *value;
        } else {
            state.erase(key);
        }
    }
}

/// What a write returned: success, an error after which it may have landed, or a
/// refusal (store_failed, store_closed) that guarantees it did not.
enum class write_outcome { ok, failed, refused };

/// The writes of one open-to-close stretch of the workload.
struct phase {
    std::vector<mutation> writes;
    std::vector<write_outcome> outcomes;
    std::vector<std::uint64_t> records;  // async_worker: records appended up to and including each write
    std::size_t durable = 0;             // the writes before this index are acknowledged as durable

    /// How many leading writes may be on disk: up to the first that did not succeed,
    /// and that one too unless it was refused.
    [[nodiscard]] std::size_t may_have_landed() const {
        for (std::size_t i = 0; i < outcomes.size(); ++i) {
            if (outcomes[i] != write_outcome::ok) return outcomes[i] == write_outcome::failed ? i + 1 : i;
        }
        return outcomes.size();
    }
};

bool is_refusal(const std::error_code& ec) {
    return ec == kvforge::errc::store_failed || ec == kvforge::errc::store_closed;
}

/// Drives one store through the workload with the calls of a fault-injecting I/O,
/// keeping track of what was acknowledged and checking the rules each result must obey.
template <class Store>
class scripted_run {
public:
    scripted_run(std::string path, faulty_io io, bool faults_are_transparent)
        : path_(std::move(path)), io_(std::move(io)), transparent_(faults_are_transparent) {}

    void open() {
        phases_.emplace_back();
        std::error_code ec;
        store_.open(path_, kvforge::options{}, io_, ec);
        closed_ = static_cast<bool>(ec);
        refusing_ = false;
        records_ = 0;
        if (ec) complain_if_transparent("open", ec);
    }

    void put(const std::string& key, const std::string& value) {
        write("put " + key, {{key, value}}, [&](std::error_code& ec) {
            if constexpr (Store::sequenced) {
                const std::uint64_t sequence = store_.put(key, value, ec);
                if (!ec) expect_sequence(sequence);
            } else {
                store_.put(key, value, ec);
                if (!ec) ++records_;
            }
        });
    }

    void erase(const std::string& key) {
        write("erase " + key, {{key, std::nullopt}}, [&](std::error_code& ec) {
            // Erasing an absent key appends nothing.
            if (store_.erase(key, ec) && !ec) ++records_;
        });
    }

    void write_batch(const mutation& operations) {
        write("batch", operations, [&](std::error_code& ec) {
            typename Store::batch_type b;
            for (const auto& [key, value] : operations) {
                if (value) {
                    b.put(key, *value);
                } else {
                    b.erase(key);
                }
            }
            if constexpr (Store::sequenced) {
                const std::uint64_t sequence = store_.write(b, ec);
                if (!ec) expect_sequence(sequence);
            } else {
                store_.write(b, ec);
                if (!ec) ++records_;
            }
        });
    }

    void sync() {
        std::error_code ec;
        store_.sync(ec);
        settle("sync", ec, true);
    }

    /// A failed compaction need not stop the store: the live data file is untouched
    /// unless the switch to the new one had begun, and then the store refuses writes.
    void compact() {
        std::error_code ec;
        store_.compact(ec);
        settle("compact", ec, false);
    }

    void close() {
        std::error_code ec;
        store_.close(ec);
        if (closed_) {
            // Closing a store that never opened has nothing to do.
            if (ec) complain("close after a failed open returned '" + ec.message() + "'");
            return;
        }
        settle("close", ec, true);
    }

    [[nodiscard]] const std::vector<phase>& phases() const noexcept { return phases_; }
    [[nodiscard]] const std::vector<std::string>& problems() const noexcept { return problems_; }

private:
    template <class Call>
    void write(const std::string& what, mutation operations, Call&& call) {
        phase& current = phases_.back();
        std::error_code ec;
        call(ec);
        current.writes.push_back(std::move(operations));
        current.outcomes.push_back(!ec              ? write_outcome::ok
                                   : is_refusal(ec) ? write_outcome::refused
                                                    : write_outcome::failed);
        current.records.push_back(records_);
        if (!ec && std::is_same_v<typename Store::durability_policy, kvforge::sync_each>) {
            current.durable = current.writes.size();
        }
        settle(what, ec, true);
    }

    /// Checks the result of a call against the rules, then advances what is acknowledged.
    void settle(const std::string& what, const std::error_code& ec, bool failure_sticks) {
        phase& current = phases_.back();
        if (closed_ && ec != kvforge::errc::store_closed) {
            complain(what + " on a store whose open failed returned '" + ec.message() + "', not store_closed");
        } else if (refusing_ && ec != kvforge::errc::store_failed) {
            complain(what + " after a failed write or sync returned '" + ec.message() + "', not store_failed");
        }
        if (ec) {
            complain_if_transparent(what, ec);
            if (failure_sticks && !closed_) refusing_ = true;
            return;
        }
        if (what == "sync" || what == "compact" || what == "close") {
            current.durable = current.writes.size();
        } else if constexpr (Store::sequenced) {
            const std::uint64_t durable = store_.durable_seq();
            while (current.durable < current.writes.size() && current.outcomes[current.durable] == write_outcome::ok &&
                   current.records[current.durable] <= durable) {
                ++current.durable;
            }
        }
    }

    void expect_sequence(std::uint64_t sequence) {
        if (sequence != records_ + 1) {
            complain("a write got sequence number " + std::to_string(sequence) + " after " + std::to_string(records_) +
                     " records");
        }
        records_ = sequence;
    }

    void complain_if_transparent(const std::string& what, const std::error_code& ec) {
        if (transparent_)
            complain(what + " failed with '" + ec.message() + "' (" + kvforge::last_error_message() + ")");
    }

    void complain(std::string problem) { problems_.push_back(std::move(problem)); }

    std::string path_;
    faulty_io io_;
    bool transparent_;
    Store store_;
    std::vector<phase> phases_;
    std::vector<std::string> problems_;
    bool closed_ = false;    // the last open failed
    bool refusing_ = false;  // a write or sync failed since the last open
    std::uint64_t records_ = 0;
};

/// The workload. Every call is made whatever the earlier ones returned.
template <class Store>
void run_workload(scripted_run<Store>& run, bool longer) {
    const int keys = longer ? 40 : 6;
    run.open();
    for (int i = 0; i < keys; ++i) run.put("key" + std::to_string(i), "value" + std::to_string(i));
    run.erase("key2");
    run.erase("key5");
    run.put("key3", "second value");
    run.write_batch({{"key8", "in a batch"}, {"key0", std::nullopt}, {"large", std::string(3000, 'L')}});
    run.sync();
    run.put("key1", std::string(5000, 'x'));
    run.compact();
    run.put("key10", "after compaction");
    run.erase("key4");
    run.erase("never written");
    run.close();

    run.open();
    run.put("key11", "after reopening");
    run.erase("key1");
    run.write_batch({{"key12", "second batch"}, {"key2", "back again"}, {"large", std::nullopt}});
    run.put("key3", "third value");
    if (longer) {
        for (int i = 0; i < keys; i += 3) run.put("key" + std::to_string(i), "late" + std::to_string(i));
        run.compact();
        run.erase("key6");
    }
    run.close();
}

/// Every state the disk may hold after the phases: per phase, any prefix of its
/// writes from the acknowledged ones up to those that may have landed.
std::vector<contents> allowed_contents(const std::vector<phase>& phases) {
    std::vector<contents> states{contents{}};
    for (const phase& p : phases) {
        std::vector<contents> next;
        for (const contents& start : states) {
            contents state = start;
            for (std::size_t i = 0; i < p.durable; ++i) apply_write(state, p.writes[i]);
            next.push_back(state);
            for (std::size_t i = p.durable; i < p.may_have_landed(); ++i) {
                apply_write(state, p.writes[i]);
                next.push_back(state);
            }
        }
        states = std::move(next);
    }
    return states;
}

/// Reopens the store with POSIX I/O and checks what it holds; returns the problems found.
template <class Store>
std::vector<std::string> check_after_faults(const std::string& path, const std::vector<phase>& phases,
                                            bool everything) {
    std::vector<std::string> problems;
    for (const phase& p : phases) {
        if (p.durable > p.may_have_landed()) problems.push_back("a write was acknowledged after an earlier one failed");
    }
    Store db;
    std::error_code ec;
    db.open(path, kvforge::options{}, {}, ec);
    if (ec) {
        problems.push_back("reopening failed: " + ec.message() + " (" + kvforge::last_error_message() + ")");
        return problems;
    }
    const kvforge::verify_report report = db.verify(ec);
    if (ec || !report.damaged.empty()) {
        problems.push_back("verify() after recovery: " + (ec ? ec.message() : report.damaged.front().problem));
    }
    contents found;
    db.for_each([&](const std::string& key, const std::string& value) { found.emplace(key, value); }, ec);
    if (ec) problems.push_back("reading the recovered store: " + ec.message());

    if (everything) {
        contents expected;
        for (const phase& p : phases) {
            for (const mutation& write : p.writes) apply_write(expected, write);
        }
        if (found != expected) problems.push_back("a fault that is no error lost writes");
    } else {
        bool allowed = false;
        for (const contents& state : allowed_contents(phases)) allowed = allowed || state == found;
        if (!allowed)
            problems.push_back(
                "the recovered contents are no prefix of the writes that includes every acknowledged one");
    }
    return problems;
}

/// A fault to count down, and whether a store should hide it from its callers.
struct countdown_fault {
    std::string name;
    kvforge::io_fault fault;
    bool transparent = false;
};

std::vector<countdown_fault> countdown_faults() {
    using namespace kvforge;  // the fault vocabulary: io_call, io_calls, fault_mode, fault_effect
    // ENOSPC comes from calls that allocate space or directory entries; EINTR from calls that can block.
    const io_calls allocating = io_call::open | io_call::pwrite | io_call::fdatasync | io_call::fsync |
                                io_call::ftruncate | io_call::mkdir | io_call::rename;
    const io_calls blocking = io_call::open | io_call::pread | io_call::preadv | io_call::pwrite | io_call::fdatasync |
                              io_call::fsync | io_call::ftruncate | io_call::flock;
    const io_calls all = io_calls::all();
    const io_calls transfers = io_calls::transfers();
    using enum fault_mode;
    return {
        {"EIO once", {.calls = all, .error = EIO, .mode = once}},
        {"EIO from call k on", {.calls = all, .error = EIO, .mode = persistent}},
        {"ENOSPC once", {.calls = allocating, .error = ENOSPC, .mode = once}},
        {"ENOSPC from call k on", {.calls = allocating, .error = ENOSPC, .mode = persistent}},
        {"EIO after a torn write once", {.calls = all, .error = EIO, .mode = once, .effect = fault_effect::torn_write}},
        {"ENOSPC after a torn write from call k on",
         {.calls = all, .error = ENOSPC, .mode = persistent, .effect = fault_effect::torn_write}},
        {"EINTR once", {.calls = blocking, .error = EINTR, .mode = once}, true},
        {"EINTR on every other call from k on", {.calls = blocking, .error = EINTR, .mode = alternating}, true},
        {"short transfer once", {.calls = transfers, .mode = once, .effect = fault_effect::short_transfer}, true},
        {"short transfers from call k on",
         {.calls = transfers, .mode = persistent, .effect = fault_effect::short_transfer},
         true},
    };
}

std::string describe(const std::vector<kvforge::injected_fault>& injected) {
    std::string text;
    for (const kvforge::injected_fault& fault : injected) {
        if (text.size() > 300) return text + " ...";
        text += " call " + std::to_string(fault.call_number) + " " + std::string(io_call_name(fault.call)) +
                (fault.torn ? " torn" : "") + (fault.error != 0 ? " errno " + std::to_string(fault.error) : " short") +
                ";";
    }
    return text;
}

template <class StorePolicy, class Durability, class Index = kvforge::hash_index,
          class Threading = kvforge::single_thread>
struct countdown_config {
    template <class IO>
    using store_type = kvforge::store<std::string, std::string, StorePolicy, Durability, Index, Threading, IO>;

    static std::string name() {
        return std::string(StorePolicy::name) + " " + std::string(Durability::name) + " " + std::string(Index::name) +
               " " + (Threading::concurrent ? "thread_safe" : "single_thread");
    }
};

/// Counts every fault down on one configuration and prints what it exercised.
template <class Config>
void count_down() {
    using faulty_store = typename Config::template store_type<faulty_io>;
    using plain_store = typename Config::template store_type<kvforge::posix_io>;
    const bool longer = long_countdown();
    std::uint64_t runs = 0;
    std::uint64_t injection_points = 0;
    std::uint64_t longest = 0;
    for (const countdown_fault& kind : countdown_faults()) {
        for (std::uint64_t k = 1;; ++k) {
            kvforge_test::temp_dir dir;
            const std::string path = dir / "db";
            faulty_io io;
            kvforge::io_fault fault = kind.fault;
            fault.at = k;
            io.inject(fault);
            std::vector<std::string> problems;
            std::vector<phase> phases;
            {
                scripted_run<faulty_store> run(path, io, kind.transparent);
                run_workload(run, longer);
                problems = run.problems();
                phases = run.phases();
            }
            const std::vector<kvforge::injected_fault> injected = io.injected();
            for (std::string& problem : check_after_faults<plain_store>(path, phases, kind.transparent)) {
                problems.push_back(std::move(problem));
            }
            ++runs;
            longest = std::max(longest, io.calls());
            if (!problems.empty()) {
                std::string report;
                for (const std::string& problem : problems) report += "\n  " + problem;
                FAIL(Config::name() << ", " << kind.name << ", k = " << k << ", injected:" << describe(injected)
                                    << report);
            }
            if (injected.empty()) break;  // the workload finished before call k
            ++injection_points;
        }
    }
    std::cout << "errno countdown, " << Config::name() << ": " << injection_points << " injection points in " << runs
              << " runs (up to " << longest << " I/O calls a run)\n";
    CHECK(injection_points > 0);
}

template <class... Configs>
void count_down_all(std::tuple<Configs...>*) {
    (count_down<Configs>(), ...);
}

using default_configs = std::tuple<
    countdown_config<kvforge::file_log, kvforge::sync_each>, countdown_config<kvforge::file_log, kvforge::buffered<>>,
    countdown_config<kvforge::file_log, kvforge::async_worker<>>,
    countdown_config<kvforge::mmap_file, kvforge::sync_each>, countdown_config<kvforge::mmap_file, kvforge::buffered<>>,
    countdown_config<kvforge::mmap_file, kvforge::async_worker<>>,
    countdown_config<kvforge::file_log, kvforge::sync_each, kvforge::sorted_index, kvforge::thread_safe>,
    countdown_config<kvforge::file_log, kvforge::sync_each, kvforge::disk_index>,
    countdown_config<kvforge::file_log, kvforge::buffered<>, kvforge::disk_index, kvforge::thread_safe>>;

using long_configs = std::tuple<
    countdown_config<kvforge::file_log, kvforge::buffered<>, kvforge::sorted_index, kvforge::thread_safe>,
    countdown_config<kvforge::file_log, kvforge::async_worker<>, kvforge::sorted_index, kvforge::thread_safe>,
    countdown_config<kvforge::mmap_file, kvforge::sync_each, kvforge::sorted_index, kvforge::thread_safe>,
    countdown_config<kvforge::mmap_file, kvforge::buffered<>, kvforge::sorted_index, kvforge::single_thread>,
    countdown_config<kvforge::mmap_file, kvforge::async_worker<>, kvforge::sorted_index, kvforge::thread_safe>,
    countdown_config<kvforge::file_log, kvforge::async_worker<>, kvforge::disk_index, kvforge::thread_safe>,
    countdown_config<kvforge::file_log, kvforge::sync_each, kvforge::disk_index, kvforge::thread_safe>,
    countdown_config<kvforge::file_log, kvforge::buffered<>, kvforge::disk_index, kvforge::single_thread>>;

}  // namespace

TEST_CASE("errno countdown: every I/O call failing in turn loses nothing acknowledged", "[reliability][faults]") {
    count_down_all(static_cast<default_configs*>(nullptr));
    if (long_countdown()) count_down_all(static_cast<long_configs*>(nullptr));
}
