// Readers in other processes beside a writer that is killed (SIGKILL) again and again:
// each reader opens the store read-only while a writer holds it and refreshes in a loop
// while the writer writes, rolls segments over, compacts, dies mid-write and is replaced
// by a new writer whose open cuts the torn tail. Every value a reader returns is checked
// against what the writer had made durable before the refresh:
//
//   - the writer writes batches {seq = i, key(i % batch_key_count) = value(i)} with sync_each,
//     and publishes i in shared memory once the batch returned (durable);
//   - after a refresh, a reader sees seq >= what was published before it (everything
//     durable before the refresh), never less than it saw before (no record lost to a
//     compaction or a new writer's recovery), and key(seq % batch_key_count) == value(seq)
//     (the batch whole: its view is a prefix of the writer's log);
//   - every value it visits is one the writer wrote for that key, no later than seq;
//   - the keys written before the writers started are all there, unchanged, whatever
//     the compactions of the other keys moved.
//
// KVFORGE_TEST_READER_ROUNDS writers are killed in turn (default 4).

#include <catch2/catch.hpp>

#include <sched.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <string>
#include <system_error>
#include <vector>

#include <kvforge/kvforge.hpp>

#include "../support/env.hpp"
#include "../support/temp_dir.hpp"

namespace {

constexpr int batch_key_count = 300;
constexpr int reader_count = 3;

std::string batch_key(std::uint64_t i) { return "key" + std::to_string(i % batch_key_count); }

/// Keys written once before the writers start, never changed: the store's bulk, beside
/// which the compactions of the churning keys are small (a reader's refresh applies
/// their outputs and retired segments rather than reading the store anew).
constexpr int base_count = 5000;
std::string base_key(int i) { return "base" + std::to_string(i); }
std::string base_value(int i) { return "base value " + std::to_string(i) + std::string(80, '.'); }
/// Values long enough that a few thousand batches fill several 64 KiB segments.
std::string batch_value(std::uint64_t i) { return "value " + std::to_string(i) + std::string(40 + i % 60, '.'); }

/// What the processes share: the writer's last durable batch, the readers' progress and
/// the first failure one of them met.
struct shared_state {
    std::atomic<std::uint64_t> durable{0};
    std::atomic<bool> stop{false};
    std::atomic<std::uint64_t> refreshes[reader_count]{};
    std::atomic<int> failed{0};
    char failure[512]{};
};
static_assert(std::atomic<std::uint64_t>::is_always_lock_free, "shared between processes");

shared_state* map_shared_state() {
    void* memory = ::mmap(nullptr, sizeof(shared_state), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    REQUIRE(memory != MAP_FAILED);
    return new (memory) shared_state;
}

/// Records the first failure and ends the child process that met it.
[[noreturn]] void child_fails(shared_state& shared, const std::string& what) {
    if (shared.failed.fetch_add(1) == 0) {
        std::snprintf(shared.failure, sizeof shared.failure, "%s", what.c_str());
    }
    std::_Exit(1);
}

kvforge::options writer_options() {
    kvforge::options opts;
    opts.segment_bytes = 64 << 10;
    opts.compact_min_bytes = 64 << 10;
    return opts;
}

/// The writer: goes on from the seq its open recovered, until it is killed.
template <class Store>
[[noreturn]] void run_writer(const std::string& path, shared_state& shared) {
    try {
        Store db(path, writer_options());
        const std::optional<std::string> seq = db.get("seq");
        std::uint64_t i = seq ? std::stoull(*seq) : 0;
        if (i < shared.durable.load()) child_fails(shared, "the writer's open lost durable batches");
        for (;;) {
            ++i;
            typename Store::batch_type batch;
            batch.put("seq", std::to_string(i));
            batch.put(batch_key(i), batch_value(i));
            db.write(batch);
            shared.durable.store(i);
            if (i % 5000 == 0) db.compact();  // rewrites the whole store: a reader reads it anew
        }
    } catch (const std::exception& e) {
        child_fails(shared, std::string("writer: ") + e.what());
    }
}

/// Checks one value the reader read for key number k: one the writer wrote for it, no
/// later than seq.
void check_value(shared_state& shared, std::uint64_t k, std::string_view value, std::uint64_t seq) {
    const std::string prefix = "value ";
    if (value.substr(0, prefix.size()) != prefix) child_fails(shared, "a value the writer never wrote");
    const std::uint64_t i = std::stoull(std::string(value.substr(prefix.size())));
    if (i % batch_key_count != k || i > seq || value != batch_value(i)) {
        child_fails(shared, "value of batch " + std::to_string(i) + " under key " + std::to_string(k) +
                                " (the reader's seq is " + std::to_string(seq) + ")");
    }
}

/// A reader: opens read-only beside the writer, then refreshes and checks until told to stop.
template <class Store>
[[noreturn]] void run_reader(const std::string& path, shared_state& shared, int number) {
    try {
        kvforge::options opts;
        opts.read_only = true;
        const std::uint64_t durable_at_open = shared.durable.load();
        Store db(path, opts);
        std::uint64_t last_seq = 0;
        for (std::uint64_t round = 0; !shared.stop.load(); ++round) {
            const std::uint64_t durable = round == 0 ? durable_at_open : shared.durable.load();
            if (round != 0) db.refresh();
            const std::optional<std::string> seq_text = db.get("seq");
            const std::uint64_t seq = seq_text ? std::stoull(*seq_text) : 0;
            if (seq < durable || seq < last_seq) {
                child_fails(shared, "reader sees seq " + std::to_string(seq) + " after batch " +
                                        std::to_string(durable) + " was durable (it saw " +
                                        std::to_string(last_seq) + " before)");
            }
            last_seq = seq;
            if (seq != 0 && db.get(batch_key(seq)) != std::optional<std::string>(batch_value(seq))) {
                child_fails(shared, "batch " + std::to_string(seq) + " seen in part");
            }
            if (round % 16 == 0) {
                int base_seen = 0;
                db.for_each([&](const std::string& key, const std::string& value) {
                    if (key.starts_with("base")) {
                        const int b = std::stoi(key.substr(4));
                        if (value != base_value(b)) child_fails(shared, "a wrong value under " + key);
                        ++base_seen;
                    } else if (key != "seq") {
                        check_value(shared, std::stoull(key.substr(3)), value, seq);
                    }
                });
                if (base_seen != base_count) {
                    child_fails(shared, "reader sees " + std::to_string(base_seen) + " of the " +
                                            std::to_string(base_count) + " keys written before the writers");
                }
            }
            shared.refreshes[number].fetch_add(1);
        }
        std::_Exit(0);
    } catch (const std::exception& e) {
        child_fails(shared, "reader " + std::to_string(number) + ": " + e.what());
    }
}

/// Waits until done() holds, failing the test after a minute.
template <class Done>
void wait_or_fail(Done&& done, const char* what) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::minutes(1);
    while (!done()) {
        INFO(what);
        REQUIRE(std::chrono::steady_clock::now() < deadline);
        ::sched_yield();
    }
}

template <class Function>
pid_t start_child(Function&& function) {
    const pid_t child = ::fork();
    REQUIRE(child >= 0);
    if (child == 0) function();
    return child;
}

}  // namespace

TEMPLATE_TEST_CASE("readers in other processes refresh beside a writer killed again and again",
                   "[reliability][readers]",
                   (kvforge::store<std::string, std::string, kvforge::file_log, kvforge::hash_index, kvforge::sync_each,
                                   kvforge::single_thread>),
                   (kvforge::store<std::string, std::string, kvforge::mmap_file, kvforge::sorted_index,
                                   kvforge::sync_each, kvforge::thread_safe>)) {
    kvforge_test::temp_dir dir;
    const std::string path = dir / "db";
    shared_state& shared = *map_shared_state();
    const std::uint64_t rounds = kvforge_test::env_or("KVFORGE_TEST_READER_ROUNDS", 4);
    constexpr std::uint64_t batches_per_round = 3000;

    {
        TestType db(path, writer_options());
        for (int i = 0; i < base_count; ++i) db.put(base_key(i), base_value(i));
    }
    pid_t writer = start_child([&] { run_writer<TestType>(path, shared); });
    wait_or_fail([&] { return shared.durable.load() > 0 || shared.failed.load() != 0; },
                 "the first writer's first batch");
    std::vector<pid_t> readers;
    for (int r = 0; r < reader_count; ++r) {
        readers.push_back(start_child([&] { run_reader<TestType>(path, shared, r); }));
    }
    for (std::uint64_t round = 1; round <= rounds; ++round) {
        const std::uint64_t target = round * batches_per_round;
        wait_or_fail([&] { return shared.durable.load() >= target || shared.failed.load() != 0; },
                     "the writer's batches");
        ::kill(writer, SIGKILL);
        REQUIRE(::waitpid(writer, nullptr, 0) == writer);
        if (round < rounds) writer = start_child([&] { run_writer<TestType>(path, shared); });
    }
    // Each reader refreshes after the last writer died, and reaches its last batch.
    const std::uint64_t refreshed[reader_count] = {shared.refreshes[0].load(), shared.refreshes[1].load(),
                                                   shared.refreshes[2].load()};
    for (int r = 0; r < reader_count; ++r) {
        wait_or_fail([&] { return shared.refreshes[r].load() > refreshed[r] + 1 || shared.failed.load() != 0; },
                     "a reader's refresh after the last writer");
    }
    shared.stop.store(true);
    for (const pid_t reader : readers) {
        int status = 0;
        REQUIRE(::waitpid(reader, &status, 0) == reader);
        CHECK(WIFEXITED(status));
    }
    INFO(shared.failure);
    REQUIRE(shared.failed.load() == 0);
    for (int r = 0; r < reader_count; ++r) CHECK(shared.refreshes[r].load() > rounds);

    // A writer's open after the last kill finds every durable batch: the last one published,
    // or the one after it, which the writer was killed between writing and publishing.
    TestType db(path);
    const std::uint64_t recovered = std::stoull(db.get("seq").value_or("0"));
    CHECK(recovered >= shared.durable.load());
    CHECK(recovered <= shared.durable.load() + 1);
    ::munmap(&shared, sizeof shared);
}
