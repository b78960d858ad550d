#pragma once
/// \file sync_each.hpp
/// kvforge::sync_each: every write is on disk before the call returns.

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <string_view>
#include <system_error>

#include "../concepts.hpp"
#include "../detail/data_file.hpp"
#include "../detail/log_writer.hpp"

namespace kvforge {

/// Durability policy: put/erase/write return after fdatasync of the appended bytes
/// (and an fsync of the directory when a file was created or renamed). Concurrent
/// writers under kvforge::thread_safe share one sync (group commit).
struct sync_each {
    using policy_kind = kvforge::policy_kind::durability;
    static constexpr std::string_view name = "sync_each";
    static constexpr std::string_view short_name = "sync";  ///< also accepted in a store spec

    /// Writes each record to the file at once (under the store's write lock) and syncs
    /// in commit(), after the store's lock is released, so that while one thread waits
    /// for fdatasync others can append, and the next fdatasync covers them all.
    template <class IO, bool Concurrent>
    class writer {
    public:
        static constexpr bool sequenced = false;

        /// Writes from now on go to the end of file, which holds end bytes, all durable.
        /// Called with no sync running (after drain(), under the store's write gate);
        /// committers read file_ and synced_ under sync_mutex_, so it is taken here too.
        void attach(detail::data_file<IO>& file, std::uint64_t end) {
            const std::lock_guard lock(sync_mutex_);
            file_ = &file;
            end_ = end;
            synced_ = appended_.load();
        }

        detail::append_result append(std::string_view record, std::error_code& ec) {
            const std::uint64_t offset = end_;
            if (!file_->write(offset, record, ec)) {
                failure_.record(ec);
                return {};
            }
            end_ += record.size();
            bytes_written_ += record.size();
            return {offset, appended_.fetch_add(1, std::memory_order_release) + 1};
        }

        /// Blocks until the record with this sequence number is on disk.
        void commit(std::uint64_t sequence, std::error_code& ec) {
            std::unique_lock lock(sync_mutex_);
            while (synced_ < sequence) {
                if (failure_.check(ec)) return;
                if (syncing_) {
                    synced_changed_.wait(lock);
                    continue;
                }
                // Lead a group: every record appended so far was written before its
                // sequence number was published, so one fdatasync covers them all.
                syncing_ = true;
                const std::uint64_t target = appended_.load(std::memory_order_acquire);
                detail::data_file<IO>* const file = file_;
                if constexpr (Concurrent) lock.unlock();
                const bool ok = file->sync(ec);
                if constexpr (Concurrent) lock.lock();
                syncing_ = false;
                syncs_.fetch_add(1, std::memory_order_relaxed);
                if (ok) {
                    if (target > synced_) synced_ = target;
                } else {
                    failure_.record(ec);
                }
                synced_changed_.notify_all();
                if (!ok) return;
            }
        }

        [[nodiscard]] std::uint64_t end() const noexcept { return end_; }
        /// Every record is in the file as soon as it is appended.
        [[nodiscard]] std::uint64_t written_end() const noexcept { return end_; }
        bool read_pending(std::uint64_t, char*, std::size_t) const noexcept { return false; }
        void flush(std::error_code&) {}
        void sync(std::error_code& ec) { commit(appended_.load(), ec); }
        void drain(std::error_code& ec) { sync(ec); }
        void close(std::error_code& ec) { sync(ec); }
        [[nodiscard]] std::uint64_t syncs() const noexcept { return syncs_.load(std::memory_order_relaxed); }
        /// Bytes written to the file so far; read under the store's shared lock, written under its exclusive one.
        [[nodiscard]] std::uint64_t bytes_written() const noexcept { return bytes_written_; }
        /// Reports an earlier failure through ec; false when there was none.
        bool failed(std::error_code& ec) const { return failure_.check(ec); }

    private:
        detail::data_file<IO>* file_ = nullptr;
        std::uint64_t end_ = 0;
        std::uint64_t bytes_written_ = 0;
        std::atomic<std::uint64_t> appended_{0};
        std::atomic<std::uint64_t> syncs_{0};
        std::mutex sync_mutex_;
        std::condition_variable synced_changed_;
        std::uint64_t synced_ = 0;
        bool syncing_ = false;
        detail::sticky_failure failure_;
    };
};

static_assert(durability_policy<sync_each>);

}  // namespace kvforge
