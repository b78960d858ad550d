#pragma once
// What the redis_cluster tests need of the cluster tools/redis_cluster.sh started: its seed
// nodes (KVFORGE_REDIS_SEEDS), a fresh store name for each test, a direct connection to a
// node (to look at the cluster behind the store's back and to move slots), and polling
// with a deadline for conditions that come in the background.

#include <hiredis/hiredis.h>

#include <catch2/catch.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdarg>
#include <cstdlib>
#include <memory>
#include <string>
#include <string_view>
#include <thread>
#include <unistd.h>

#include <kvforge/stores/redis/hash_slot.hpp>

namespace kvforge_test {

/// The seeds of the running cluster ("127.0.0.1:7100,127.0.0.1:7101"); fails the test without them.
inline std::string redis_seeds() {
    const char* seeds = std::getenv("KVFORGE_REDIS_SEEDS");
    if (seeds == nullptr || *seeds == '\0') {
        FAIL("KVFORGE_REDIS_SEEDS is not set: start a cluster with tools/redis_cluster.sh and name its nodes "
             "(tools/test.sh redis does both)");
    }
    return seeds;
}

/// A location for a new store: the cluster's seeds and a name no other test uses.
inline std::string fresh_location(std::string_view label) {
    static std::atomic<int> next{0};
    return "redis_cluster:" + redis_seeds() + "/test-" + std::to_string(::getpid()) + "-" +
           std::to_string(next.fetch_add(1)) + "-" + std::string(label);
}

/// A direct connection to one node, for what the tests check or do behind the store's back.
class node {
public:
    explicit node(int port) : port_(port), context_(redisConnect("127.0.0.1", port)) {
        REQUIRE(context_ != nullptr);
        REQUIRE(context_->err == 0);
    }

    /// Runs a command given as words; returns its reply as text (an integer as its digits,
    /// an error as "ERR ...", nil as "(nil)").
    std::string run(std::initializer_list<std::string_view> words) {
        std::vector<const char*> parts;
        std::vector<std::size_t> sizes;
        for (const std::string_view word : words) {
            parts.push_back(word.data());
            sizes.push_back(word.size());
        }
        auto* r = static_cast<redisReply*>(
            redisCommandArgv(context_.get(), static_cast<int>(parts.size()), parts.data(), sizes.data()));
        REQUIRE(r != nullptr);
        std::string text;
        if (r->type == REDIS_REPLY_INTEGER) {
            text = std::to_string(r->integer);
        } else if (r->type == REDIS_REPLY_NIL) {
            text = "(nil)";
        } else if (r->type == REDIS_REPLY_ARRAY) {
            for (std::size_t i = 0; i < r->elements; ++i) {
                if (r->element[i]->str != nullptr) text.append(r->element[i]->str, r->element[i]->len).append("\n");
            }
        } else if (r->str != nullptr) {
            text.assign(r->str, r->len);
        }
        freeReplyObject(r);
        return text;
    }

    [[nodiscard]] int port() const noexcept { return port_; }

private:
    struct context_deleter {
        void operator()(redisContext* c) const noexcept { redisFree(c); }
    };
    int port_;
    std::unique_ptr<redisContext, context_deleter> context_;
};

/// The port of the first seed that accepts a connection (a test may have killed one).
inline int first_port() {
    const std::string seeds = redis_seeds();
    for (std::size_t at = 0; at < seeds.size();) {
        const std::size_t comma = std::min(seeds.find(',', at), seeds.size());
        const std::string seed = seeds.substr(at, comma - at);
        const int port = std::atoi(seed.c_str() + seed.find(':') + 1);
        redisContext* probe = redisConnect("127.0.0.1", port);
        const bool up = probe != nullptr && probe->err == 0;
        if (probe != nullptr) redisFree(probe);
        if (up) return port;
        at = comma + 1;
    }
    FAIL("no seed of KVFORGE_REDIS_SEEDS accepts a connection");
    return 0;
}

/// The port of the master that serves slot, as the cluster's nodes say (CLUSTER SHARDS is
/// Redis 7's; CLUSTER NODES is parsed instead, which every version has).
inline int master_port_of(std::uint16_t slot) {
    node any(first_port());
    const std::string nodes = any.run({"CLUSTER", "NODES"});
    std::size_t start = 0;
    while (start < nodes.size()) {
        const std::size_t end = nodes.find('\n', start);
        const std::string line = nodes.substr(start, end - start);
        start = end == std::string::npos ? nodes.size() : end + 1;
        if (line.find("master") == std::string::npos || line.find(",fail") != std::string::npos) continue;
        // Fields: id addr flags master ping pong epoch state slot-ranges...
        std::size_t field = 0;
        std::size_t pos = 0;
        int port = 0;
        while (pos < line.size()) {
            const std::size_t space = line.find(' ', pos);
            const std::string word = line.substr(pos, space - pos);
            pos = space == std::string::npos ? line.size() : space + 1;
            if (field == 1) port = std::atoi(word.c_str() + word.find(':') + 1);
            if (field >= 8 && word.front() != '[') {
                const std::size_t dash = word.find('-');
                const int first = std::atoi(word.c_str());
                const int last = dash == std::string::npos ? first : std::atoi(word.c_str() + dash + 1);
                if (slot >= first && slot <= last) return port;
            }
            ++field;
        }
    }
    return 0;
}

/// The port of the first replica of the master on port (CLUSTER REPLICAS: "id host:port@bus ...").
inline int replica_port_of(int master_port) {
    node master(master_port);
    const std::string replicas = master.run({"CLUSTER", "REPLICAS", master.run({"CLUSTER", "MYID"})});
    REQUIRE_FALSE(replicas.empty());
    const std::string address = replicas.substr(replicas.find(' ') + 1);
    return std::atoi(address.c_str() + address.find(':') + 1);
}

/// Polls condition every 20 ms until it holds; fails the test when it does not within limit.
template <class Condition>
void eventually(std::string_view what, std::chrono::milliseconds limit, Condition&& condition) {
    const auto deadline = std::chrono::steady_clock::now() + limit;
    while (!condition()) {
        if (std::chrono::steady_clock::now() > deadline) {
            FAIL(std::string(what) + " did not happen within " + std::to_string(limit.count()) + " ms");
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
}

}  // namespace kvforge_test
