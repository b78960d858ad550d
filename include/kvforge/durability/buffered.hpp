#pragma once
/// \file buffered.hpp
/// kvforge::buffered: writes gather in the store's buffer and reach the OS in large pieces.

#include <time.h>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <system_error>

#include "../concepts.hpp"
#include "../detail/clocks.hpp"
#include "../detail/data_file.hpp"
#include "../detail/log_writer.hpp"

namespace kvforge {

/// Durability policy: a write is copied into the store's buffer, which goes to the OS
/// when it holds Bytes, when a write comes Millis milliseconds or more after the
/// oldest buffered one, and on flush() or close(); it is on disk after sync() or
/// close(). The default for persistent stores, and the reference for writing a
/// durability policy: a policy provides writer<IO, Concurrent> with the members below.
template <std::size_t Bytes = std::size_t{4} << 20, unsigned Millis = 1000>
struct buffered {
    static_assert(Bytes > 0, "kvforge: buffered<Bytes, Millis> needs a buffer of at least one byte");
    using policy_kind = kvforge::policy_kind::durability;
    static constexpr std::string_view name = "buffered";
    static constexpr std::size_t buffer_bytes = Bytes;
    static constexpr unsigned flush_millis = Millis;

    /// Every member is called under the store's write lock, except read_pending,
    /// written_end and end, which readers call under the shared lock; so the buffer needs
    /// no lock of its own.
    template <class IO, bool Concurrent>
    class writer {
    public:
        /// Whether put() hands out sequence numbers for wait_durable().
        static constexpr bool sequenced = false;

        /// Writes from now on go to the end of file, which holds end bytes, all durable.
        void attach(detail::data_file<IO>& file, std::uint64_t end) {
            file_ = &file;
            file_end_ = end;
            buffer_.clear();
        }

        /// Takes a whole record; returns where it will sit in the file.
        detail::append_result append(std::string_view record, std::error_code& ec) {
            const std::chrono::nanoseconds now = writer::now();
            if (buffer_.empty()) {
                oldest_ = now;
                if (buffer_.capacity() < Bytes) buffer_.reserve(Bytes);
            }
            const detail::append_result result{file_end_ + buffer_.size(), ++appended_};
            buffer_.append(record);
            if (buffer_.size() >= Bytes || now - oldest_ >= std::chrono::milliseconds(Millis)) flush(ec);
            return result;
        }

        /// Nothing to wait for: a buffered write is acknowledged once it is in the buffer.
        void commit(std::uint64_t, std::error_code&) {}

        /// The end of the data, buffered bytes included.
        [[nodiscard]] std::uint64_t end() const noexcept { return file_end_ + buffer_.size(); }

        /// The end of the records in the file; those from it on are still in the buffer.
        /// In every writer it is where a record starts, read in one piece (async_worker,
        /// whose thread moves it, reads it under its lock), and it only grows until the
        /// next attach: readers rely on that to read ahead of a record, and verify()
        /// checks the file up to it.
        [[nodiscard]] std::uint64_t written_end() const noexcept { return file_end_; }

        /// Copies bytes that are still in the buffer; false when they are in the file.
        bool read_pending(std::uint64_t offset, char* into, std::size_t size) const noexcept {
            if (offset < file_end_) return false;
            std::memcpy(into, buffer_.data() + (offset - file_end_), size);
            return true;
        }

        /// Writes the buffer to the OS.
        void flush(std::error_code& ec) {
            if (buffer_.empty()) return;
            if (!file_->write(file_end_, buffer_, ec)) {
                failure_.record(ec);
                return;
            }
            file_end_ += buffer_.size();
            bytes_written_ += buffer_.size();
            buffer_.clear();
        }

        /// Writes the buffer and syncs the file.
        void sync(std::error_code& ec) {
            flush(ec);
            if (ec) return;
            syncs_ += 1;
            if (!file_->sync(ec)) failure_.record(ec);
        }

        void drain(std::error_code& ec) { sync(ec); }
        void close(std::error_code& ec) {
            sync(ec);
            // Nothing is appended after close: the buffer's memory goes back before the hint is written.
            if (!ec) std::string().swap(buffer_);
        }
        [[nodiscard]] std::uint64_t syncs() const noexcept { return syncs_; }
        /// Bytes written to the file so far (buffered bytes are not, until flushed).
        [[nodiscard]] std::uint64_t bytes_written() const noexcept { return bytes_written_; }
        /// Reports an earlier failure through ec; false when there was none.
        bool failed(std::error_code& ec) const { return failure_.check(ec); }

    private:
        /// The monotonic clock. For bounds of 100 ms and more, at the kernel tick's
        /// resolution (a few milliseconds, a small error at that scale): that read costs a
        /// fraction of a precise one, which matters since every write reads the clock.
        static std::chrono::nanoseconds now() noexcept {
#ifdef CLOCK_MONOTONIC_COARSE
            constexpr clockid_t clock = Millis >= 100 ? CLOCK_MONOTONIC_COARSE : CLOCK_MONOTONIC;
#else
            constexpr clockid_t clock = CLOCK_MONOTONIC;
#endif
            timespec time{};
            ::clock_gettime(clock, &time);
            return std::chrono::seconds(time.tv_sec) + std::chrono::nanoseconds(time.tv_nsec);
        }

        detail::data_file<IO>* file_ = nullptr;
        std::uint64_t file_end_ = 0;
        std::string buffer_;
        std::chrono::nanoseconds oldest_{};
        std::uint64_t appended_ = 0;
        std::uint64_t syncs_ = 0;
        std::uint64_t bytes_written_ = 0;
        detail::sticky_failure failure_;
    };
};

static_assert(durability_policy<buffered<>>);

}  // namespace kvforge
