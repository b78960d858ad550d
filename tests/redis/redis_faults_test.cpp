// kvforge::redis_cluster when nodes fail: a master stopped (SIGSTOP) makes calls fail with a
// timeout, and they succeed once it runs again; a master killed (SIGKILL) while threads
// write with sync_each loses no acknowledged write once its replica has taken over. Tagged
// [faults]: tools/test.sh runs them after the other tests, since they change which node
// is a master. They need KVFORGE_REDIS_DIR (where tools/redis_cluster.sh keeps its pid
// files) and KVFORGE_REDIS_CLUSTER_SCRIPT (to start the killed node again).

#include <catch2/catch.hpp>

#include <signal.h>
#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

#include <kvforge/kvforge.hpp>
#include <kvforge/stores/redis_cluster.hpp>

#include "cluster.hpp"

namespace {

using shared_store =
    kvforge::store<std::string, std::string, kvforge::redis_cluster, kvforge::sync_each, kvforge::thread_safe>;

std::string required_env(const char* name) {
    const char* value = std::getenv(name);
    if (value == nullptr || *value == '\0') FAIL(std::string(name) + " is not set (tools/test.sh redis sets it)");
    return value;
}

/// The pid of the node on port, from the pid file tools/redis_cluster.sh gave it.
pid_t node_pid(int port) {
    std::ifstream file(required_env("KVFORGE_REDIS_DIR") + "/node-" + std::to_string(port) + ".pid");
    pid_t pid = 0;
    file >> pid;
    REQUIRE(pid > 0);
    return pid;
}

/// Sends SIGCONT to a stopped node when the scope ends, however the test ends.
struct resumed_at_exit {
    pid_t pid;
    ~resumed_at_exit() { ::kill(pid, SIGCONT); }
};

std::string name_of(const std::string& location) { return location.substr(location.rfind('/') + 1); }

bool cluster_ok_everywhere(const std::vector<int>& ports) {
    for (const int port : ports) {
        kvforge_test::node n(port);
        if (n.run({"CLUSTER", "INFO"}).find("cluster_state:ok") == std::string::npos) return false;
    }
    return true;
}

}  // namespace

TEST_CASE("redis_cluster: a stopped master makes calls time out, and they succeed once it runs again",
          "[redis][faults]") {
    const std::string location = kvforge_test::fresh_location("stopped");
    kvforge::options opts;
    opts.remote_command_millis = 300;
    shared_store db(location, opts);
    db.put("k", "v");
    const int port = kvforge_test::master_port_of(kvforge::detail::redis::hash_slot(name_of(location) + "/k"));
    const pid_t pid = node_pid(port);
    std::error_code ec;
    std::chrono::milliseconds took{};
    {
        const resumed_at_exit resume{pid};
        REQUIRE(::kill(pid, SIGSTOP) == 0);
        const auto start = std::chrono::steady_clock::now();
        const std::optional<std::string> value = db.get("k", ec);
        took = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start);
        CHECK_FALSE(value.has_value());
    }
    CHECK(ec == std::errc::timed_out);
    CHECK_THAT(kvforge::last_error_message(), Catch::Contains("127.0.0.1:" + std::to_string(port)));
    CHECK(took >= std::chrono::milliseconds(250));
    CHECK(took < std::chrono::milliseconds(800));
    kvforge_test::eventually("a get after SIGCONT", std::chrono::seconds(20), [&] {
        std::error_code again;
        return db.get("k", again) == "v" && !again;
    });
    db.put("k", "w");
    CHECK(db.get("k") == "w");
}

TEST_CASE("redis_cluster: a master killed under writers loses no acknowledged write", "[redis][faults]") {
    const std::string location = kvforge_test::fresh_location("killed");
    kvforge::options opts;
    opts.remote_command_millis = 1000;
    shared_store db(location, opts);
    const int victim = kvforge_test::master_port_of(kvforge::detail::redis::hash_slot(name_of(location) + "/probe"));
    const int heir = kvforge_test::replica_port_of(victim);
    const pid_t victim_pid = node_pid(victim);
    std::vector<int> survivors;
    for (const std::uint16_t slot : {0, 8000, 16000}) {
        const int port = kvforge_test::master_port_of(slot);
        if (port != victim) survivors.push_back(port);
    }

    constexpr int writers = 8;
    std::atomic<bool> stop{false};
    std::atomic<int> acknowledged{0};
    std::vector<std::vector<int>> acked(writers);
    std::vector<std::thread> threads;
    // Stops and joins the writers however the test ends.
    struct joined_at_exit {
        std::atomic<bool>& stop;
        std::vector<std::thread>& threads;
        void join() {
            stop = true;
            for (std::thread& thread : threads) {
                if (thread.joinable()) thread.join();
            }
        }
        ~joined_at_exit() { join(); }
    } writers_done{stop, threads};
    for (int t = 0; t < writers; ++t) {
        threads.emplace_back([&, t] {
            for (int i = 0; !stop.load(); ++i) {
                std::error_code ec;
                db.put(std::to_string(t) + ":" + std::to_string(i), "value " + std::to_string(i), ec);
                if (!ec) {
                    acked[t].push_back(i);
                    acknowledged.fetch_add(1);
                }
            }
        });
    }
    kvforge_test::eventually("400 writes before the kill", std::chrono::seconds(20),
                             [&] { return acknowledged.load() >= 400; });
    REQUIRE(::kill(victim_pid, SIGKILL) == 0);
    kvforge_test::node heir_node(heir);
    kvforge_test::eventually("the replica taking over", std::chrono::seconds(30),
                             [&] { return heir_node.run({"ROLE"}).starts_with("master"); });
    // The killed node comes back as the new master's replica: until then, a sync_each write to
    // that master fails, as no replica takes it.
    const std::string restart = required_env("KVFORGE_REDIS_CLUSTER_SCRIPT") + " restart " +
                                required_env("KVFORGE_REDIS_DIR") + " " + std::to_string(victim);
    REQUIRE(std::system(restart.c_str()) == 0);
    kvforge_test::eventually("the restarted node linked as a replica", std::chrono::seconds(30), [&] {
        kvforge_test::node back(victim);
        const std::string info = back.run({"INFO", "replication"});
        return info.find("role:slave") != std::string::npos &&
               info.find("master_link_status:up") != std::string::npos;
    });
    const int at_failover = acknowledged.load();
    kvforge_test::eventually("400 writes after the failover", std::chrono::seconds(30),
                             [&] { return acknowledged.load() >= at_failover + 400; });
    writers_done.join();

    int missing = 0;
    int wrong = 0;
    for (int t = 0; t < writers; ++t) {
        for (const int i : acked[t]) {
            std::error_code ec;
            const std::optional<std::string> value = db.get(std::to_string(t) + ":" + std::to_string(i), ec);
            REQUIRE_FALSE(ec);
            if (!value) {
                ++missing;
            } else if (*value != "value " + std::to_string(i)) {
                ++wrong;
            }
        }
    }
    CHECK(acknowledged.load() > 800);
    CHECK(missing == 0);
    CHECK(wrong == 0);
    survivors.push_back(heir);
    kvforge_test::eventually("cluster_state:ok on every master", std::chrono::seconds(30),
                             [&] { return cluster_ok_everywhere(survivors); });
}
