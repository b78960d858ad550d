#pragma once
/// \file cluster_client.hpp
/// A client of one Redis Cluster: the slot map (CLUSTER SLOTS, corrected by MOVED), a
/// connection with its pipeline per node, and the rules for trying a command again.
///
/// A command goes to the master of its key's slot. A MOVED reply moves the slot in the
/// map and sends the command to the new owner; an ASK reply sends it once to the node
/// named, after ASKING, and leaves the map as it was (the slot is migrating). A connection
/// that fails, or a reply saying the cluster is failing over (CLUSTERDOWN, TRYAGAIN,
/// READONLY, ...), makes the client ask the nodes it knows for a new map and try again, up
/// to max_attempts times. A reply that does not come within the command timeout is not
/// tried again: the call fails with std::errc::timed_out, so that a stalled node makes
/// calls fail within the time the caller chose.

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include "../../error.hpp"
#include "node_connection.hpp"
#include "reply.hpp"
#include "slot_map.hpp"

namespace kvforge::detail::redis {

/// The commands of one pipeline, all on keys of one slot, and the slot.
struct slot_commands {
    std::uint16_t slot = 0;
    std::span<const command> commands;
};

/// A connection to a whole cluster; single-threaded (a store guards it with its mutex).
class cluster_client {
public:
    /// How many times a command is sent before its failure is reported: redirects, a
    /// failed connection and a cluster that is failing over each use one.
    static constexpr int max_attempts = 6;

    /// Connects through the first of seeds ("host:port") that gives the slot map.
    bool connect(std::vector<std::string> seeds, timeouts limits, std::error_code& ec) {
        seeds_ = std::move(seeds);
        limits_ = limits;
        connections_.clear();
        return refresh(ec);
    }

    /// Asks the nodes it knows, seeds first, for the slot map, until one gives it.
    bool refresh(std::error_code& ec) {
        std::vector<std::string> candidates = seeds_;
        for (const std::string& known : map_.nodes()) {
            if (std::find(candidates.begin(), candidates.end(), known) == candidates.end()) candidates.push_back(known);
        }
        std::error_code last;
        std::vector<reply> replies;
        const command slots{"CLUSTER", "SLOTS"};
        for (const std::string& address : candidates) {
            if (!node(address).exchange({&slots, 1}, replies, last)) continue;
            std::string problem;
            if (replies[0].is_error()) {
                refused(address, slots, replies[0], last);
            } else if (!map_.assign(replies[0].get(), address, problem)) {
                fail(last, errc::remote_refused, "redis node " + address + ": " + problem);
            } else {
                ec.clear();
                return true;
            }
        }
        if (!last) fail(last, errc::invalid_argument, "redis_cluster: no seed node given");
        ec = last;
        return false;
    }

    /// Runs commands, all on keys of one slot, as one pipeline on the slot's master,
    /// following redirects and trying again as the file comment says; replies gets one reply
    /// per command. A reply that is an error other than a redirect or a failover is the
    /// caller's to read. False, with ec naming the node and its reply, on failure.
    bool run(const slot_commands& work, std::vector<reply>& replies, std::error_code& ec) {
        std::optional<redirect> asked;
        std::vector<command> with_asking;
        for (int attempt = 0; attempt < max_attempts; ++attempt) {
            std::span<const command> commands = work.commands;
            std::string address;
            if (asked) {
                // ASKING holds for the one command after it, so it goes before each.
                with_asking.clear();
                for (const command& c : work.commands) {
                    with_asking.push_back(command{"ASKING"});
                    with_asking.push_back(c);
                }
                commands = with_asking;
                address = asked->address;
            } else if (const std::string* master = map_.master_of(work.slot)) {
                address = *master;
            } else {
                fail(ec, errc::remote_refused,
                     "redis_cluster: no master serves hash slot " + std::to_string(work.slot) + " (the cluster is down)");
                if (!refresh(ec)) return false;
                continue;
            }
            if (!node(address).exchange(commands, replies, ec)) {
                if (ec == std::errc::timed_out) return false;
                asked.reset();
                std::error_code refreshing;
                refresh(refreshing);
                continue;
            }
            if (asked) drop_asking_replies(replies);
            asked.reset();
            const auto troubled = std::find_if(replies.begin(), replies.end(), [](const reply& r) {
                return r.redirection() || r.is_transient_error();
            });
            if (troubled == replies.end()) {
                ec.clear();  // what an earlier attempt met is behind us
                return true;
            }
            const std::size_t which = static_cast<std::size_t>(troubled - replies.begin());
            refused(address, work.commands[which], *troubled, ec);
            if (std::optional<redirect> to = troubled->redirection()) {
                if (to->ask) {
                    asked = std::move(to);
                } else {
                    map_.move(to->slot, to->address);
                }
            } else {
                std::error_code refreshing;
                refresh(refreshing);
            }
        }
        return false;
    }

    /// Runs commands on the node at address as one pipeline, with no redirect followed (a
    /// cursor of SCAN, a WAIT for the writes made on that connection).
    bool run_on(const std::string& address, std::span<const command> commands, std::vector<reply>& replies,
                std::error_code& ec) {
        return node(address).exchange(commands, replies, ec);
    }

    /// Runs commands of one key each, the i-th on keys of slots[i]: one pipeline per
    /// master, every pipeline sent before any reply is read (so the masters work at once),
    /// and those that meet a redirect, a failover or a failed connection again one by one
    /// through run(). Calls on_reply(i, reply) once for each, in no particular order. False
    /// with ec set at the first failure, with some replies not given.
    template <class OnReply>
    bool run_each(std::span<const command> commands, std::span<const std::uint16_t> slots, OnReply&& on_reply,
                  std::error_code& ec) {
        std::map<std::string, std::vector<std::size_t>> by_master;
        std::vector<std::size_t> one_by_one;
        for (std::size_t i = 0; i < commands.size(); ++i) {
            if (const std::string* master = map_.master_of(slots[i])) {
                by_master[*master].push_back(i);
            } else {
                one_by_one.push_back(i);
            }
        }
        std::vector<command> pipeline;
        std::vector<reply> replies;
        std::vector<const std::string*> sent;
        // After a timeout the replies still owed on the other connections would be read as
        // the next commands' replies: those connections are dropped instead.
        const auto abandon = [&] {
            for (const std::string* address : sent) node(*address).disconnect();
        };
        for (const auto& [address, indices] : by_master) {
            pipeline.clear();
            for (const std::size_t i : indices) pipeline.push_back(commands[i]);
            if (node(address).send(pipeline, ec)) {
                sent.push_back(&address);
            } else if (ec == std::errc::timed_out) {
                abandon();
                return false;
            } else {
                one_by_one.insert(one_by_one.end(), indices.begin(), indices.end());
            }
        }
        for (const std::string* address : sent) {
            const std::vector<std::size_t>& indices = by_master[*address];
            if (!node(*address).receive(indices.size(), replies, ec)) {
                if (ec == std::errc::timed_out) {
                    abandon();
                    return false;
                }
                one_by_one.insert(one_by_one.end(), indices.begin(), indices.end());
                continue;
            }
            for (std::size_t k = 0; k < indices.size(); ++k) {
                if (replies[k].redirection() || replies[k].is_transient_error()) {
                    one_by_one.push_back(indices[k]);
                } else {
                    on_reply(indices[k], std::move(replies[k]));
                }
            }
        }
        for (const std::size_t i : one_by_one) {
            if (!run({.slot = slots[i], .commands = {&commands[i], 1}}, replies, ec)) return false;
            on_reply(i, std::move(replies[0]));
        }
        return true;
    }

    /// The address of the master serving slot, as the map has it, or "(no master)".
    [[nodiscard]] std::string master_of(std::uint16_t slot) const {
        const std::string* master = map_.master_of(slot);
        return master != nullptr ? *master : std::string("(no master)");
    }

    /// The masters that serve slots, as the map has them.
    [[nodiscard]] std::vector<std::string> masters() const { return map_.masters(); }

    /// Closes every connection.
    void disconnect() noexcept { connections_.clear(); }

    /// Reports a reply that refuses a command: errc::remote_refused, with the node, the
    /// command's name and the reply, e.g. "redis node 127.0.0.1:7000 refused SET: OOM ...".
    static void refused(const std::string& address, const command& c, const reply& r, std::error_code& ec) {
        const std::string_view name = c.words().empty() ? std::string_view() : c.words()[0];
        fail(ec, errc::remote_refused,
             "redis node " + address + " refused " + std::string(name) + ": " + std::string(r.text()));
    }

private:
    node_connection& node(const std::string& address) {
        auto found = connections_.find(address);
        if (found == connections_.end()) found = connections_.try_emplace(address, address, limits_).first;
        return found->second;
    }

    /// Leaves the replies of the commands, without those of the ASKING before each.
    static void drop_asking_replies(std::vector<reply>& replies) {
        std::size_t kept = 0;
        for (std::size_t i = 1; i < replies.size(); i += 2) replies[kept++] = std::move(replies[i]);
        replies.resize(kept);
    }

    std::vector<std::string> seeds_;
    timeouts limits_;
    slot_map map_;
    std::map<std::string, node_connection> connections_;
};

}  // namespace kvforge::detail::redis
