#pragma once
/// \file reply.hpp
/// A Redis reply as hiredis parses it (RESP), owned, with what the cluster client asks of
/// it: its kind, its text, and the redirect a MOVED or ASK error carries.

#include <hiredis/hiredis.h>

#include <charconv>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>

namespace kvforge::detail::redis {

/// Frees a reply hiredis allocated.
struct reply_deleter {
    void operator()(redisReply* r) const noexcept { freeReplyObject(r); }
};

/// Where a MOVED or ASK error sends a command: "MOVED 3999 127.0.0.1:6381".
struct redirect {
    bool ask = false;       ///< ASK: this command only, after ASKING; MOVED: the slot has a new owner
    std::uint16_t slot = 0;
    std::string address;    ///< host:port of the node to ask
};

/// One reply, owned; empty when none was read.
class reply {
public:
    reply() = default;
    explicit reply(redisReply* r) noexcept : reply_(r) {}

    [[nodiscard]] explicit operator bool() const noexcept { return reply_ != nullptr; }
    [[nodiscard]] const redisReply& get() const noexcept { return *reply_; }

    [[nodiscard]] bool is_error() const noexcept { return reply_ && reply_->type == REDIS_REPLY_ERROR; }
    [[nodiscard]] bool is_nil() const noexcept { return reply_ && reply_->type == REDIS_REPLY_NIL; }
    [[nodiscard]] bool is_integer() const noexcept { return reply_ && reply_->type == REDIS_REPLY_INTEGER; }
    [[nodiscard]] bool is_array() const noexcept { return reply_ && reply_->type == REDIS_REPLY_ARRAY; }
    [[nodiscard]] long long integer() const noexcept { return reply_->integer; }

    /// The bytes of a string, status or error reply.
    [[nodiscard]] std::string_view text() const noexcept { return text_of(*reply_); }

    /// The redirect of a MOVED or ASK error, or nullopt for any other reply.
    [[nodiscard]] std::optional<redirect> redirection() const {
        if (!is_error()) return std::nullopt;
        const std::string_view error = text();
        redirect to;
        std::string_view rest;
        if (error.starts_with("MOVED ")) {
            rest = error.substr(6);
        } else if (error.starts_with("ASK ")) {
            to.ask = true;
            rest = error.substr(4);
        } else {
            return std::nullopt;
        }
        const std::size_t space = rest.find(' ');
        if (space == std::string_view::npos) return std::nullopt;
        const auto [end, problem] = std::from_chars(rest.data(), rest.data() + space, to.slot);
        if (problem != std::errc{} || end != rest.data() + space) return std::nullopt;
        to.address = std::string(rest.substr(space + 1));
        return to;
    }

    /// Whether the error says the command may succeed if tried again soon: the cluster is
    /// down or failing over (CLUSTERDOWN), a slot is migrating (TRYAGAIN), or the node is
    /// still loading or has become a replica (LOADING, READONLY, MASTERDOWN).
    [[nodiscard]] bool is_transient_error() const noexcept {
        if (!is_error()) return false;
        const std::string_view error = text();
        for (const std::string_view code : {"CLUSTERDOWN", "TRYAGAIN", "LOADING", "READONLY", "MASTERDOWN"}) {
            if (error.starts_with(code)) return true;
        }
        return false;
    }

    /// The bytes of any string, status or error reply r.
    [[nodiscard]] static std::string_view text_of(const redisReply& r) noexcept {
        return r.str != nullptr ? std::string_view(r.str, r.len) : std::string_view();
    }

private:
    std::unique_ptr<redisReply, reply_deleter> reply_;
};

}  // namespace kvforge::detail::redis
