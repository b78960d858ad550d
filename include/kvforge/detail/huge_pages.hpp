#pragma once
/// \file huge_pages.hpp
/// Arrays that ask the kernel to back them with transparent huge pages.
///
/// A hash lookup touches one random line of its table: with 4 KiB pages each of those is
/// also a TLB miss (a table of a million keys spans 4,096 pages, past what the TLB maps),
/// which adds a page walk to every lookup. An array of at least 2 MiB is therefore aligned
/// to 2 MiB and advised MADV_HUGEPAGE, so that where transparent huge pages are enabled
/// ("madvise" or "always"), the kernel maps it with 2 MiB pages. Elsewhere, or when the
/// advice is refused, the array works as any other. The chunks of record_arena.hpp, filled
/// with records as a store loads, take the same memory (make_huge_page_buffer): a huge
/// page is one page fault where 4 KiB pages are 512.
///
/// On Linux such memory is a private anonymous mapping of its own: its pages read as zero
/// without being written, so a page takes memory only once it is first written, and
/// release_pages() gives the memory of a part already read back before the whole array is
/// freed. A table that grows moves its slots from the old array to the new one in order,
/// so with both it holds about one array's worth of memory while it grows, not two.

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <new>
#include <type_traits>
#include <utility>

#if defined(__linux__)
#include <sys/mman.h>
#include <unistd.h>
#endif

namespace kvforge::detail {

/// Frees what make_huge_page_buffer() allocated: a mapping of mapped_bytes, or (when that
/// is 0) memory from operator new with the alignment it used.
struct huge_page_array_deleter {
    std::size_t mapped_bytes = 0;
    std::align_val_t alignment{alignof(std::max_align_t)};

    template <class T>
    void operator()(T* p) const noexcept {
#if defined(__linux__)
        if (mapped_bytes != 0) {
            ::munmap(static_cast<void*>(p), mapped_bytes);
            return;
        }
#endif
        ::operator delete(static_cast<void*>(p), alignment);
    }
};

/// Owns an array that make_huge_page_buffer() or make_huge_page_array() allocated, as
/// std::unique_ptr<T[], huge_page_array_deleter> would (the same member names), in a class
/// of a few members: a unique_ptr with a deleter of its own instantiates a tuple and a
/// dozen helpers for each element type in every file that compiles a store.
template <class T>
class huge_page_array {
public:
    huge_page_array() noexcept = default;
    huge_page_array(T* array, huge_page_array_deleter deleter) noexcept : array_(array), deleter_(deleter) {}
    huge_page_array(huge_page_array&& other) noexcept
        : array_(std::exchange(other.array_, nullptr)), deleter_(other.deleter_) {}
    huge_page_array& operator=(huge_page_array&& other) noexcept {
        if (this != &other) {
            reset();
            array_ = std::exchange(other.array_, nullptr);
            deleter_ = other.deleter_;
        }
        return *this;
    }
    huge_page_array(const huge_page_array&) = delete;
    huge_page_array& operator=(const huge_page_array&) = delete;
    ~huge_page_array() { reset(); }

    [[nodiscard]] T* get() const noexcept { return array_; }
    [[nodiscard]] T& operator[](std::size_t i) const noexcept { return array_[i]; }
    explicit operator bool() const noexcept { return array_ != nullptr; }
    [[nodiscard]] const huge_page_array_deleter& get_deleter() const noexcept { return deleter_; }

    /// Gives up the array without freeing it.
    [[nodiscard]] T* release() noexcept { return std::exchange(array_, nullptr); }

    /// Frees the array, leaving none.
    void reset() noexcept {
        if (array_ != nullptr) deleter_(std::exchange(array_, nullptr));
    }

private:
    T* array_ = nullptr;
    huge_page_array_deleter deleter_;
};

/// The size of a huge page on the platforms where kvforge asks for them.
inline constexpr std::size_t huge_page_size = std::size_t{2} << 20;

#if defined(__linux__)
/// A private anonymous mapping of bytes (a multiple of the page size) aligned to a huge
/// page, or nullptr. Its pages read as zero until written.
[[nodiscard]] inline void* map_huge_page_aligned(std::size_t bytes) noexcept {
    // Map a huge page more than needed, then unmap what lies outside the aligned part.
    const std::size_t reserved = bytes + huge_page_size;
    void* mapping = ::mmap(nullptr, reserved, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (mapping == MAP_FAILED) return nullptr;
    const auto start = reinterpret_cast<std::uintptr_t>(mapping);
    const std::uintptr_t aligned = (start + huge_page_size - 1) & ~(std::uintptr_t{huge_page_size} - 1);
    if (aligned != start) ::munmap(mapping, aligned - start);
    const std::uintptr_t tail = aligned + bytes;
    if (tail != start + reserved) ::munmap(reinterpret_cast<void*>(tail), start + reserved - tail);
    return reinterpret_cast<void*>(aligned);
}

/// The system's page size.
[[nodiscard]] inline std::size_t system_page_size() noexcept {
    static const std::size_t size = static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
    return size;
}
#endif

/// bytes bytes of memory, on huge pages where they are at least 2 MiB and the system
/// allows it; aligned for any T of alignment up to small_alignment below that. The
/// memory is zero when the deleter's mapped_bytes is not 0, else uninitialised. Throws
/// std::bad_alloc.
[[nodiscard]] inline huge_page_array<char> make_huge_page_buffer(std::size_t bytes, std::size_t small_alignment = 1) {
    if (bytes > ~std::size_t{0} - 2 * huge_page_size) throw std::bad_alloc();
#if defined(__linux__)
    if (bytes >= huge_page_size) {
        const std::size_t page = system_page_size();
        const std::size_t mapped = (bytes + page - 1) / page * page;
        void* memory = map_huge_page_aligned(mapped);
        if (memory == nullptr) throw std::bad_alloc();
#if defined(MADV_HUGEPAGE)
        // Advice before the first touch, so that the pages are huge from their first fault.
        // Only whole huge pages are advised; a refusal (no THP in this kernel) changes nothing.
        ::madvise(memory, bytes - bytes % huge_page_size, MADV_HUGEPAGE);
#endif
        return huge_page_array<char>(static_cast<char*>(memory),
                                     huge_page_array_deleter{mapped, std::align_val_t{huge_page_size}});
    }
#endif
    const std::size_t alignment = bytes >= huge_page_size ? huge_page_size : small_alignment;
    void* memory = ::operator new (bytes, std::align_val_t{alignment});
    return huge_page_array<char>(static_cast<char*>(memory), huge_page_array_deleter{0, std::align_val_t{alignment}});
}

/// count zero-filled elements of T (trivially copyable), on huge pages where the array is
/// large enough and the system allows it. Throws std::bad_alloc.
template <class T>
[[nodiscard]] huge_page_array<T> make_huge_page_array(std::size_t count) {
    static_assert(std::is_trivially_copyable_v<T> && std::is_trivially_default_constructible_v<T>);
    if (count > ~std::size_t{0} / sizeof(T)) throw std::bad_alloc();
    const std::size_t bytes = count * sizeof(T);
    huge_page_array<char> memory = make_huge_page_buffer(bytes, alignof(T));
    const huge_page_array_deleter deleter = memory.get_deleter();
    if (deleter.mapped_bytes == 0) std::memset(memory.get(), 0, bytes);  // a mapping reads as zero already
    return huge_page_array<T>(reinterpret_cast<T*>(memory.release()), deleter);
}

/// A growable array of trivially copyable T on huge pages where it is large enough
/// (make_huge_page_array): for an array of millions of elements filled once front to
/// back, such as the entries an open gathers, which in 4 KiB pages would take a page
/// fault every 4 KiB. reserve() first, when the size is known: growing copies the array.
template <class T>
class huge_page_vector {
public:
    [[nodiscard]] T* data() noexcept { return data_.get(); }
    [[nodiscard]] const T* data() const noexcept { return data_.get(); }
    [[nodiscard]] T* begin() noexcept { return data_.get(); }
    [[nodiscard]] T* end() noexcept { return data_.get() + size_; }
    [[nodiscard]] T& operator[](std::size_t i) noexcept { return data_[i]; }
    [[nodiscard]] const T& operator[](std::size_t i) const noexcept { return data_[i]; }
    [[nodiscard]] std::size_t size() const noexcept { return size_; }
    [[nodiscard]] std::size_t capacity() const noexcept { return capacity_; }
    [[nodiscard]] bool empty() const noexcept { return size_ == 0; }

    /// Room for n elements without growing.
    void reserve(std::size_t n) {
        if (n > capacity_) reallocate(n);
    }

    void push_back(const T& value) {
        if (size_ == capacity_) grow(1);
        data_[size_++] = value;
    }

    /// Appends the n elements at values.
    void append(const T* values, std::size_t n) {
        if (n > capacity_ - size_) grow(n);
        if (n != 0) std::memcpy(data_.get() + size_, values, n * sizeof(T));
        size_ += n;
    }

    /// Drops the elements, keeping the memory.
    void clear() noexcept { size_ = 0; }

    /// Drops the elements and frees the memory.
    void release() noexcept {
        data_.reset();
        size_ = 0;
        capacity_ = 0;
    }

private:
    void grow(std::size_t more) { reallocate(std::max({2 * capacity_, size_ + more, std::size_t{64}})); }

    void reallocate(std::size_t n) {
        huge_page_array<T> fresh = make_huge_page_array<T>(n);
        if (size_ != 0) std::memcpy(fresh.get(), data_.get(), size_ * sizeof(T));
        data_ = std::move(fresh);
        capacity_ = n;
    }

    huge_page_array<T> data_;
    std::size_t size_ = 0;
    std::size_t capacity_ = 0;
};

/// Gives back to the system the memory of the whole pages among elements [first, last) of
/// array, which the caller will not read again: where the array is a mapping of its own,
/// they read as zero afterwards; elsewhere nothing changes.
template <class T>
void release_pages(const huge_page_array<T>& array, std::size_t first, std::size_t last) noexcept {
#if defined(__linux__)
    if (array.get_deleter().mapped_bytes == 0 || first >= last) return;
    const std::size_t page = system_page_size();
    const auto base = reinterpret_cast<std::uintptr_t>(array.get());
    const std::uintptr_t from = (base + first * sizeof(T) + page - 1) / page * page;
    const std::uintptr_t to = (base + last * sizeof(T)) / page * page;
    if (from < to) ::madvise(reinterpret_cast<void*>(from), to - from, MADV_DONTNEED);
#else
    (void)array;
    (void)first;
    (void)last;
#endif
}

}  // namespace kvforge::detail
