#pragma once
/// \file location.hpp
/// Where a redis_cluster store lives: "redis_cluster:HOST:PORT,HOST:PORT/NAME" read into
/// seed nodes and a name, and the SCAN pattern that matches the keys under the name.

#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include "../../error.hpp"

namespace kvforge::detail {

/// Where a redis_cluster store lives: its seed nodes and its name.
struct redis_location {
    std::vector<std::string> seeds;  ///< "host:port" each
    std::string name;
};

/// Reads "redis_cluster:host:port,host:port/name", or the same without "redis_cluster:"
/// (as open_store passes it). The name may not hold '{': the cluster hashes a key's first
/// '{...}', and the name's must not stand in for the one a key of the store may carry. Nor
/// '/': a store's keys are "name/...", so a store "a" would hold the records of "a/b".
inline bool parse_redis_location(std::string_view path, redis_location& out, std::error_code& ec) {
    constexpr std::string_view word = "redis_cluster:";
    if (path.starts_with(word)) path.remove_prefix(word.size());
    const std::size_t slash = path.find('/');
    const std::string usage = " in '" + std::string(path) +
                              "': a redis_cluster store opens as redis_cluster:HOST:PORT[,HOST:PORT...]/NAME";
    if (slash == std::string_view::npos || slash + 1 == path.size()) {
        fail(ec, errc::invalid_argument, "no store name" + usage);
        return false;
    }
    out.name = std::string(path.substr(slash + 1));
    if (out.name.find('/') != std::string::npos) {
        fail(ec, errc::invalid_argument,
             "a store name may not hold '/' (a store 'a' would hold the keys of a store 'a/b')" + usage);
        return false;
    }
    if (out.name.find('{') != std::string::npos) {
        fail(ec, errc::invalid_argument, "a store name may not hold '{' (the cluster would hash it)" + usage);
        return false;
    }
    out.seeds.clear();
    std::string_view nodes = path.substr(0, slash);
    while (!nodes.empty()) {
        const std::size_t comma = nodes.find(',');
        const std::string_view node = nodes.substr(0, comma);
        if (node.rfind(':') == std::string_view::npos || node.rfind(':') + 1 == node.size()) {
            fail(ec, errc::invalid_argument, "seed node '" + std::string(node) + "' is not HOST:PORT" + usage);
            return false;
        }
        out.seeds.emplace_back(node);
        nodes = comma == std::string_view::npos ? std::string_view() : nodes.substr(comma + 1);
    }
    if (out.seeds.empty()) {
        fail(ec, errc::invalid_argument, "no seed node" + usage);
        return false;
    }
    return true;
}

/// A SCAN pattern matching the keys that start with prefix: its glob characters escaped, then '*'.
inline std::string redis_prefix_pattern(std::string_view prefix) {
    std::string pattern;
    for (const char c : prefix) {
        if (c == '*' || c == '?' || c == '[' || c == ']' || c == '\\') pattern += '\\';
        pattern += c;
    }
    pattern += '*';
    return pattern;
}

}  // namespace kvforge::detail
