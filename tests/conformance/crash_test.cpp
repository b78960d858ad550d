// Kill -9: a child process writes and is killed at a random moment; the parent reopens
// the store and checks that every acknowledged write is there and that the store holds
// a prefix of the operations (no holes, nothing torn). KVFORGE_TEST_KILLS sets the
// number of kills per configuration (default 100: 600 in all, plus the compaction runs).
// Expiring stores are killed too (a tenth as often): the deadlines of acknowledged writes
// survive with them.

#include <catch2/catch.hpp>

#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <filesystem>
#include <cstdint>
#include <cstdlib>
#include <map>
#include <optional>
#include <random>
#include <string>
#include <tuple>

#include "store_configs.hpp"

using namespace kvforge_test;

namespace {

using crash_configs = std::tuple<store<std::string, std::string, file_log, hash_index, sync_each, single_thread>,
                                 store<std::string, std::string, file_log, sorted_index, sync_each, thread_safe>,
                                 store<std::string, std::string, file_log, hash_index, async_worker<>, single_thread>,
                                 store<std::string, std::string, file_log, sorted_index, async_worker<>, thread_safe>,
                                 store<std::string, std::string, mmap_file, hash_index, sync_each, thread_safe>,
                                 store<std::string, std::string, mmap_file, sorted_index, async_worker<>, single_thread>>;

constexpr int workload_keys = 40;

/// Operation i of the workload: a put of value i under key i % workload_keys, or (for
/// stores without sequence numbers, every seventh) an erase of that key.
struct operation {
    bool erase = false;
    std::string key;
    std::string value;
};

template <class Store>
operation operation_at(int i, std::size_t value_size) {
    const bool erase = !Store::sequenced && i % 7 == 3;
    std::string value = std::to_string(i);
    value.resize(std::max(value.size(), value_size), '.');
    return {erase, "key" + std::to_string(i % workload_keys), erase ? std::string() : value};
}

/// The child: writes operations forever, reporting on the pipe the index of each
/// operation once it is acknowledged as durable.
template <class Store>
[[noreturn]] void run_child(const std::string& path, const options& opts, std::size_t value_size, int compact_every,
                            int report_fd) {
    Store db(path, opts);
    for (int i = 0;; ++i) {
        if (compact_every > 0 && i % compact_every == compact_every - 1) db.compact();
        const operation op = operation_at<Store>(i, value_size);
        if constexpr (Store::sequenced) {
            const std::uint64_t sequence = db.put(op.key, op.value);
            if (i % 8 == 7) db.wait_durable(sequence);
            // Every put is one record, so sequence number s is operation s - 1.
            const auto durable = static_cast<int>(db.durable_seq()) - 1;
            if (durable >= 0 && ::write(report_fd, &durable, sizeof durable) != sizeof durable) std::_Exit(3);
        } else {
            if (op.erase) {
                db.erase(op.key);
            } else {
                db.put(op.key, op.value);
            }
            if (::write(report_fd, &i, sizeof i) != sizeof i) std::_Exit(3);
        }
    }
}

/// What one kill cycle saw.
struct kill_outcome {
    int acknowledged = 0;            ///< operations acknowledged before the kill, all checked
    bool mid_compaction = false;     ///< the kill left a half-written generation behind
    std::uint32_t generation = 0;    ///< the highest segment id after recovery
};

/// Runs one kill cycle.
template <class Store>
kill_outcome kill_once(std::mt19937_64& rng, const options& opts, std::size_t value_size, int compact_every = 0) {
    kill_outcome outcome;
    temp_dir dir;
    const std::string path = dir / "store";
    int pipe_fds[2];
    REQUIRE(::pipe(pipe_fds) == 0);
    const pid_t child = ::fork();
    REQUIRE(child >= 0);
    if (child == 0) {
        ::close(pipe_fds[0]);
        run_child<Store>(path, opts, value_size, compact_every, pipe_fds[1]);
    }
    ::close(pipe_fds[1]);

    // Let the child get a random distance in, then kill it wherever it is.
    const auto acks_before_kill = std::uniform_int_distribution<int>(1, 400)(rng);
    int acknowledged = -1;
    int received = 0;
    for (int value = 0; received < acks_before_kill && ::read(pipe_fds[0], &value, sizeof value) == sizeof value;) {
        acknowledged = std::max(acknowledged, value);
        ++received;
    }
    // A random moment later, so that kills land anywhere in the child's work, not only
    // just after an acknowledgement.
    const auto delay = std::chrono::microseconds(std::uniform_int_distribution<int>(0, 500)(rng));
    for (const auto start = std::chrono::steady_clock::now(); std::chrono::steady_clock::now() - start < delay;) {
    }
    ::kill(child, SIGKILL);
    int status = 0;
    REQUIRE(::waitpid(child, &status, 0) == child);
    REQUIRE(WIFSIGNALED(status));
    // Acknowledgements written before the kill still count.
    for (int value = 0; ::read(pipe_fds[0], &value, sizeof value) == sizeof value;) acknowledged = std::max(acknowledged, value);
    ::close(pipe_fds[0]);
    for (const auto& entry : std::filesystem::directory_iterator(path)) {
        if (entry.path().extension() == ".tmp") outcome.mid_compaction = true;
    }

    Store db(path, opts);
    for (const auto& entry : std::filesystem::directory_iterator(path)) {
        if (entry.path().extension() == ".kvlog") {
            outcome.generation = std::max(
                outcome.generation, static_cast<std::uint32_t>(std::stoul(entry.path().stem().string().substr(5))));
        }
    }
    std::map<std::string, std::string> recovered;
    db.for_each([&](const std::string& k, const std::string& v) { recovered.emplace(k, v); });
    // Find the prefix of operations the recovered state equals; it must cover every acknowledged one.
    std::map<std::string, std::string> model;
    int matching_prefix = model == recovered ? 0 : -1;
    for (int i = 0; i <= acknowledged + 100000 && matching_prefix < 0; ++i) {
        const operation op = operation_at<Store>(i, value_size);
        if (op.erase) {
            model.erase(op.key);
        } else {
            model[op.key] = op.value;
        }
        if (i >= acknowledged && model == recovered) matching_prefix = i + 1;
    }
    INFO("acknowledged operations 0.." << acknowledged << ", recovered " << recovered.size() << " keys");
    REQUIRE(matching_prefix >= acknowledged + 1);
    REQUIRE(db.verify().ok());
    outcome.acknowledged = acknowledged + 1;
    return outcome;
}

int kills_per_config() {
    const char* text = std::getenv("KVFORGE_TEST_KILLS");
    return text != nullptr ? std::atoi(text) : 100;
}

}  // namespace

TEMPLATE_LIST_TEST_CASE("kill -9 loses no acknowledged write and leaves a prefix", "[crash]", crash_configs) {
    std::mt19937_64 rng(4242);
    long checked = 0;
    const int kills = kills_per_config();
    for (int k = 0; k < kills; ++k) checked += kill_once<TestType>(rng, options{}, 16).acknowledged;
    CHECK(checked >= kills);
}

TEMPLATE_LIST_TEST_CASE("kill -9 during compaction loses nothing acknowledged", "[crash][compaction]", crash_configs) {
    std::mt19937_64 rng(777);
    options opts;
    opts.compact_min_bytes = 8 << 10;  // compact automatically every few hundred writes,
    opts.compact_dead_ratio = 0.3;     // and explicitly every 16
    long checked = 0;
    int compacted = 0;
    int mid_compaction = 0;
    const int kills = std::max(1, kills_per_config() / 3);
    for (int k = 0; k < kills; ++k) {
        const kill_outcome outcome = kill_once<TestType>(rng, opts, 200, 16);
        checked += outcome.acknowledged;
        compacted += outcome.generation > 1 ? 1 : 0;
        mid_compaction += outcome.mid_compaction ? 1 : 0;
    }
    CHECK(checked >= kills);
    // The workload must really have been compacting when it was killed.
    CHECK(compacted > kills / 2);
    WARN(kills << " kills during a compacting workload, " << mid_compaction
               << " of them in the middle of writing a new generation");
}

namespace {

using expiring_crash_configs =
    std::tuple<store<std::string, std::string, file_log, hash_index, sync_each, single_thread, expiring<test_clock>>,
               store<std::string, std::string, mmap_file, sorted_index, async_worker<>, thread_safe,
                     expiring<test_clock>>>;

/// The deadline operation i of the expiring workload gives its key: 1 to 5 seconds after start.
test_clock::time_point deadline_of_operation(test_clock::time_point start, int i) {
    return start + std::chrono::seconds(1 + i % 5);
}

/// The expiring child: puts value i under key i % workload_keys with deadline_of_operation(i),
/// reporting each operation once it is durable, until it is killed.
template <class Store>
[[noreturn]] void run_expiring_child(const std::string& path, test_clock::time_point start, int report_fd) {
    Store db(path);
    for (int i = 0;; ++i) {
        const std::string key = "key" + std::to_string(i % workload_keys);
        int durable = i;
        if constexpr (Store::sequenced) {
            const std::uint64_t sequence = db.put(key, std::to_string(i), deadline_of_operation(start, i));
            if (i % 8 == 7) db.wait_durable(sequence);
            durable = static_cast<int>(db.durable_seq()) - 1;  // sequence number s is operation s - 1
        } else {
            db.put(key, std::to_string(i), deadline_of_operation(start, i));
        }
        if (durable >= 0 && ::write(report_fd, &durable, sizeof durable) != sizeof durable) std::_Exit(3);
    }
}

}  // namespace

TEMPLATE_LIST_TEST_CASE("kill -9 keeps the deadlines of acknowledged writes", "[crash][expiry]",
                        expiring_crash_configs) {
    std::mt19937_64 rng(99);
    const int kills = std::max(3, kills_per_config() / 10);
    for (int k = 0; k < kills; ++k) {
        temp_dir dir;
        const std::string path = dir / "store";
        const test_clock::time_point start = test_clock::now();
        int pipe_fds[2];
        REQUIRE(::pipe(pipe_fds) == 0);
        const pid_t child = ::fork();
        REQUIRE(child >= 0);
        if (child == 0) {
            ::close(pipe_fds[0]);
            run_expiring_child<TestType>(path, start, pipe_fds[1]);
        }
        ::close(pipe_fds[1]);
        const auto acks_before_kill = std::uniform_int_distribution<int>(1, 400)(rng);
        int acknowledged = -1;
        for (int value = 0, received = 0;
             received < acks_before_kill && ::read(pipe_fds[0], &value, sizeof value) == sizeof value; ++received) {
            acknowledged = std::max(acknowledged, value);
        }
        ::kill(child, SIGKILL);
        int status = 0;
        REQUIRE(::waitpid(child, &status, 0) == child);
        for (int value = 0; ::read(pipe_fds[0], &value, sizeof value) == sizeof value;) {
            acknowledged = std::max(acknowledged, value);
        }
        ::close(pipe_fds[0]);

        TestType db(path);
        INFO("kill " << k << ", operations 0.." << acknowledged << " acknowledged");
        // Every key holds the value of an operation at or after its last acknowledged one,
        // with that operation's deadline.
        std::size_t expiring_within_3s = 0;
        for (int key = 0; key < workload_keys; ++key) {
            const std::optional<std::string> value = db.get("key" + std::to_string(key));
            const int last_acknowledged = acknowledged - ((acknowledged - key) % workload_keys + workload_keys) % workload_keys;
            if (!value) {
                CHECK(last_acknowledged < 0);
                continue;
            }
            const int i = std::stoi(*value);
            CHECK(i % workload_keys == key);
            CHECK(i >= last_acknowledged);
            CHECK(db.expiry("key" + std::to_string(key)) == deadline_of_operation(start, i));
            if (1 + i % 5 <= 3) ++expiring_within_3s;
        }
        test_clock::advance(std::chrono::seconds(3));
        CHECK(db.purge_expired() == expiring_within_3s);
        db.close();
    }
}

TEMPLATE_LIST_TEST_CASE("kill -9 across segment rollovers loses nothing acknowledged", "[crash][segments]",
                        crash_configs) {
    std::mt19937_64 rng(9091);
    options opts;
    opts.segment_bytes = 64 << 10;  // a new segment every 30 writes of 2 KB
    long checked = 0;
    int rolled_over = 0;
    const int kills = std::max(1, kills_per_config() / 3);
    for (int k = 0; k < kills; ++k) {
        const kill_outcome outcome = kill_once<TestType>(rng, opts, 2000);
        checked += outcome.acknowledged;
        rolled_over += outcome.generation > 1 ? 1 : 0;
    }
    CHECK(checked >= kills);
    // The workload must really have been closing segments when it was killed.
    CHECK(rolled_over > kills / 2);
}
