#pragma once
/// \file log_writer.hpp
/// What the durability policies' writers share: the result of an append, and the
/// sticky failure that stops a store from writing after a write or sync failed.
///
/// A writer takes whole records from the store (under the store's write lock), puts
/// them at the end of the data file, and makes them durable when its policy says.
/// Every record gets a sequence number, 1, 2, 3, ...; a writer is durable up to a
/// sequence number once every record up to it is on disk.

#include <cstdint>
#include <mutex>
#include <string>
#include <system_error>

#include "../error.hpp"

namespace kvforge::detail {

/// Where an appended record starts in the data file, and its sequence number.
struct append_result {
    std::uint64_t offset = 0;
    std::uint64_t sequence = 0;
};

/// The first write or sync failure of a store, kept so that every later write reports
/// it: after a failed fdatasync the kernel may have dropped the dirty pages, so a retry
/// that succeeded would claim durability for bytes that are gone.
class sticky_failure {
public:
    /// Records ec (with the message of the failing call) unless a failure is already recorded.
    void record(const std::error_code& ec) {
        const std::lock_guard lock(mutex_);
        if (code_) return;
        code_ = ec;
        message_ = last_error_message();
    }

    /// Reports the recorded failure through ec; false when there is none.
    bool check(std::error_code& ec) const {
        const std::lock_guard lock(mutex_);
        if (!code_) return false;
        fail(ec, errc::store_failed,
             "an earlier write failed (" + message_ + "); the store takes no more writes until it is reopened");
        return true;
    }

    void reset() {
        const std::lock_guard lock(mutex_);
        code_.clear();
        message_.clear();
    }

private:
    mutable std::mutex mutex_;
    std::error_code code_;
    std::string message_;
};

}  // namespace kvforge::detail
