#pragma once
/// \file slot_map.hpp
/// Which master serves each hash slot, as a CLUSTER SLOTS reply said and MOVED redirects
/// have corrected since, and every node that reply named (replicas too), to ask for a new
/// map when a master stops answering.

#include <hiredis/hiredis.h>

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "hash_slot.hpp"
#include "reply.hpp"

namespace kvforge::detail::redis {

/// The owner of every slot, by the index of its master's address.
class slot_map {
public:
    slot_map() { owner_.fill(unowned); }

    /// Replaces the map by a CLUSTER SLOTS reply given by the node at `asked` (whose
    /// address stands for any node the reply names without a host). Returns false, the
    /// map unchanged and problem set, when the reply is not such a map.
    bool assign(const redisReply& slots, std::string_view asked, std::string& problem) {
        if (slots.type != REDIS_REPLY_ARRAY) {
            problem = "CLUSTER SLOTS gave no array";
            return false;
        }
        slot_map fresh;
        for (std::size_t i = 0; i < slots.elements; ++i) {
            const redisReply& range = *slots.element[i];
            if (range.type != REDIS_REPLY_ARRAY || range.elements < 3 ||
                range.element[0]->type != REDIS_REPLY_INTEGER || range.element[1]->type != REDIS_REPLY_INTEGER) {
                problem = "CLUSTER SLOTS gave a range that is not [first, last, master, replicas...]";
                return false;
            }
            const long long first = range.element[0]->integer;
            const long long last = range.element[1]->integer;
            if (first < 0 || last >= slot_count || first > last) {
                problem = "CLUSTER SLOTS gave the slots " + std::to_string(first) + " to " + std::to_string(last);
                return false;
            }
            std::string master;
            for (std::size_t n = 2; n < range.elements; ++n) {
                std::string address;
                if (!node_address(*range.element[n], asked, address)) {
                    problem = "CLUSTER SLOTS gave a node that is not [host, port, ...]";
                    return false;
                }
                if (n == 2) master = address;
                fresh.remember(address);
            }
            const std::uint16_t index = fresh.master_index(master);
            std::fill(fresh.owner_.begin() + first, fresh.owner_.begin() + last + 1, index);
        }
        *this = std::move(fresh);
        return true;
    }

    /// The address of the master serving slot, or nullptr when no master does.
    [[nodiscard]] const std::string* master_of(std::uint16_t slot) const noexcept {
        const std::uint16_t index = owner_[slot];
        return index == unowned ? nullptr : &masters_[index];
    }

    /// Records that slot has moved to the master at address (a MOVED redirect).
    void move(std::uint16_t slot, const std::string& address) {
        remember(address);
        owner_[slot] = master_index(address);
    }

    /// The masters serving at least one slot.
    [[nodiscard]] std::vector<std::string> masters() const {
        std::vector<std::string> serving;
        for (std::size_t i = 0; i < masters_.size(); ++i) {
            if (std::find(owner_.begin(), owner_.end(), i) != owner_.end()) serving.push_back(masters_[i]);
        }
        return serving;
    }

    /// Every node a map or redirect named, masters and replicas.
    [[nodiscard]] const std::vector<std::string>& nodes() const noexcept { return nodes_; }

private:
    static constexpr std::uint16_t unowned = 0xFFFF;

    static bool node_address(const redisReply& node, std::string_view asked, std::string& address) {
        if (node.type != REDIS_REPLY_ARRAY || node.elements < 2 || node.element[0]->type != REDIS_REPLY_STRING ||
            node.element[1]->type != REDIS_REPLY_INTEGER) {
            return false;
        }
        std::string_view host = reply::text_of(*node.element[0]);
        if (host.empty() || host == "?") host = asked.substr(0, asked.rfind(':'));
        address = std::string(host) + ":" + std::to_string(node.element[1]->integer);
        return true;
    }

    void remember(const std::string& address) {
        if (std::find(nodes_.begin(), nodes_.end(), address) == nodes_.end()) nodes_.push_back(address);
    }

    std::uint16_t master_index(const std::string& address) {
        const auto found = std::find(masters_.begin(), masters_.end(), address);
        if (found != masters_.end()) return static_cast<std::uint16_t>(found - masters_.begin());
        masters_.push_back(address);
        return static_cast<std::uint16_t>(masters_.size() - 1);
    }

    std::array<std::uint16_t, slot_count> owner_{};
    std::vector<std::string> masters_;
    std::vector<std::string> nodes_;
};

}  // namespace kvforge::detail::redis
