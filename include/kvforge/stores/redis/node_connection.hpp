#pragma once
/// \file node_connection.hpp
/// One connection to one Redis node: connects on first use (and again after a failure),
/// and sends commands in pipelines, each pipeline written at once and its replies read in
/// order, within the configured timeouts.

#include <hiredis/hiredis.h>
#include <sys/time.h>

#include <array>
#include <cerrno>
#include <chrono>
#include <cstddef>
#include <cstdlib>
#include <initializer_list>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include "../../error.hpp"
#include "reply.hpp"

namespace kvforge::detail::redis {

/// The words of one command, as views of bytes that must stay alive until its reply is read.
class command {
public:
    /// The most words a command the client sends has (SCAN cursor MATCH pattern COUNT n).
    static constexpr std::size_t max_words = 6;

    command() = default;
    command(std::initializer_list<std::string_view> words) noexcept {
        for (const std::string_view word : words) words_[size_++] = word;
    }

    [[nodiscard]] std::span<const std::string_view> words() const noexcept { return {words_.data(), size_}; }

private:
    std::array<std::string_view, max_words> words_{};
    std::size_t size_ = 0;
};

/// How long a connection waits: to connect, and for each reply.
struct timeouts {
    std::chrono::milliseconds connect{1000};
    std::chrono::milliseconds command{2000};
};

/// A connection to the node at "host:port"; single-threaded, as hiredis's context is.
class node_connection {
public:
    node_connection(std::string address, timeouts limits) : address_(std::move(address)), limits_(limits) {}

    [[nodiscard]] const std::string& address() const noexcept { return address_; }

    /// Sends commands as one pipeline and reads one reply for each into replies (an error
    /// reply is a reply). On failure (no connection, a broken one, a reply later than the
    /// command timeout) sets ec, naming the node, and drops the connection, so that the next
    /// call connects anew; which of the commands the node applied is then unknown.
    bool exchange(std::span<const command> commands, std::vector<reply>& replies, std::error_code& ec) {
        return send(commands, ec) && receive(commands.size(), replies, ec);
    }

    /// The first half of exchange(): writes the commands to the node without waiting for
    /// replies, so that several nodes can work on their pipelines at once.
    bool send(std::span<const command> commands, std::error_code& ec) {
        if (!context_ && !connect(ec)) return false;
        for (const command& c : commands) {
            const auto words = c.words();
            std::array<const char*, command::max_words> parts{};
            std::array<std::size_t, command::max_words> sizes{};
            for (std::size_t i = 0; i < words.size(); ++i) {
                parts[i] = words[i].data();
                sizes[i] = words[i].size();
            }
            if (redisAppendCommandArgv(context_.get(), static_cast<int>(words.size()), parts.data(), sizes.data()) !=
                REDIS_OK) {
                return broken("sending a command", ec);
            }
        }
        int done = 0;
        while (done == 0) {
            errno = 0;
            if (redisBufferWrite(context_.get(), &done) != REDIS_OK) return broken("sending a command", ec);
        }
        return true;
    }

    /// The second half of exchange(): reads count replies of what send() sent.
    bool receive(std::size_t count, std::vector<reply>& replies, std::error_code& ec) {
        replies.clear();
        if (!context_) {
            fail(ec, std::make_error_code(std::errc::not_connected), "redis node " + address_ + ": not connected");
            return false;
        }
        replies.reserve(count);
        for (std::size_t i = 0; i < count; ++i) {
            void* raw = nullptr;
            errno = 0;
            if (redisGetReply(context_.get(), &raw) != REDIS_OK || raw == nullptr) {
                return broken("waiting for a reply", ec);
            }
            replies.emplace_back(static_cast<redisReply*>(raw));
        }
        return true;
    }

    /// Closes the connection; the next exchange connects anew.
    void disconnect() noexcept { context_.reset(); }

private:
    struct context_deleter {
        void operator()(redisContext* c) const noexcept { redisFree(c); }
    };

    static timeval to_timeval(std::chrono::milliseconds ms) noexcept {
        return {.tv_sec = static_cast<time_t>(ms.count() / 1000),
                .tv_usec = static_cast<suseconds_t>((ms.count() % 1000) * 1000)};
    }

    bool connect(std::error_code& ec) {
        const std::size_t colon = address_.rfind(':');
        if (colon == std::string::npos) {
            fail(ec, errc::invalid_argument, "redis node '" + address_ + "': expected host:port");
            return false;
        }
        const std::string host = address_.substr(0, colon);
        const int port = std::atoi(address_.c_str() + colon + 1);
        errno = 0;
        context_.reset(redisConnectWithTimeout(host.c_str(), port, to_timeval(limits_.connect)));
        if (!context_) {
            fail(ec, std::make_error_code(std::errc::not_enough_memory), "redis node " + address_ + ": cannot connect");
            return false;
        }
        if (context_->err != 0) return broken("connecting", ec);
        if (redisSetTimeout(context_.get(), to_timeval(limits_.command)) != REDIS_OK) return broken("connecting", ec);
        return true;
    }

    /// Reports the context's error, naming the node, and drops the connection. A read or
    /// write that hit the socket's timeout (EAGAIN) is errc::timed_out.
    bool broken(std::string_view doing, std::error_code& ec) {
        const int error_number = errno;
        const bool timed_out = context_->err == REDIS_ERR_IO &&
                               (error_number == EAGAIN || error_number == EWOULDBLOCK || error_number == ETIMEDOUT);
        std::string what = "redis node " + address_ + ": " + std::string(doing) + ": ";
        if (timed_out) {
            const auto limit = context_->flags & REDIS_CONNECTED ? limits_.command : limits_.connect;
            what += "no answer within " + std::to_string(limit.count()) +
                    " ms (options::remote_command_millis, options::remote_connect_millis)";
            fail(ec, std::make_error_code(std::errc::timed_out), std::move(what));
        } else {
            what += context_->errstr;
            const bool io = context_->err == REDIS_ERR_IO && error_number != 0;
            fail(ec, io ? std::error_code(error_number, std::system_category())
                        : std::make_error_code(std::errc::connection_reset),
                 std::move(what));
        }
        context_.reset();
        return false;
    }

    std::string address_;
    timeouts limits_;
    std::unique_ptr<redisContext, context_deleter> context_;
};

}  // namespace kvforge::detail::redis
