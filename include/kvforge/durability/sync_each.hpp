#pragma once
/// \file sync_each.hpp
/// kvforge::sync_each: every write is on disk before the call returns.

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <string_view>
#include <system_error>
#include <thread>

#include "../concepts.hpp"
#include "../detail/clocks.hpp"
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

        /// Blocks until the record with this sequence number is on disk. Called by a write
        /// once it no longer holds the store's lock, so that other writers may append
        /// meanwhile and share its sync.
        void commit(std::uint64_t sequence, std::error_code& ec) { sync_through(sequence, true, ec); }

        [[nodiscard]] std::uint64_t end() const noexcept { return end_; }
        /// Every record is in the file as soon as it is appended.
        [[nodiscard]] std::uint64_t written_end() const noexcept { return end_; }
        bool read_pending(std::uint64_t, char*, std::size_t) const noexcept { return false; }
        void flush(std::error_code&) {}
        /// These wait for no other writer: a drain runs where none may append (a rollover
        /// holds the store's write gate).
        void sync(std::error_code& ec) { sync_through(appended_.load(), false, ec); }
        void drain(std::error_code& ec) { sync(ec); }
        void close(std::error_code& ec) { sync(ec); }
        [[nodiscard]] std::uint64_t syncs() const noexcept { return syncs_.load(std::memory_order_relaxed); }
        /// Bytes written to the file so far; read under the store's shared lock, written under its exclusive one.
        [[nodiscard]] std::uint64_t bytes_written() const noexcept { return bytes_written_; }
        /// Reports an earlier failure through ec; false when there was none.
        bool failed(std::error_code& ec) const { return failure_.check(ec); }

    private:
        /// Blocks until the record with this sequence number is on disk, leading a sync
        /// when none runs; a leader waits for the writers of the last group when
        /// others_may_append (await_company).
        void sync_through(std::uint64_t sequence, bool others_may_append, std::error_code& ec) {
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
                detail::data_file<IO>* const file = file_;
                const std::uint64_t synced = synced_;
                const std::uint64_t group = last_group_;
                const auto company_wait = last_sync_ / 4;
                if constexpr (Concurrent) {
                    lock.unlock();
                    if (others_may_append && group > 1) await_company(synced + group, company_wait);
                }
                const std::uint64_t target = appended_.load(std::memory_order_acquire);
                const auto began = std::chrono::steady_clock::now();
                const bool ok = file->sync(ec);
                const auto took = std::chrono::steady_clock::now() - began;
                if constexpr (Concurrent) lock.lock();
                syncing_ = false;
                syncs_.fetch_add(1, std::memory_order_relaxed);
                // The writers this sync covered, and those that came while it ran, will
                // likely share the next.
                last_group_ = appended_.load(std::memory_order_relaxed) - synced;
                last_sync_ = took;
                if (ok) {
                    if (target > synced_) synced_ = target;
                } else {
                    failure_.record(ec);
                }
                synced_changed_.notify_all();
                if (!ok) return;
            }
        }

        /// Before a sync that writers shared last time: waits, for at most wait, until
        /// as many records are appended as the last group held (appended_ reaches
        /// wanted). Each writer that shared the last sync is back in a put at once, but
        /// the sync's leader would otherwise start the next sync before the others have
        /// woken and appended, and two writers would take turns with a sync each rather
        /// than share one. A single writer never waits here.
        void await_company(std::uint64_t wanted, std::chrono::steady_clock::duration wait) const {
            const auto deadline = std::chrono::steady_clock::now() + wait;
            while (appended_.load(std::memory_order_relaxed) < wanted && std::chrono::steady_clock::now() < deadline) {
                std::this_thread::yield();
            }
        }

        detail::data_file<IO>* file_ = nullptr;
        std::uint64_t end_ = 0;
        std::uint64_t bytes_written_ = 0;
        std::atomic<std::uint64_t> appended_{0};
        std::atomic<std::uint64_t> syncs_{0};
        std::mutex sync_mutex_;
        std::condition_variable synced_changed_;
        std::uint64_t synced_ = 0;
        bool syncing_ = false;
        /// The records the last sync covered or saw appended, and what it took.
        std::uint64_t last_group_ = 0;
        std::chrono::steady_clock::duration last_sync_{};
        detail::sticky_failure failure_;
    };
};

static_assert(durability_policy<sync_each>);

}  // namespace kvforge
