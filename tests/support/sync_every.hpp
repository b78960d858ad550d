#pragma once
// A durability policy written as a user would write one, from the concepts alone
// (kvforge::durability_policy and kvforge::durability_writer in concepts.hpp): records
// go to the file at once and every Nth is followed by an fdatasync, so a crash loses at
// most the last N - 1 acknowledged writes; sync() and close() make everything durable.

#include <kvforge/concepts.hpp>

#include <cstddef>
#include <cstdint>
#include <mutex>
#include <string_view>
#include <system_error>

namespace kvforge_test {

template <std::uint64_t N>
struct sync_every {
    static_assert(N >= 1, "sync_every<N>: N counts writes, at least 1");
    using policy_kind = kvforge::policy_kind::durability;
    static constexpr std::string_view name = "sync_every";

    template <class IO, bool Concurrent>
    class writer {
    public:
        static constexpr bool sequenced = false;

        void attach(kvforge::detail::data_file<IO>& file, std::uint64_t end) {
            const std::lock_guard lock(mutex_);
            file_ = &file;
            end_ = end;
            unsynced_ = 0;
        }

        kvforge::detail::append_result append(std::string_view record, std::error_code& ec) {
            const std::lock_guard lock(mutex_);
            if (report_failure(ec)) return {};
            const std::uint64_t offset = end_;
            if (!file_->write(offset, record, ec)) {
                failure_ = ec;
                return {};
            }
            end_ += record.size();
            bytes_written_ += record.size();
            ++unsynced_;
            return {offset, ++appended_};
        }

        /// Called after each write with the store's lock released: every Nth write syncs.
        void commit(std::uint64_t, std::error_code& ec) {
            const std::lock_guard lock(mutex_);
            if (unsynced_ >= N) sync_now(ec);
        }

        [[nodiscard]] std::uint64_t end() const {
            const std::lock_guard lock(mutex_);
            return end_;
        }
        [[nodiscard]] std::uint64_t written_end() const { return end(); }
        bool read_pending(std::uint64_t, char*, std::size_t) const { return false; }
        void flush(std::error_code&) {}
        void sync(std::error_code& ec) {
            const std::lock_guard lock(mutex_);
            if (unsynced_ > 0) sync_now(ec);
        }
        void drain(std::error_code& ec) { sync(ec); }
        void close(std::error_code& ec) { sync(ec); }
        [[nodiscard]] std::uint64_t syncs() const {
            const std::lock_guard lock(mutex_);
            return syncs_;
        }
        [[nodiscard]] std::uint64_t bytes_written() const {
            const std::lock_guard lock(mutex_);
            return bytes_written_;
        }
        bool failed(std::error_code& ec) const {
            const std::lock_guard lock(mutex_);
            return report_failure(ec);
        }

    private:
        bool report_failure(std::error_code& ec) const {
            if (!failure_) return false;
            ec = failure_;
            return true;
        }

        void sync_now(std::error_code& ec) {
            if (report_failure(ec)) return;
            if (!file_->sync(ec)) {
                failure_ = ec;
                return;
            }
            ++syncs_;
            unsynced_ = 0;
        }

        mutable std::mutex mutex_;
        kvforge::detail::data_file<IO>* file_ = nullptr;
        std::uint64_t end_ = 0;
        std::uint64_t appended_ = 0;
        std::uint64_t unsynced_ = 0;
        std::uint64_t syncs_ = 0;
        std::uint64_t bytes_written_ = 0;
        std::error_code failure_;
    };
};

}  // namespace kvforge_test
