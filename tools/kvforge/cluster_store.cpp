// Stores in a Redis Cluster, for the tool: "redis_cluster:HOST:PORT,.../NAME" in place of a
// directory. A tool built without hiredis (KVFORGE_TOOL_CLUSTER unset) names what is missing.

#include "tool_store.hpp"

#include <string>
#include <system_error>

#include "cli.hpp"
#include "errors.hpp"

#if KVFORGE_TOOL_CLUSTER
#include <kvforge/open_store.hpp>
#include <kvforge/stores/redis_compositions.hpp>
#endif

namespace kvforge_tool {

bool names_cluster_store(const std::string& where) { return where.starts_with(cluster_prefix); }

#if KVFORGE_TOOL_CLUSTER

tool_store open_cluster_store(const std::string& location, const std::string& words, const kvforge::options& opts) {
    // Every store is opened with `expiring`: the cluster keeps a key's deadline as the key's
    // own expiry, not in its value, so the same bytes read with or without it, and dump,
    // load and put --ttl carry deadlines.
    std::string spec_words = "redis_cluster,expiring";
    if (!words.empty()) spec_words += "," + words;
    std::error_code ec;
    tool_store db = kvforge::open_store<std::string, std::string, kvforge::redis_cluster_compositions>(
        spec_words + ":" + location.substr(cluster_prefix.size()), opts, ec);
    if (ec == kvforge::errc::invalid_argument) throw usage_error(kvforge::last_error_message());
    if (ec) fail_store(ec, "open " + location, location);
    return db;
}

#else

tool_store open_cluster_store(const std::string& location, const std::string&, const kvforge::options&) {
    throw store_failure(location +
                        ": this kvforge tool was built without hiredis, so it cannot reach a Redis Cluster; install "
                        "libhiredis-dev and build the tool again");
}

#endif

}  // namespace kvforge_tool
