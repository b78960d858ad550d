// kvforge::redis_cluster beside raw hiredis on the same cluster, in the same run:
//
//   put/kvforge_buffered     puts into a store with buffered<128 KiB> (about 1,000 puts a flush),
//                            the buffer sent as one pipeline per master
//   put/raw_pipelined        SET by hiredis, 1,024 at a time: appended to each key's master's
//                            connection, then every reply read
//   get/kvforge_get_many     get_many() of 1,024 keys (the store hands its backend all 1,024 at
//                            once: one pipeline of GETs per master)
//   get/raw_pipelined_512    GET by hiredis, pipelined 512 at a time
//   get/raw_pipelined_1024   GET by hiredis, pipelined 1,024 at a time, as get_many's depth
//   get/kvforge_get          one get() at a time: a round trip each
//   put/kvforge_sync_each    one put with sync_each: SET and WAIT 1 (a replica has it), a round trip
//
// items_per_second counts keys. Keys are 16 bytes, values 100; 100,000 keys in the store
// named "bench", all written before the first benchmark, so that every put overwrites. Needs KVFORGE_REDIS_SEEDS, as the tests do (tools/redis_cluster.sh starts a
// cluster; see docs/benchmarks.md for the command).

#include <benchmark/benchmark.h>
#include <hiredis/hiredis.h>

#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include <kvforge/kvforge.hpp>
#include <kvforge/stores/redis/hash_slot.hpp>
#include <kvforge/stores/redis/slot_map.hpp>
#include <kvforge/stores/redis_cluster.hpp>

namespace {

constexpr std::size_t key_count = 100000;
constexpr std::size_t chunk = 1024;
const std::string value(100, 'v');

std::string seeds() {
    const char* s = std::getenv("KVFORGE_REDIS_SEEDS");
    if (s == nullptr) {
        std::fprintf(stderr, "redis_cluster_bench: set KVFORGE_REDIS_SEEDS (e.g. 127.0.0.1:7100)\n");
        std::exit(2);
    }
    return s;
}

std::string key_of(std::size_t i) {
    char text[17];
    std::snprintf(text, sizeof text, "key%013zu", i);
    return text;
}

const std::vector<std::string>& keys() {
    static const std::vector<std::string> all = [] {
        std::vector<std::string> k;
        for (std::size_t i = 0; i < key_count; ++i) k.push_back(key_of(i));
        return k;
    }();
    return all;
}

/// Raw hiredis on the cluster: a connection per master, keys routed by their slot.
class raw_cluster {
public:
    raw_cluster() {
        const std::string first = seeds().substr(0, seeds().find(','));
        redisContext* seed = connect(first);
        auto* r = static_cast<redisReply*>(redisCommand(seed, "CLUSTER SLOTS"));
        std::string problem;
        if (r == nullptr || !map_.assign(*r, first, problem)) std::abort();
        freeReplyObject(r);
        redisFree(seed);
        for (const std::string& master : map_.masters()) contexts_[master] = connect(master);
    }
    raw_cluster(const raw_cluster&) = delete;
    raw_cluster& operator=(const raw_cluster&) = delete;
    ~raw_cluster() {
        for (auto& [address, context] : contexts_) redisFree(context);
    }

    /// Sends each of keys' commands ("SET" with value, or "GET") to its master, then reads every reply.
    void pipeline(std::span<const std::string> batch, bool set) {
        std::map<redisContext*, std::size_t> sent;
        for (const std::string& k : batch) {
            redisContext* c = contexts_[*map_.master_of(kvforge::detail::redis::hash_slot(k))];
            if (set) {
                redisAppendCommand(c, "SET %b %b", k.data(), k.size(), value.data(), value.size());
            } else {
                redisAppendCommand(c, "GET %b", k.data(), k.size());
            }
            ++sent[c];
        }
        // Every master's pipeline is written before any reply is read, so that they work at once.
        for (const auto& [c, n] : sent) {
            int done = 0;
            while (done == 0) {
                if (redisBufferWrite(c, &done) != REDIS_OK) std::abort();
            }
        }
        for (const auto& [c, n] : sent) {
            for (std::size_t i = 0; i < n; ++i) {
                void* reply = nullptr;
                if (redisGetReply(c, &reply) != REDIS_OK) std::abort();
                freeReplyObject(reply);
            }
        }
    }

private:
    static redisContext* connect(const std::string& address) {
        const std::size_t colon = address.rfind(':');
        redisContext* c = redisConnect(address.substr(0, colon).c_str(), std::atoi(address.c_str() + colon + 1));
        if (c == nullptr || c->err != 0) std::abort();
        return c;
    }

    kvforge::detail::redis::slot_map map_;
    std::map<std::string, redisContext*> contexts_;
};

/// The raw loop's keys: the store's, with its prefix, so that both touch the same slots.
const std::vector<std::string>& raw_keys() {
    static const std::vector<std::string> all = [] {
        std::vector<std::string> k;
        for (const std::string& key : keys()) k.push_back("bench/" + key);
        return k;
    }();
    return all;
}

std::string location() { return "redis_cluster:" + seeds() + "/bench"; }

/// Writes every key once, so that every benchmark overwrites keys that exist (a first
/// write of a key costs the node more than an overwrite).
void fill() {
    kvforge::store<std::string, std::string, kvforge::redis_cluster> db(location());
    for (const std::string& k : keys()) db.put(k, value);
    db.flush();
}

void put_kvforge_buffered(benchmark::State& state) {
    fill();
    kvforge::store<std::string, std::string, kvforge::redis_cluster, kvforge::buffered<128 << 10, 60000>> db(
        location());
    std::size_t next = 0;
    for (auto _ : state) {
        for (std::size_t i = 0; i < chunk; ++i) db.put(keys()[(next + i) % key_count], value);
        next += chunk;
    }
    db.flush();
    state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * chunk));
}

void put_raw_pipelined(benchmark::State& state) {
    raw_cluster raw;
    std::size_t next = 0;
    for (auto _ : state) {
        const std::size_t first = next % (key_count - chunk);
        raw.pipeline(std::span(raw_keys()).subspan(first, chunk), true);
        next += chunk;
    }
    state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * chunk));
}

void get_kvforge_get_many(benchmark::State& state) {
    fill();
    kvforge::store<std::string, std::string, kvforge::redis_cluster> db(location());
    std::vector<std::optional<std::string>> out(chunk);
    std::size_t next = 0;
    for (auto _ : state) {
        const std::size_t first = next % (key_count - chunk);
        if (db.get_many(std::span(keys()).subspan(first, chunk), std::span(out)) != chunk) std::abort();
        next += chunk;
    }
    state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * chunk));
}

void get_raw_pipelined(benchmark::State& state) {
    const auto depth = static_cast<std::size_t>(state.range(0));
    raw_cluster raw;
    std::size_t next = 0;
    for (auto _ : state) {
        for (std::size_t done = 0; done < chunk; done += depth) {
            raw.pipeline(std::span(raw_keys()).subspan((next + done) % (key_count - chunk), depth), false);
        }
        next += chunk;
    }
    state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * chunk));
}

void get_kvforge_get(benchmark::State& state) {
    kvforge::store<std::string, std::string, kvforge::redis_cluster> db(location());
    std::size_t next = 0;
    std::string out;
    for (auto _ : state) {
        if (!db.get(keys()[next++ % key_count], out)) std::abort();
    }
    state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
}

void put_kvforge_sync_each(benchmark::State& state) {
    kvforge::store<std::string, std::string, kvforge::redis_cluster, kvforge::sync_each> db(location());
    std::size_t next = 0;
    for (auto _ : state) db.put(keys()[next++ % key_count], value);
    state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
}

}  // namespace

BENCHMARK(put_kvforge_buffered)->Name("put/kvforge_buffered")->UseRealTime();
BENCHMARK(put_raw_pipelined)->Name("put/raw_pipelined")->UseRealTime();
BENCHMARK(get_kvforge_get_many)->Name("get/kvforge_get_many")->UseRealTime();
BENCHMARK(get_raw_pipelined)->Name("get/raw_pipelined_512")->Arg(512)->UseRealTime();
BENCHMARK(get_raw_pipelined)->Name("get/raw_pipelined_1024")->Arg(1024)->UseRealTime();
BENCHMARK(get_kvforge_get)->Name("get/kvforge_get")->UseRealTime();
BENCHMARK(put_kvforge_sync_each)->Name("put/kvforge_sync_each")->UseRealTime();

BENCHMARK_MAIN();
