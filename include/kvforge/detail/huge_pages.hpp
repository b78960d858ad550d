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
/// with records as a store loads, take the same memory, not zeroed (make_huge_page_buffer):
/// a huge page is one page fault where 4 KiB pages are 512.

#include <cstddef>
#include <cstring>
#include <memory>
#include <new>
#include <type_traits>

#if defined(__linux__)
#include <sys/mman.h>
#endif

namespace kvforge::detail {

/// Frees what make_huge_page_array() allocated, with the alignment it used.
struct huge_page_array_deleter {
    std::align_val_t alignment{alignof(std::max_align_t)};

    template <class T>
    void operator()(T* p) const noexcept {
        ::operator delete(static_cast<void*>(p), alignment);
    }
};

template <class T>
using huge_page_array = std::unique_ptr<T[], huge_page_array_deleter>;

/// The size of a huge page on the platforms where kvforge asks for them.
inline constexpr std::size_t huge_page_size = std::size_t{2} << 20;

/// bytes bytes of uninitialised memory, on huge pages where they are at least 2 MiB and
/// the system allows it; aligned for any T of alignment up to small_alignment below that.
/// Throws std::bad_alloc.
[[nodiscard]] inline huge_page_array<char> make_huge_page_buffer(std::size_t bytes, std::size_t small_alignment = 1) {
    const std::size_t alignment = bytes >= huge_page_size ? huge_page_size : small_alignment;
    void* memory = ::operator new (bytes, std::align_val_t{alignment});
#if defined(__linux__) && defined(MADV_HUGEPAGE)
    // Advice before the first touch, so that the pages are huge from their first fault.
    // Only whole huge pages are advised; a refusal (no THP in this kernel) changes nothing.
    if (alignment == huge_page_size) ::madvise(memory, bytes - bytes % huge_page_size, MADV_HUGEPAGE);
#endif
    return huge_page_array<char>(static_cast<char*>(memory), huge_page_array_deleter{std::align_val_t{alignment}});
}

/// count zero-filled elements of T (trivially copyable), on huge pages where the array is
/// large enough and the system allows it. Throws std::bad_alloc.
template <class T>
[[nodiscard]] huge_page_array<T> make_huge_page_array(std::size_t count) {
    static_assert(std::is_trivially_copyable_v<T> && std::is_trivially_default_constructible_v<T>);
    if (count > ~std::size_t{0} / sizeof(T)) throw std::bad_alloc();
    const std::size_t bytes = count * sizeof(T);
    huge_page_array<char> memory = make_huge_page_buffer(bytes, alignof(T));
    std::memset(memory.get(), 0, bytes);
    const huge_page_array_deleter deleter = memory.get_deleter();
    return huge_page_array<T>(reinterpret_cast<T*>(memory.release()), deleter);
}

}  // namespace kvforge::detail
