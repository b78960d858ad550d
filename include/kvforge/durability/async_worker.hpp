#pragma once
/// \file async_worker.hpp
/// kvforge::async_worker: a background thread writes and syncs in groups.

#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <mutex>
#include <string>
#include <string_view>
#include <system_error>
#include <thread>

#include "../concepts.hpp"
#include "../detail/data_file.hpp"
#include "../detail/log_writer.hpp"

namespace kvforge {

/// Durability policy: a write is queued and put() returns its sequence number; a
/// background thread writes whatever is queued in one piece and syncs it, then
/// advances durable_seq(); wait_durable(seq) blocks until that write is on disk.
/// Writers wait while QueueBytes are queued and not yet written, so memory stays bounded.
template <std::size_t QueueBytes = std::size_t{64} << 20>
struct async_worker {
    static_assert(QueueBytes > 0, "kvforge: async_worker<QueueBytes> needs a queue of at least one byte");
    using policy_kind = kvforge::policy_kind::durability;
    static constexpr std::string_view name = "async_worker";
    static constexpr std::string_view short_name = "async";  ///< also accepted in a store spec
    static constexpr std::size_t queue_bytes = QueueBytes;

    /// The queue has its own mutex, whatever the store's threading policy, since the
    /// worker thread and the store's callers always run concurrently.
    template <class IO, bool Concurrent>
    class writer {
    public:
        static constexpr bool sequenced = true;

        writer() = default;
        writer(const writer&) = delete;
        writer& operator=(const writer&) = delete;
        ~writer() { stop(); }

        /// Writes from now on go to the end of file, which holds end bytes, all durable.
        /// The queue must be empty (drain() first).
        void attach(detail::data_file<IO>& file, std::uint64_t end) {
            const std::lock_guard lock(mutex_);
            file_ = &file;
            queue_offset_ = end;
        }

        /// Queues a record. The worker starts with the first one, so that a store that
        /// never writes (opened read-only) runs no thread.
        detail::append_result append(std::string_view record, std::error_code& ec) {
            if (!worker_.joinable()) worker_ = std::thread([this] { run(); });
            std::unique_lock lock(mutex_);
            // Backpressure: wait for the worker to take the queue once it is full.
            written_.wait(lock, [&] { return queue_.size() + record.size() <= QueueBytes || queue_.empty() || failed_; });
            if (failed_ && failure_.check(ec)) return {};
            const detail::append_result result{queue_offset_ + queue_.size(), ++appended_};
            queue_.append(record);
            lock.unlock();
            queued_.notify_one();
            return result;
        }

        /// Nothing to wait for: the caller decides with wait_durable().
        void commit(std::uint64_t, std::error_code&) {}

        /// Blocks until every record up to sequence is on disk, or the worker failed.
        void wait_durable(std::uint64_t sequence, std::error_code& ec) {
            std::unique_lock lock(mutex_);
            written_.wait(lock, [&] { return durable_ >= sequence || failed_; });
            if (durable_ < sequence) failure_.check(ec);
        }

        [[nodiscard]] std::uint64_t durable_sequence() const {
            const std::lock_guard lock(mutex_);
            return durable_;
        }

        [[nodiscard]] std::uint64_t end() const {
            const std::lock_guard lock(mutex_);
            return queue_offset_ + queue_.size();
        }

        /// The end of the records wholly in the file: those from it on are queued or being
        /// written. Taken in one reading under the queue's lock, so it is always where a
        /// record starts, whatever the worker does meanwhile.
        [[nodiscard]] std::uint64_t written_end() const {
            const std::lock_guard lock(mutex_);
            return in_flight_.empty() ? queue_offset_ : in_flight_offset_;
        }

        /// Copies bytes still queued or being written; false when they are in the file.
        bool read_pending(std::uint64_t offset, char* into, std::size_t size) const {
            const std::lock_guard lock(mutex_);
            if (offset >= queue_offset_) {
                std::memcpy(into, queue_.data() + (offset - queue_offset_), size);
                return true;
            }
            if (!in_flight_.empty() && offset >= in_flight_offset_) {
                std::memcpy(into, in_flight_.data() + (offset - in_flight_offset_), size);
                return true;
            }
            return false;
        }

        /// Waits until everything queued is written and synced.
        void flush(std::error_code& ec) { drain(ec); }
        void sync(std::error_code& ec) { drain(ec); }
        void drain(std::error_code& ec) {
            std::uint64_t last = 0;
            {
                const std::lock_guard lock(mutex_);
                last = appended_;
            }
            wait_durable(last, ec);
        }

        /// Drains the queue and stops the worker.
        void close(std::error_code& ec) {
            drain(ec);
            stop();
        }

        [[nodiscard]] std::uint64_t syncs() const {
            const std::lock_guard lock(mutex_);
            return syncs_;
        }
        /// Bytes the worker wrote to the file so far.
        [[nodiscard]] std::uint64_t bytes_written() const {
            const std::lock_guard lock(mutex_);
            return bytes_written_;
        }
        bool failed(std::error_code& ec) const { return failure_.check(ec); }

    private:
        void stop() noexcept {
            {
                const std::lock_guard lock(mutex_);
                stopping_ = true;
            }
            queued_.notify_one();
            if (worker_.joinable()) worker_.join();
        }

        /// The worker: take the whole queue, write it with one pwrite, sync it, publish.
        void run() {
            std::unique_lock lock(mutex_);
            for (;;) {
                queued_.wait(lock, [&] { return (!queue_.empty() && !failed_) || stopping_; });
                if (queue_.empty() || failed_) return;  // stopping, with nothing left that can be written
                in_flight_.swap(queue_);
                in_flight_offset_ = queue_offset_;
                queue_offset_ += in_flight_.size();
                const std::uint64_t target = appended_;
                detail::data_file<IO>* file = file_;
                lock.unlock();
                written_.notify_all();  // the queue has room again

                std::error_code ec;
                const bool ok = file->write(in_flight_offset_, in_flight_, ec) && file->sync(ec);
                if (!ok) failure_.record(ec);

                lock.lock();
                ++syncs_;
                if (ok) {
                    bytes_written_ += in_flight_.size();
                    durable_ = target;
                    in_flight_.clear();
                } else {
                    // Nothing more can be written in order. The unwritten records stay queued
                    // and in flight, where reads of them still find their bytes.
                    failed_ = true;
                }
                written_.notify_all();
            }
        }

        mutable std::mutex mutex_;
        std::condition_variable queued_;   // the worker waits for records
        std::condition_variable written_;  // writers wait for room, waiters for durability
        detail::data_file<IO>* file_ = nullptr;
        std::string queue_;
        std::string in_flight_;
        std::uint64_t queue_offset_ = 0;
        std::uint64_t in_flight_offset_ = 0;
        std::uint64_t appended_ = 0;
        std::uint64_t durable_ = 0;
        std::uint64_t syncs_ = 0;
        std::uint64_t bytes_written_ = 0;
        bool failed_ = false;
        bool stopping_ = false;
        detail::sticky_failure failure_;
        std::thread worker_;
    };
};

static_assert(durability_policy<async_worker<>>);

}  // namespace kvforge
