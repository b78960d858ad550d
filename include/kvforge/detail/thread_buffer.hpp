#pragma once
/// \file thread_buffer.hpp
/// A thread's reusable buffers for reads, which give their memory back after a large read.
///
/// A read that copies a record (pread, or out of the writer's buffer) needs a buffer as
/// large as the record. Keeping one per thread saves an allocation per read; but a buffer
/// that kept its largest size would hold, for the thread's life, the memory of the largest
/// value it ever read, outside every budget (eight threads that read a 32 MiB value once
/// each: 256 MiB held). So a buffer is lent for one read, and one that grew past
/// thread_buffer_keep bytes is freed when it comes back: a thread holds at most
/// thread_buffer_keep bytes per use between reads.

#include <cstddef>
#include <string>

namespace kvforge::detail {

/// What a thread's buffer is for: one buffer per use, as a read may hold two at once (a
/// read cache copies the value out of the record buffer the store's read fills).
enum class thread_buffer_use : unsigned {
    record,      ///< a record a store's read copies (stores/log/log_reads.hpp)
    value_head,  ///< a record's header and key that read_value reads beside the value (record_reader.hpp)
    cache_fill,  ///< a value a read cache keeps a copy of (cache/read_cache.hpp)
};

/// The capacity a thread's buffer may keep between reads; a larger one is freed.
inline constexpr std::size_t thread_buffer_keep = std::size_t{256} << 10;

/// The calling thread's buffer for use.
[[nodiscard]] inline std::string& thread_buffer_of(thread_buffer_use use) noexcept {
    thread_local std::string buffers[3];
    return buffers[static_cast<unsigned>(use)];
}

/// The calling thread's buffer for use, lent for one read: empty when lent, freed when
/// given back if it grew past thread_buffer_keep. One borrower per use at a time.
class borrowed_buffer {
public:
    explicit borrowed_buffer(thread_buffer_use use) noexcept : buffer_(thread_buffer_of(use)) { buffer_.clear(); }
    ~borrowed_buffer() {
        if (buffer_.capacity() > thread_buffer_keep) std::string().swap(buffer_);
    }
    borrowed_buffer(const borrowed_buffer&) = delete;
    borrowed_buffer& operator=(const borrowed_buffer&) = delete;

    [[nodiscard]] std::string& get() noexcept { return buffer_; }

private:
    std::string& buffer_;
};

/// Bytes the calling thread's read buffers hold: at most thread_buffer_keep each between reads.
[[nodiscard]] inline std::size_t thread_buffers_capacity() noexcept {
    return thread_buffer_of(thread_buffer_use::record).capacity() +
           thread_buffer_of(thread_buffer_use::value_head).capacity() +
           thread_buffer_of(thread_buffer_use::cache_fill).capacity();
}

}  // namespace kvforge::detail
